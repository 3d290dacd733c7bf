"""v3 JSAPI orders: place (`/v3/pay/transactions/jsapi`), query by out_trade_no or
transaction_id, close. Orders live in the same state as v2's (marked API_V3), so
`/sandbox/pay`, the clock and bills treat both alike.

Choices where WeChat's documents leave room:
- The same out_trade_no with the same fields returns the same prepay_id; with other
  fields 403 OUT_TRADE_NO_USED "商户订单号重复"; a paid order 403 ORDERPAID, a closed or
  expired one 400 ORDER_CLOSED.
- An unknown order: 404 ORDER_NOT_EXIST "订单不存在".
- Close has no five-minute rule in v3 (WeChat only advises waiting); closing a closed
  order again answers 204, a paid one 400 ORDERPAID.
- time_expire is RFC 3339 with an offset; less than five minutes ahead is 400 PARAM_ERROR.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, request

from backend.wechat_sandbox import ids
from backend.wechat_sandbox.runtime import Sandbox
from backend.wechat_sandbox.state import API_V3, CLOSED, SUCCESS, Order
from backend.wechat_sandbox.v3.notify import transaction_fields
from backend.wechat_sandbox.v3.proto import (
    V3Error,
    V3Request,
    check_mchid,
    currency_field,
    fen_field,
    object_field,
    param_error,
    text_field,
    v3_endpoint,
)

bp = Blueprint("sandbox_v3_transactions", __name__, url_prefix="/v3/pay/transactions")

MIN_EXPIRY = timedelta(minutes=5)
DEFAULT_EXPIRY = timedelta(hours=2)
MERCHANT_NO_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-|*")


def order_not_exist() -> V3Error:
    """404 ORDER_NOT_EXIST."""
    return V3Error(404, "ORDER_NOT_EXIST", "订单不存在")


def merchant_no(value: str, name: str, low: int, high: int) -> str:
    """An out_trade_no or out_refund_no: `low`..`high` of [0-9A-Za-z_-|*]."""
    if not low <= len(value) <= high or not set(value) <= MERCHANT_NO_CHARS:
        raise param_error(f"{name}参数格式错误")
    return value


def notify_url_field(data: dict[str, Any], required: bool = True) -> str:
    """An https or http notify URL without a query string."""
    value = text_field(data, "notify_url", 256, required)
    if value and (not value.startswith(("http://", "https://")) or "?" in value):
        raise param_error("notify_url参数格式错误")
    return value


def _expiry(data: dict[str, Any], now: datetime) -> datetime:
    """time_expire (RFC 3339) or the default two hours."""
    text = text_field(data, "time_expire", 64, required=False)
    if not text:
        return now + DEFAULT_EXPIRY
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise param_error("time_expire参数格式错误") from exc
    if moment.tzinfo is None:
        raise param_error("time_expire参数格式错误")
    if moment < now + MIN_EXPIRY:
        raise param_error("time_expire时间过短，至少5分钟")
    return moment


def _jsapi_fields(sandbox: Sandbox, req: V3Request) -> tuple[tuple[str, str], ...]:
    """Check the order request; its fingerprint (the fields a repeat must match)."""
    data = req.data
    appid = text_field(data, "appid", 32)
    check_mchid(req, data.get("mchid"))
    if appid != sandbox.config.appid:
        raise V3Error(403, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
    description = text_field(data, "description", 127)
    out_trade_no = merchant_no(text_field(data, "out_trade_no", 32), "out_trade_no", 6, 32)
    attach = text_field(data, "attach", 128, required=False)
    notify_url = notify_url_field(data)
    amount = object_field(data, "amount")
    total = fen_field(amount, "total", "amount.total")
    currency_field(amount, "amount.currency")
    payer = object_field(data, "payer")
    openid = text_field(payer, "openid", 128)
    return (
        ("appid", appid),
        ("description", description),
        ("out_trade_no", out_trade_no),
        ("attach", attach),
        ("notify_url", notify_url),
        ("total", str(total)),
        ("openid", openid),
        ("time_expire", str(data.get("time_expire") or "")),
    )


@bp.post("/jsapi")
@v3_endpoint
def jsapi(sandbox: Sandbox, req: V3Request) -> tuple[int, dict[str, Any]]:
    """JSAPI下单: a prepay_id, the same one again for the same request."""
    fingerprint = _jsapi_fields(sandbox, req)
    fields = dict(fingerprint)
    now = sandbox.clock.now()
    with sandbox.state.lock:
        existing = sandbox.state.orders.get(fields["out_trade_no"])
        if existing is not None:
            if existing.status == SUCCESS:
                raise V3Error(403, "ORDERPAID", "该订单已支付")
            if existing.status == CLOSED or now >= existing.expires_at:
                raise V3Error(400, "ORDER_CLOSED", "订单已关闭")
            if existing.api != API_V3 or existing.fingerprint != fingerprint:
                raise V3Error(403, "OUT_TRADE_NO_USED", "商户订单号重复")
            return 200, {"prepay_id": existing.prepay_id}
        order = Order(
            out_trade_no=fields["out_trade_no"],
            appid=fields["appid"],
            mch_id=req.mchid,
            body=fields["description"],
            total_fee=int(fields["total"]),
            fee_type="CNY",
            trade_type="JSAPI",
            openid=fields["openid"],
            notify_url=fields["notify_url"],
            attach=fields["attach"],
            device_info="",
            sign_type="RSA",
            prepay_id=ids.prepay_id(now),
            created_at=now,
            expires_at=_expiry(req.data, now),
            fingerprint=fingerprint,
            api=API_V3,
        )
        sandbox.state.orders[order.out_trade_no] = order
    return 200, {"prepay_id": order.prepay_id}


def _query_mchid(req: V3Request) -> None:
    """The mchid query parameter every query needs."""
    check_mchid(req, request.args.get("mchid"))


@bp.get("/out-trade-no/<out_trade_no>")
@v3_endpoint
def query_by_out_trade_no(
    sandbox: Sandbox, req: V3Request, out_trade_no: str
) -> tuple[int, dict[str, Any]]:
    """商户订单号查询订单."""
    _query_mchid(req)
    with sandbox.state.lock:
        order = sandbox.state.orders.get(out_trade_no)
        if order is None:
            raise order_not_exist()
        return 200, transaction_fields(order)


@bp.get("/id/<transaction_id>")
@v3_endpoint
def query_by_transaction_id(
    sandbox: Sandbox, req: V3Request, transaction_id: str
) -> tuple[int, dict[str, Any]]:
    """微信支付订单号查询订单."""
    _query_mchid(req)
    with sandbox.state.lock:
        order = sandbox.state.order_by_transaction_id(transaction_id)
        if order is None:
            raise order_not_exist()
        return 200, transaction_fields(order)


@bp.post("/out-trade-no/<out_trade_no>/close")
@v3_endpoint
def close(sandbox: Sandbox, req: V3Request, out_trade_no: str) -> tuple[int, None]:
    """关闭订单: 204, also for an order closed already."""
    check_mchid(req, req.data.get("mchid"))
    now = sandbox.clock.now()
    with sandbox.state.lock:
        order = sandbox.state.orders.get(out_trade_no)
        if order is None:
            raise order_not_exist()
        if order.status == SUCCESS:
            raise V3Error(400, "ORDERPAID", "订单已支付")
        if order.status != CLOSED:
            order.status = CLOSED
            order.closed_at = now
    return 204, None
