"""Refunds: secapi/pay/refund and pay/refundquery; each refund is notified by itself.

A refund is PROCESSING when asked, and turns SUCCESS after `refund_settle_seconds`
(time-compressed), when its notice is built and sent to the refund's notify_url (or the
order's) on WeChat's retry schedule. Error codes: unknown order ORDERNOTEXIST; order not
paid, or refunds beyond the amount paid, ERROR with the reason; parameters that disagree
with the order or with an earlier request under the same out_refund_no, PARAM_ERROR; an
order paid over a year ago, TRADE_OVERDUE. The same out_refund_no with the same amounts
returns the same refund.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint

from backend.wechat_sandbox import ids
from backend.wechat_sandbox.clock import readable_time
from backend.wechat_sandbox.delivery import Job, Prepared
from backend.wechat_sandbox.notify import merchant_accepted, refund_notice
from backend.wechat_sandbox.payproto import (
    PayBizError,
    PayRequest,
    checked_notify_url,
    find_order,
    merchant_no,
    pay_endpoint,
    positive_fen,
    require,
)
from backend.wechat_sandbox.runtime import Sandbox
from backend.wechat_sandbox.state import SUCCESS, Order, Refund

bp = Blueprint("sandbox_refunds", __name__)

REFUND_ACCOUNTS = ("REFUND_SOURCE_UNSETTLED_FUNDS", "REFUND_SOURCE_RECHARGE_FUNDS")
REFUND_PERIOD = timedelta(days=365)
MAX_REFUNDS = 50


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
    merchant_no(req, "out_refund_no", 64, "PARAM_ERROR")
    total_fee = positive_fen(req, "total_fee", "PARAM_ERROR")
    refund_fee = positive_fen(req, "refund_fee", "PARAM_ERROR")
    if (req.get("refund_fee_type") or "CNY") != "CNY":
        raise PayBizError("PARAM_ERROR", "refund_fee_type参数格式错误")
    if req.get("refund_account") and req.get("refund_account") not in REFUND_ACCOUNTS:
        raise PayBizError("PARAM_ERROR", "refund_account参数格式错误")
    if req.get("notify_url"):
        checked_notify_url(req.get("notify_url"), "PARAM_ERROR")
    if len(req.get("refund_desc").encode("utf-8")) > 80:
        raise PayBizError("PARAM_ERROR", "refund_desc参数长度有误")
    return total_fee, refund_fee


@bp.post("/secapi/pay/refund")
@pay_endpoint
def refund(sandbox: Sandbox, req: PayRequest) -> dict[str, object]:
    """申请退款: no client certificate needed here; the refund notice follows by itself."""
    total_fee, refund_fee = _check_refund_fields(req)
    order = find_order(sandbox, req)
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
            raise PayBizError(
                "LACK_PARAMS", "缺少参数refund_id、out_refund_no、transaction_id或out_trade_no"
            )
    if order is None or not found:
        raise PayBizError("REFUNDNOTEXIST", "not exist")
    return order, found


@bp.post("/pay/refundquery")
@pay_endpoint
def refund_query(sandbox: Sandbox, req: PayRequest) -> dict[str, object]:
    """查询退款: ten refunds a page from `offset`, WeChat's `_$n` fields."""
    order, found = _find_refunds(sandbox, req)
    offset_text = req.get("offset") or "0"
    if not (offset_text.isascii() and offset_text.isdigit()):
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
