"""WeChat Pay v2 endpoints: unifiedorder, orderquery, closeorder, refund, refundquery, downloadbill.

Error codes picked where WeChat's documents leave a choice:
- closeorder within five minutes of the order: result_code FAIL, err_code SYSTEMERROR
  (WeChat documents the rule, "订单生成后不能马上调用关单接口，最短调用时间间隔为5分钟",
  but no code for it; SYSTEMERROR tells the merchant to call again later, which is right).
- unifiedorder again with an out_trade_no whose fields differ: INVALID_REQUEST
  "201 商户订单号重复"; the same fields again return the same prepay_id; a paid order
  ORDERPAID, a closed or expired one ORDERCLOSED.
- An unpaid order past time_expire cannot be paid and still reads NOTPAY (WeChat does not
  close it by itself; closeorder does).
- refund: unknown order ORDERNOTEXIST; order not paid, or refunds beyond the amount paid,
  ERROR with the reason; parameters that disagree with the order or with an earlier
  request under the same out_refund_no, PARAM_ERROR; an order paid over a year ago,
  TRADE_OVERDUE. The same out_refund_no with the same amounts returns the same refund.
- downloadbill: return_code FAIL with return_msg "No Bill Exist" (error_code 20002) for a
  day without transactions, "invalid bill_date" (error_code 20001) for a malformed or
  future date, as WeChat answers.
"""

from __future__ import annotations

import gzip
import ipaddress
import re
from datetime import date, datetime, timedelta

from flask import Blueprint, Response

from backend.wechat_sandbox import bill, ids
from backend.wechat_sandbox.clock import parse_wechat_time, readable_time, wechat_time
from backend.wechat_sandbox.delivery import Job, Prepared
from backend.wechat_sandbox.notify import merchant_accepted, refund_notice
from backend.wechat_sandbox.payproto import (
    PayBizError,
    PayRequest,
    fail_response,
    pay_endpoint,
    require,
)
from backend.wechat_sandbox.runtime import Sandbox
from backend.wechat_sandbox.state import (
    CLOSED,
    NOTPAY,
    SUCCESS,
    TRADE_STATE_DESC,
    Order,
    Refund,
)

bp = Blueprint("sandbox_pay", __name__)

TRADE_TYPES = ("JSAPI", "NATIVE", "APP", "MWEB")
REFUND_ACCOUNTS = ("REFUND_SOURCE_UNSETTLED_FUNDS", "REFUND_SOURCE_RECHARGE_FUNDS")
_MERCHANT_NO = re.compile(r"^[0-9A-Za-z_\-|*@]+$")
CLOSE_MIN_AGE = timedelta(minutes=5)
MIN_EXPIRY = timedelta(minutes=5)
DEFAULT_EXPIRY = timedelta(hours=2)
REFUND_PERIOD = timedelta(days=365)
MAX_REFUNDS = 50
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


def _positive_fen(req: PayRequest, name: str, err_code: str = "INVALID_REQUEST") -> int:
    """A positive integer amount in fen, or the error WeChat gives."""
    text = req.get(name)
    if not text.isdigit() or int(text) <= 0 or len(text) > 12:
        raise PayBizError(err_code, f"{name}参数格式错误")
    return int(text)


def _merchant_no(req: PayRequest, name: str, limit: int, err_code: str = "INVALID_REQUEST") -> str:
    """A merchant order or refund number: at most `limit` of [0-9A-Za-z_-|*@]."""
    value = req.get(name)
    if len(value) > limit or not _MERCHANT_NO.match(value):
        raise PayBizError(err_code, f"{name}参数格式错误")
    return value


def _notify_url(value: str, err_code: str = "INVALID_REQUEST") -> str:
    """A notify URL: http(s), no query string, at most 256 characters."""
    if not value.startswith(("http://", "https://")) or "?" in value or len(value) > 256:
        raise PayBizError(err_code, "notify_url参数格式错误")
    return value


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
    require(req, "body", "out_trade_no", "total_fee", "spbill_create_ip", "notify_url", "trade_type")
    if len(req.get("body").encode("utf-8")) > 128:
        raise _invalid("body参数长度有误")
    if len(req.get("attach").encode("utf-8")) > 127:
        raise _invalid("attach参数长度有误")
    _merchant_no(req, "out_trade_no", 32)
    _positive_fen(req, "total_fee")
    if (req.get("fee_type") or "CNY") != "CNY":
        raise _invalid("fee_type参数格式错误")
    trade_type = req.get("trade_type")
    if trade_type not in TRADE_TYPES:
        raise _invalid("trade_type参数格式错误")
    if trade_type == "JSAPI" and not req.get("openid"):
        raise PayBizError("LACK_PARAMS", "JSAPI支付必须传openid")
    if trade_type == "NATIVE" and not req.get("product_id"):
        raise PayBizError("LACK_PARAMS", "NATIVE支付必须传product_id")
    _notify_url(req.get("notify_url"))
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
        reply["mweb_url"] = "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=" + order.prepay_id
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


def _find_order(sandbox: Sandbox, req: PayRequest) -> Order:
    """The order named by transaction_id (first) or out_trade_no."""
    if not req.get("transaction_id") and not req.get("out_trade_no"):
        raise PayBizError("LACK_PARAMS", "缺少参数out_trade_no或transaction_id")
    with sandbox.state.lock:
        if req.get("transaction_id"):
            order = sandbox.state.order_by_transaction_id(req.get("transaction_id"))
        else:
            order = sandbox.state.orders.get(req.get("out_trade_no"))
    if order is None:
        raise PayBizError("ORDERNOTEXIST", "order not exist")
    return order


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
    order = _find_order(sandbox, req)
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


def _refund_reply(order: Order, refund: Refund) -> dict[str, object]:
    """The refund call's result fields."""
    return {
        "transaction_id": order.transaction_id,
        "out_trade_no": order.out_trade_no,
        "out_refund_no": refund.out_refund_no,
        "refund_id": refund.refund_id,
        "refund_fee": refund.refund_fee,
        "settlement_refund_fee": refund.refund_fee,
        "total_fee": order.total_fee,
        "settlement_total_fee": order.total_fee,
        "fee_type": order.fee_type,
        "cash_fee": order.total_fee,
        "cash_refund_fee": refund.refund_fee,
        "coupon_refund_fee": 0,
        "coupon_refund_count": 0,
    }


def _check_refund_fields(req: PayRequest) -> tuple[int, int]:
    """The refund call's field rules; returns (total_fee, refund_fee)."""
    require(req, "out_refund_no", "total_fee", "refund_fee")
    _merchant_no(req, "out_refund_no", 64, "PARAM_ERROR")
    total_fee = _positive_fen(req, "total_fee", "PARAM_ERROR")
    refund_fee = _positive_fen(req, "refund_fee", "PARAM_ERROR")
    if (req.get("refund_fee_type") or "CNY") != "CNY":
        raise PayBizError("PARAM_ERROR", "refund_fee_type参数格式错误")
    if req.get("refund_account") and req.get("refund_account") not in REFUND_ACCOUNTS:
        raise PayBizError("PARAM_ERROR", "refund_account参数格式错误")
    if req.get("notify_url"):
        _notify_url(req.get("notify_url"), "PARAM_ERROR")
    if len(req.get("refund_desc").encode("utf-8")) > 80:
        raise PayBizError("PARAM_ERROR", "refund_desc参数长度有误")
    return total_fee, refund_fee


@bp.post("/secapi/pay/refund")
@pay_endpoint
def refund(sandbox: Sandbox, req: PayRequest) -> dict[str, object]:
    """申请退款: no client certificate needed here; the refund notice follows by itself."""
    total_fee, refund_fee = _check_refund_fields(req)
    order = _find_order(sandbox, req)
    now = sandbox.clock.now()
    with sandbox.state.lock:
        earlier = sandbox.state.refunds.get(req.get("out_refund_no"))
        if earlier is not None:
            if (
                earlier.out_trade_no != order.out_trade_no
                or earlier.refund_fee != refund_fee
                or earlier.total_fee != total_fee
            ):
                raise PayBizError("PARAM_ERROR", "订单金额或退款金额与之前请求不一致，请核实后再试")
            return _refund_reply(order, earlier)
        if order.status != SUCCESS or order.paid_at is None:
            raise PayBizError("ERROR", "订单状态错误，未支付的订单不能退款")
        if total_fee != order.total_fee:
            raise PayBizError("PARAM_ERROR", "total_fee与订单金额不一致")
        if now - order.paid_at > REFUND_PERIOD:
            raise PayBizError("TRADE_OVERDUE", "订单已经超过退款期限")
        if order.refunded_fee() >= order.total_fee:
            raise PayBizError("ERROR", "订单已全额退款")
        if order.refunded_fee() + refund_fee > order.total_fee:
            raise PayBizError("ERROR", "累计退款金额大于支付金额")
        if len(order.refunds) >= MAX_REFUNDS:
            raise PayBizError("ERROR", "一笔订单最多支持50次部分退款")
        new_refund = Refund(
            out_refund_no=req.get("out_refund_no"),
            refund_id=ids.refund_id(now),
            out_trade_no=order.out_trade_no,
            refund_fee=refund_fee,
            total_fee=total_fee,
            refund_account=req.get("refund_account") or REFUND_ACCOUNTS[0],
            notify_url=req.get("notify_url") or order.notify_url,
            refund_desc=req.get("refund_desc"),
            requested_at=now,
        )
        order.refunds.append(new_refund)
        sandbox.state.refunds[new_refund.out_refund_no] = new_refund
    _submit_refund_notice(sandbox, order, new_refund)
    return _refund_reply(order, new_refund)


def _submit_refund_notice(sandbox: Sandbox, order: Order, pending: Refund) -> None:
    """Settle the refund after a (time-compressed) while, then notify it on the schedule."""
    config = sandbox.config

    def prepare() -> Prepared:
        with sandbox.state.lock:
            success_at = sandbox.clock.now()
            pending.status = "SUCCESS"
            pending.success_at = success_at
        body = refund_notice(order, pending, success_at, sandbox.config)
        return Prepared(pending.notify_url, body, "text/xml")

    sandbox.deliveries.submit(
        Job(
            kind="refund",
            prepare=prepare,
            accepts=merchant_accepted,
            initial_delay=config.scaled(config.refund_settle_seconds),
            delays=tuple(config.scaled(gap) for gap in config.pay_retry_schedule),
            timeout=config.delivery_timeout,
            keys={"out_trade_no": order.out_trade_no, "out_refund_no": pending.out_refund_no},
        )
    )


def _find_refunds(sandbox: Sandbox, req: PayRequest) -> tuple[Order, list[Refund]]:
    """Refunds named by refund_id, out_refund_no, transaction_id or out_trade_no (that order)."""
    state = sandbox.state
    with state.lock:
        if req.get("refund_id") or req.get("out_refund_no"):
            found = [
                r
                for r in state.refunds.values()
                if (req.get("refund_id") and r.refund_id == req.get("refund_id"))
                or (not req.get("refund_id") and r.out_refund_no == req.get("out_refund_no"))
            ]
            order = state.orders.get(found[0].out_trade_no) if found else None
        elif req.get("transaction_id") or req.get("out_trade_no"):
            order = (
                state.order_by_transaction_id(req.get("transaction_id"))
                if req.get("transaction_id")
                else state.orders.get(req.get("out_trade_no"))
            )
            found = list(order.refunds) if order else []
        else:
            raise PayBizError("LACK_PARAMS", "缺少参数refund_id、out_refund_no、transaction_id或out_trade_no")
    if order is None or not found:
        raise PayBizError("REFUNDNOTEXIST", "not exist")
    return order, found


@bp.post("/pay/refundquery")
@pay_endpoint
def refund_query(sandbox: Sandbox, req: PayRequest) -> dict[str, object]:
    """查询退款: ten refunds a page from `offset`, WeChat's `_$n` fields."""
    order, found = _find_refunds(sandbox, req)
    offset_text = req.get("offset") or "0"
    if not offset_text.isdigit():
        raise PayBizError("PARAM_ERROR", "offset参数格式错误")
    offset = int(offset_text)
    page = found[offset : offset + 10]
    if not page:
        raise PayBizError("REFUNDNOTEXIST", "not exist")
    fields: dict[str, object] = {
        "transaction_id": order.transaction_id,
        "out_trade_no": order.out_trade_no,
        "total_fee": order.total_fee,
        "settlement_total_fee": order.total_fee,
        "fee_type": order.fee_type,
        "cash_fee": order.total_fee,
        "refund_count": len(page),
        "refund_fee": sum(r.refund_fee for r in page),
    }
    if len(found) > 10:
        fields["total_refund_count"] = len(found)
    with sandbox.state.lock:
        for n, item in enumerate(page):
            fields.update(
                {
                    f"out_refund_no_{n}": item.out_refund_no,
                    f"refund_id_{n}": item.refund_id,
                    f"refund_channel_{n}": "ORIGINAL",
                    f"refund_fee_{n}": item.refund_fee,
                    f"settlement_refund_fee_{n}": item.refund_fee,
                    f"refund_status_{n}": item.status,
                    f"refund_account_{n}": item.refund_account,
                    f"refund_recv_accout_{n}": "支付用户零钱",
                    f"refund_success_time_{n}": readable_time(item.success_at)
                    if item.success_at
                    else None,
                }
            )
    return fields


@bp.post("/pay/downloadbill")
@pay_endpoint
def download_bill(sandbox: Sandbox, req: PayRequest) -> Response:
    """下载对账单: the day's bill text, for any day up to today (Beijing)."""
    require(req, "bill_date")
    bill_type = req.get("bill_type") or bill.ALL
    if bill_type not in bill.BILL_TYPES:
        return fail_response("invalid bill_type", error_code="20001")
    try:
        day = date(int(req.get("bill_date")[:4]), int(req.get("bill_date")[4:6]), int(req.get("bill_date")[6:]))
    except ValueError:
        return fail_response("invalid bill_date", error_code="20001")
    if len(req.get("bill_date")) != 8 or day > sandbox.clock.beijing_now().date():
        return fail_response("invalid bill_date", error_code="20001")
    tar_type = req.get("tar_type")
    if tar_type and tar_type != "GZIP":
        return fail_response("invalid tar_type", error_code="20001")
    with sandbox.state.lock:
        text = bill.render_bill(list(sandbox.state.orders.values()), day, bill_type)
    if text is None:
        return fail_response("No Bill Exist", error_code="20002")
    if tar_type == "GZIP":
        return Response(gzip.compress(text.encode("utf-8")), mimetype="application/x-gzip")
    return Response(text, mimetype="text/plain")


__all__ = ["NOTPAY", "bp", "order_fields"]
