"""The sandbox's memory: tokens, codes, orders, refunds, messages. One lock guards it."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Order states kept here; REFUND is derived from refunds (see Order.trade_state).
NOTPAY = "NOTPAY"
SUCCESS = "SUCCESS"
CLOSED = "CLOSED"
REFUND = "REFUND"

# The API an order was placed through: its notices follow that API's format.
API_V2 = "v2"
API_V3 = "v3"

TRADE_STATE_DESC = {
    SUCCESS: "支付成功",
    REFUND: "转入退款",
    NOTPAY: "订单未支付",
    CLOSED: "已关闭",
}


@dataclass
class Token:
    """An access token and when it stops working."""

    value: str
    kind: str  # "token" (cgi-bin/token) or "stable" (cgi-bin/stable_token)
    expires_at: datetime
    #: When a newer token of the same kind replaces it (five minutes after that one's issue).
    superseded_at: datetime | None = None

    def problem(self, now: datetime) -> str | None:
        """None while usable; "expired" (42001) or "superseded" (40001) once not."""
        superseded = self.superseded_at
        if now >= self.expires_at and (superseded is None or self.expires_at <= superseded):
            return "expired"
        if superseded is not None and now >= superseded:
            return "superseded"
        return None


@dataclass
class Refund:
    """One refund of an order."""

    out_refund_no: str
    refund_id: str
    out_trade_no: str
    refund_fee: int
    total_fee: int
    refund_account: str
    notify_url: str
    refund_desc: str
    requested_at: datetime
    status: str = "PROCESSING"  # then SUCCESS
    success_at: datetime | None = None


@dataclass
class Order:
    """One unifiedorder order."""

    out_trade_no: str
    appid: str
    mch_id: str
    body: str
    total_fee: int
    fee_type: str
    trade_type: str
    openid: str
    notify_url: str
    attach: str
    device_info: str
    sign_type: str
    prepay_id: str
    created_at: datetime
    expires_at: datetime
    #: The request fields that must match when the same out_trade_no is ordered again.
    fingerprint: tuple[tuple[str, str], ...]
    status: str = NOTPAY  # NOTPAY, SUCCESS or CLOSED
    transaction_id: str = ""
    paid_at: datetime | None = None
    bank_type: str = "OTHERS"
    closed_at: datetime | None = None
    refunds: list[Refund] = field(default_factory=list)
    api: str = API_V2  # API_V2 (unifiedorder) or API_V3 (/v3/pay/transactions/jsapi)

    @property
    def trade_state(self) -> str:
        """WeChat's trade_state: a paid order with refunds reads REFUND."""
        if self.status == SUCCESS and self.refunds:
            return REFUND
        return self.status

    def refunded_fee(self) -> int:
        """Sum of all refunds asked so far."""
        return sum(refund.refund_fee for refund in self.refunds)


@dataclass
class SandboxState:
    """Everything the sandbox remembers; hold `lock` while reading or changing it."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    tokens: dict[str, Token] = field(default_factory=dict)
    used_codes: set[str] = field(default_factory=set)
    users: dict[str, str] = field(default_factory=dict)  # openid -> NAME
    orders: dict[str, Order] = field(default_factory=dict)
    refunds: dict[str, Refund] = field(default_factory=dict)  # out_refund_no -> refund
    messages: list[dict[str, Any]] = field(default_factory=list)
    refusing_openids: set[str] = field(default_factory=set)
    media_checks: list[dict[str, Any]] = field(default_factory=list)
    #: every getwxacodeunlimit request: scene, page, width, env_version, check_path, errcode
    wxa_codes: list[dict[str, Any]] = field(default_factory=list)
    #: v3 bill files by download token
    bills: dict[str, bytes] = field(default_factory=dict)
    #: out_refund_no -> how a v3 refund ends instead of SUCCESS (ABNORMAL or CLOSED)
    refund_outcomes: dict[str, str] = field(default_factory=dict)

    def clear(self) -> None:
        """Forget everything (the lock stays)."""
        with self.lock:
            self.tokens.clear()
            self.used_codes.clear()
            self.users.clear()
            self.orders.clear()
            self.refunds.clear()
            self.messages.clear()
            self.refusing_openids.clear()
            self.media_checks.clear()
            self.wxa_codes.clear()
            self.bills.clear()
            self.refund_outcomes.clear()

    def order_by_transaction_id(self, transaction_id: str) -> Order | None:
        """The order paid under `transaction_id`."""
        for order in self.orders.values():
            if order.transaction_id and order.transaction_id == transaction_id:
                return order
        return None
