"""WeChat Pay v2 order endpoints: unifiedorder, orderquery, closeorder, downloadbill.

Error codes picked where WeChat's documents leave a choice:
- closeorder within five minutes of the order: result_code FAIL, err_code SYSTEMERROR
  (WeChat documents the rule, "订单生成后不能马上调用关单接口，最短调用时间间隔为5分钟",
  but no code for it; SYSTEMERROR tells the merchant to call again later, which is right).
- unifiedorder again with an out_trade_no whose fields differ: INVALID_REQUEST
  "201 商户订单号重复"; the same fields again return the same prepay_id; a paid order
  ORDERPAID, a closed or expired one ORDERCLOSED.
- An unpaid order past time_expire cannot be paid and still reads NOTPAY (WeChat does not
  close it by itself; closeorder does).
- downloadbill: return_code FAIL with return_msg "No Bill Exist" (error_code 20002) for a
  day without transactions, "invalid bill_date" (error_code 20001) for a malformed or
  future date, as WeChat answers.
"""

from __future__ import annotations

import gzip
import ipaddress
from datetime import date, datetime, timedelta

from flask import Blueprint, Response

from backend.wechat_sandbox import bill, ids
from backend.wechat_sandbox.clock import parse_wechat_time, wechat_time
from backend.wechat_sandbox.payproto import (
    PayBizError,
    PayRequest,
    checked_notify_url,
    fail_response,
    find_order,
    merchant_no,
    pay_endpoint,
    positive_fen,
    require,
)
from backend.wechat_sandbox.runtime import Sandbox
from backend.wechat_sandbox.state import (
    CLOSED,
    SUCCESS,
    TRADE_STATE_DESC,
    Order,
)

bp = Blueprint("sandbox_pay", __name__)

TRADE_TYPES = ("JSAPI", "NATIVE", "APP", "MWEB")
CLOSE_MIN_AGE = timedelta(minutes=5)
MIN_EXPIRY = timedelta(minutes=5)
DEFAULT_EXPIRY = timedelta(hours=2)
# Fields that must be equal when an out_trade_no is ordered again.
FINGERPRINT_FIELDS = (
    "body",
    "detail",
    "attach",
    "total_fee",
    "fee_type",
    "trade_type",
    "openid",
    "notify_url",
    "product_id",
    "goods_tag",
    "limit_pay",
    "device_info",
)


def _invalid(des: str) -> PayBizError:
    """INVALID_REQUEST with a reason."""
    return PayBizError("INVALID_REQUEST", des)


def _time_field(req: PayRequest, name: str) -> datetime | None:
    """An optional yyyyMMddHHmmss field."""
    if not req.get(name):
        return None
    try:
        return parse_wechat_time(req.get(name))
    except ValueError as exc:
        raise _invalid(f"{name}参数格式错误") from exc


def _check_order_fields(req: PayRequest) -> None:
    """unifiedorder's field rules (lengths, formats, per-trade-type requirements)."""
    require(
        req, "body", "out_trade_no", "total_fee", "spbill_create_ip", "notify_url", "trade_type"
    )
    if len(req.get("body").encode("utf-8")) > 128:
        raise _invalid("body参数长度有误")
    if len(req.get("attach").encode("utf-8")) > 127:
        raise _invalid("attach参数长度有误")
    merchant_no(req, "out_trade_no", 32)
    positive_fen(req, "total_fee")
    if (req.get("fee_type") or "CNY") != "CNY":
        raise _invalid("fee_type参数格式错误")
    trade_type = req.get("trade_type")
    if trade_type not in TRADE_TYPES:
        raise _invalid("trade_type参数格式错误")
    if trade_type == "JSAPI" and not req.get("openid"):
        raise PayBizError("LACK_PARAMS", "JSAPI支付必须传openid")
    if trade_type == "NATIVE" and not req.get("product_id"):
        raise PayBizError("LACK_PARAMS", "NATIVE支付必须传product_id")
    checked_notify_url(req.get("notify_url"))
    try:
        ipaddress.ip_address(req.get("spbill_create_ip"))
    except ValueError as exc:
        raise _invalid("spbill_create_ip参数格式错误") from exc


def _new_order(sandbox: Sandbox, req: PayRequest, now: datetime) -> Order:
    """Build the order a checked unifiedorder request describes."""
    _time_field(req, "time_start")
    expires = _time_field(req, "time_expire")
    if expires is not None and expires < now + MIN_EXPIRY:
        raise _invalid("time_expire时间过短，刷卡至少1分钟，其他5分钟")
    return Order(
        out_trade_no=req.get("out_trade_no"),
        appid=req.get("appid"),
        mch_id=req.get("mch_id"),
        body=req.get("body"),
        total_fee=int(req.get("total_fee")),
        fee_type=req.get("fee_type") or "CNY",
        trade_type=req.get("trade_type"),
        openid=req.get("openid"),
        notify_url=req.get("notify_url"),
        attach=req.get("attach"),
        device_info=req.get("device_info"),
        sign_type=req.sign_type,
        prepay_id=ids.prepay_id(now),
        created_at=now,
        expires_at=expires or now + DEFAULT_EXPIRY,
        fingerprint=tuple((name, req.get(name)) for name in FINGERPRINT_FIELDS),
    )


def _order_reply(order: Order) -> dict[str, object]:
    """unifiedorder's result fields."""
    reply: dict[str, object] = {
        "device_info": order.device_info,
        "trade_type": order.trade_type,
        "prepay_id": order.prepay_id,
    }
    if order.trade_type == "NATIVE":
        reply["code_url"] = "weixin://wxpay/bizpayurl?pr=" + order.prepay_id[-10:]
    if order.trade_type == "MWEB":
        reply["mweb_url"] = (
            "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=" + order.prepay_id
        )
    return reply


@bp.post("/pay/unifiedorder")
@pay_endpoint
def unified_order(sandbox: Sandbox, req: PayRequest) -> dict[str, object]:
    """统一下单: create an order, or return the same prepay_id for the same request."""
    _check_order_fields(req)
    now = sandbox.clock.now()
    with sandbox.state.lock:
        existing = sandbox.state.orders.get(req.get("out_trade_no"))
        if existing is not None:
            if existing.status == SUCCESS:
                raise PayBizError("ORDERPAID", "该订单已支付")
            if existing.status == CLOSED:
                raise PayBizError("ORDERCLOSED", "该订单已关闭")
            if existing.fingerprint != tuple((name, req.get(name)) for name in FINGERPRINT_FIELDS):
                raise _invalid("201 商户订单号重复")
            if now >= existing.expires_at:
                raise PayBizError("ORDERCLOSED", "订单已过期")
            return _order_reply(existing)
        order = _new_order(sandbox, req, now)
        sandbox.state.orders[order.out_trade_no] = order
    return _order_reply(order)


def order_fields(order: Order) -> dict[str, object]:
    """orderquery's result fields for an order."""
    state = order.trade_state
    paid = order.paid_at is not None
    return {
        "device_info": order.device_info,
        "openid": order.openid,
        "is_subscribe": "N",
        "trade_type": order.trade_type,
        "trade_state": state,
        "bank_type": order.bank_type if paid else None,
        "total_fee": order.total_fee,
        "fee_type": order.fee_type,
        "cash_fee": order.total_fee if paid else None,
        "cash_fee_type": order.fee_type if paid else None,
        "transaction_id": order.transaction_id or None,
        "out_trade_no": order.out_trade_no,
        "attach": order.attach,
        "time_end": wechat_time(order.paid_at) if order.paid_at else None,
        "trade_state_desc": TRADE_STATE_DESC[state],
    }


@bp.post("/pay/orderquery")
@pay_endpoint
def order_query(sandbox: Sandbox, req: PayRequest) -> dict[str, object]:
    """查询订单."""
    order = find_order(sandbox, req)
    with sandbox.state.lock:
        return order_fields(order)


@bp.post("/pay/closeorder")
@pay_endpoint
def close_order(sandbox: Sandbox, req: PayRequest) -> dict[str, object]:
    """关闭订单: refused within five minutes of the order (see the module docstring)."""
    require(req, "out_trade_no")
    now = sandbox.clock.now()
    with sandbox.state.lock:
        order = sandbox.state.orders.get(req.get("out_trade_no"))
        if order is None:
            raise PayBizError("ORDERNOTEXIST", "订单不存在")
        if order.status == SUCCESS:
            raise PayBizError("ORDERPAID", "订单已支付，不能发起关单")
        if order.status == CLOSED:
            raise PayBizError("ORDERCLOSED", "订单已关闭，无法重复关闭")
        if now - order.created_at < CLOSE_MIN_AGE:
            raise PayBizError(
                "SYSTEMERROR", "订单生成后不能马上调用关单接口，最短调用时间间隔为5分钟"
            )
        order.status = CLOSED
        order.closed_at = now
    return {"result_msg": "OK"}


@bp.post("/pay/downloadbill")
@pay_endpoint
def download_bill(sandbox: Sandbox, req: PayRequest) -> Response:
    """下载对账单: the day's bill text, for any day up to today (Beijing)."""
    require(req, "bill_date")
    bill_type = req.get("bill_type") or bill.ALL
    if bill_type not in bill.BILL_TYPES:
        return fail_response("invalid bill_type", error_code="20001")
    text = req.get("bill_date")
    try:
        if len(text) != 8 or not (text.isascii() and text.isdigit()):
            raise ValueError(text)
        day = date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return fail_response("invalid bill_date", error_code="20001")
    if day > sandbox.clock.beijing_now().date():
        return fail_response("invalid bill_date", error_code="20001")
    tar_type = req.get("tar_type")
    if tar_type and tar_type != "GZIP":
        return fail_response("invalid tar_type", error_code="20001")
    with sandbox.state.lock:
        bill_text = bill.render_bill(list(sandbox.state.orders.values()), day, bill_type)
    if bill_text is None:
        return fail_response("No Bill Exist", error_code="20002")
    if tar_type == "GZIP":
        return Response(gzip.compress(bill_text.encode("utf-8")), mimetype="application/x-gzip")
    return Response(bill_text, mimetype="text/plain")
