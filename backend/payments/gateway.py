"""The payments boundary: one interface, WeChat Pay v2 or v3 behind it.

`get_gateway()` is the current app's, chosen by `WECHAT_PAY_VERSION` at start-up. The
donation, refund, reconciliation and worker code speaks only this interface; failures come
as wechatpy's `WeChatPayException` from both (v3's codes under v2's names: ORDERPAID,
ORDERCLOSED, REFUNDNOTEXIST …), so they have one error path. Notifications differ on the
wire (XML and MD5 or req_info; JSON, RSA and AES-GCM) and are parsed by each version's own
endpoint into the same `PaymentNotice` / `RefundState`, then follow one code path.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Protocol

from flask import Flask, current_app

from backend.config import Settings
from backend.payments import refunds as v2_refunds
from backend.payments import wechat_pay as v2
from backend.payments.refunds import RefundState
from backend.payments.wechat_pay import PaymentNotice


class PaymentGateway(Protocol):
    """What the app asks of WeChat Pay, whichever version speaks it."""

    #: "v2" or "v3"
    version: str
    #: where WeChat sends this version's payment and refund notifications (under the base URL)
    payment_notify_path: str
    refund_notify_path: str

    def create_jsapi_order(self, *, out_trade_no: str, description: str, total_fen: int,
                           openid: str, client_ip: str, attach: str, time_start: datetime,
                           time_expire: datetime, notify_url: str) -> str:  # fmt: skip
        """Place a JSAPI order; its prepay_id."""
        ...

    def payment_parameters(self, prepay_id: str) -> dict[str, str]:
        """The signed parameters `wx.requestPayment` takes as they are."""
        ...

    def query_order(self, out_trade_no: str) -> tuple[str, PaymentNotice | None]:
        """WeChat's trade_state of an order, and its PaymentNotice when paid."""
        ...

    def close_order(self, out_trade_no: str) -> None:
        """Close an unpaid order (ORDERPAID / ORDERCLOSED raised as WeChat says)."""
        ...

    def apply_refund(self, *, out_trade_no: str, out_refund_no: str, total_fee: int,
                     refund_fee: int, reason: str, notify_url: str) -> dict[str, Any]:  # fmt: skip
        """Ask for a refund; WeChat's answer (its `refund_id` read by the caller)."""
        ...

    def query_refund(self, out_refund_no: str) -> RefundState | None:
        """A refund's state, or None when WeChat knows no such refund."""
        ...

    def download_bill(self, day: date) -> str | None:
        """The Beijing day's trade bill as CSV text, None when WeChat has none."""
        ...


class V2Gateway:
    """WeChat Pay v2 through wechatpy: the existing functions, unchanged."""

    version = "v2"
    payment_notify_path = "/api/v1/payments/wechat/notify"
    refund_notify_path = "/api/v1/payments/wechat/refund-notify"

    def create_jsapi_order(self, *, out_trade_no: str, description: str, total_fen: int,
                           openid: str, client_ip: str, attach: str, time_start: datetime,
                           time_expire: datetime, notify_url: str) -> str:  # fmt: skip
        """统一下单 (trade_type JSAPI): the prepay_id."""
        result = v2.get_pay().order.create(
            trade_type="JSAPI",
            body=description,
            total_fee=total_fen,
            notify_url=notify_url,
            client_ip=client_ip,
            user_id=openid,
            out_trade_no=out_trade_no,
            attach=attach,
            time_start=v2.wechat_time(time_start),
            time_expire=v2.wechat_time(time_expire),
        )
        return result["prepay_id"]

    def payment_parameters(self, prepay_id: str) -> dict[str, str]:
        """wechatpy's JSAPI parameters (signType MD5)."""
        params = v2.get_pay().jsapi.get_jsapi_params(prepay_id)
        return {k: str(v) for k, v in params.items()}

    def query_order(self, out_trade_no: str) -> tuple[str, PaymentNotice | None]:
        """orderquery (signature checked)."""
        result = v2.query_order(out_trade_no)
        return result.get("trade_state") or "", v2.notice_from_orderquery(result)

    def close_order(self, out_trade_no: str) -> None:
        """closeorder."""
        v2.close_order(out_trade_no)

    def apply_refund(self, *, out_trade_no: str, out_refund_no: str, total_fee: int,
                     refund_fee: int, reason: str, notify_url: str) -> dict[str, Any]:  # fmt: skip
        """secapi/pay/refund."""
        return v2_refunds.apply_refund(
            out_trade_no=out_trade_no, out_refund_no=out_refund_no, total_fee=total_fee,
            refund_fee=refund_fee, reason=reason, notify_url=notify_url,
        )  # fmt: skip

    def query_refund(self, out_refund_no: str) -> RefundState | None:
        """pay/refundquery."""
        return v2_refunds.query_refund(out_refund_no)

    def download_bill(self, day: date) -> str | None:
        """downloadbill (ALL)."""
        return v2.download_bill(day)


def make_gateway(settings: Settings) -> PaymentGateway:
    """The gateway `WECHAT_PAY_VERSION` names (v3's key files loaded now)."""
    if settings.wechat_pay_version == "v3":
        from backend.payments.v3 import V3Gateway

        return V3Gateway(settings)
    return V2Gateway()


def init_gateway(app: Flask) -> None:
    """Bind the payments gateway to the app (after `init_payments`: v2 uses its client)."""
    app.extensions["payment_gateway"] = make_gateway(app.config["SETTINGS"])


def get_gateway() -> PaymentGateway:
    """The current app's payments gateway."""
    return current_app.extensions["payment_gateway"]
