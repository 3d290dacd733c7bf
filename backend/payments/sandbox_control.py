"""The WeChat sandbox's payer, asked to pay an order: development only.

In the mini-program's develop environment `wx.requestPayment` cannot pay an order the
sandbox issued, so the backend plays the payer through the sandbox's control call
`POST <sandbox>/sandbox/pay {out_trade_no}`; the sandbox then delivers the signed payment
notification to the order's notify URL on its own schedule, as WeChat Pay would.
"""

from __future__ import annotations

import logging

import requests
from flask import current_app

from backend.common.errors import DomainError, Kind, conflict
from backend.config import Settings

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10


def sandbox_pay_url(settings: Settings) -> str:
    """Where the sandbox's payer listens: the configured WeChat Pay base (the sandbox)."""
    return f"{settings.wechat_pay_api_base}sandbox/pay"


def ask_sandbox_to_pay(out_trade_no: str) -> None:
    """Have the sandbox pay `out_trade_no`; raise DomainError when it will not or cannot."""
    settings: Settings = current_app.config["SETTINGS"]
    if settings.production or not settings.uses_sandbox:
        raise DomainError(Kind.NOT_FOUND, "not_found", "请求的资源不存在")
    try:
        response = requests.post(
            sandbox_pay_url(settings), json={"out_trade_no": out_trade_no}, timeout=TIMEOUT_SECONDS
        )
    except requests.RequestException as exc:
        log.warning("sandbox pay %s: the sandbox did not answer: %s", out_trade_no, exc)
        raise sandbox_unavailable() from None
    if response.status_code == 200:
        log.info("sandbox pay %s: paid at the sandbox, notification on its way", out_trade_no)
        return
    reason = _reason(response)
    log.warning("sandbox pay %s refused: %s %s", out_trade_no, response.status_code, reason)
    if reason.startswith("ORDERPAID"):
        raise conflict("sandbox_order_paid", "沙箱已支付该订单，支付通知正在送达")
    if reason.startswith("ORDERCLOSED"):
        raise conflict("sandbox_order_closed", "该订单已关闭，请重新下单")
    if reason.startswith("ORDER_EXPIRED"):
        raise conflict("sandbox_order_expired", "该订单已过期，请重新下单")
    if reason.startswith("ORDERNOTEXIST"):
        raise conflict("sandbox_order_unknown", "沙箱中没有这笔订单（沙箱可能已重启），请重新下单")
    raise sandbox_unavailable()


def _reason(response: requests.Response) -> str:
    """The sandbox's `{"error": ...}`, or an empty text."""
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, str) else ""


def sandbox_unavailable() -> DomainError:
    """The sandbox is down or answered something unexpected."""
    return DomainError(Kind.UPSTREAM, "sandbox_unavailable", "微信沙箱暂时不可用，请稍后再试")
