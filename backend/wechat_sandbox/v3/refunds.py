"""v3 refunds: `/v3/refund/domestic/refunds` and its query; REFUND.SUCCESS notices.

The same Refund records as v2 (see `backend.wechat_sandbox.refunds`): PROCESSING when
asked, SUCCESS after `refund_settle_seconds` (time-compressed), when the notice is sent
to the refund's notify_url on WeChat's retry schedule (no notify_url: settled, no
notice). Errors: no such order 404 RESOURCE_NOT_EXISTS "订单不存在"; an unpaid order,
an order paid over a year ago or more than 50 refunds 400 INVALID_REQUEST; more than
what is left to refund 403 NOT_ENOUGH; amount.total other than the order's, or the same
out_refund_no with other amounts or another order, 400 PARAM_ERROR; an unknown refund
404 RESOURCE_NOT_EXISTS "退款单不存在". The same out_refund_no and amounts again returns
the same refund. `POST /sandbox/refund-outcome {out_refund_no, status}` (ABNORMAL or
CLOSED), called before the refund is asked, makes it end that way, with a REFUND.ABNORMAL
or REFUND.CLOSED notice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from backend.wechat_sandbox import ids
from backend.wechat_sandbox.control import ControlError, json_body
from backend.wechat_sandbox.delivery import Job, Prepared
from backend.wechat_sandbox.runtime import Sandbox, current_sandbox
from backend.wechat_sandbox.state import SUCCESS, Order, Refund
from backend.wechat_sandbox.v3.keys import EXTENSION_KEY
from backend.wechat_sandbox.v3.notify import (
    merchant_accepted,
    refund_amount,
    refund_prepared,
    rfc3339,
)
from backend.wechat_sandbox.v3.proto import (
    V3Error,
    V3Request,
    currency_field,
    fen_field,
    object_field,
    param_error,
    text_field,
    v3_endpoint,
)
from backend.wechat_sandbox.v3.transactions import merchant_no, notify_url_field

bp = Blueprint("sandbox_v3_refunds", __name__, url_prefix="/v3/refund/domestic")
control_bp = Blueprint("sandbox_v3_refund_control", __name__, url_prefix="/sandbox")

FUNDS_ACCOUNTS = ("AVAILABLE",)
REFUND_PERIOD = timedelta(days=365)
OUTCOMES = ("ABNORMAL", "CLOSED")
MAX_REFUNDS = 50


def refund_fields(order: Order, refund: Refund) -> dict[str, Any]:
    """A refund as the refund call and the query answer it."""
    fields: dict[str, Any] = {
        "refund_id": refund.refund_id,
        "out_refund_no": refund.out_refund_no,
        "transaction_id": order.transaction_id,
        "out_trade_no": order.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "success_time": rfc3339(refund.success_at) if refund.success_at else None,
        "create_time": rfc3339(refund.requested_at),
        "status": refund.status,
        "funds_account": "AVAILABLE",
        "amount": refund_amount(order, refund),
    }
    return {name: value for name, value in fields.items() if value is not None}


def _find_order(sandbox: Sandbox, data: dict[str, Any]) -> Order:
    """The order named by transaction_id (first) or out_trade_no."""
    transaction_id = text_field(data, "transaction_id", 32, required=False)
    out_trade_no = text_field(data, "out_trade_no", 32, required=False)
    if not transaction_id and not out_trade_no:
        raise param_error("缺少参数transaction_id或out_trade_no")
    with sandbox.state.lock:
        if transaction_id:
            order = sandbox.state.order_by_transaction_id(transaction_id)
        else:
            order = sandbox.state.orders.get(out_trade_no)
    if order is None:
        raise V3Error(404, "RESOURCE_NOT_EXISTS", "订单不存在")
    return order


@bp.post("/refunds")
@v3_endpoint
def create_refund(sandbox: Sandbox, req: V3Request) -> tuple[int, dict[str, Any]]:
    """退款申请: PROCESSING now; settles and is notified by itself later."""
    data = req.data
    out_refund_no = merchant_no(text_field(data, "out_refund_no", 64), "out_refund_no", 1, 64)
    reason = text_field(data, "reason", 80, required=False)
    notify_url = notify_url_field(data, required=False)
    funds_account = text_field(data, "funds_account", 32, required=False)
    if funds_account and funds_account not in FUNDS_ACCOUNTS:
        raise param_error("funds_account参数格式错误")
    amount = object_field(data, "amount")
    refund_fee = fen_field(amount, "refund", "amount.refund")
    total = fen_field(amount, "total", "amount.total")
    currency_field(amount, "amount.currency")
    order = _find_order(sandbox, data)
    now = sandbox.clock.now()
    with sandbox.state.lock:
        earlier = sandbox.state.refunds.get(out_refund_no)
        if earlier is not None:
            if (
                earlier.out_trade_no != order.out_trade_no
                or earlier.refund_fee != refund_fee
                or earlier.total_fee != total
            ):
                raise param_error("订单金额或退款金额与之前请求不一致，请核实后再试")
            return 200, refund_fields(order, earlier)
        if order.status != SUCCESS or order.paid_at is None:
            raise V3Error(400, "INVALID_REQUEST", "订单未支付，不能退款")
        if total != order.total_fee:
            raise param_error("amount.total与订单金额不一致")
        if now - order.paid_at > REFUND_PERIOD:
            raise V3Error(400, "INVALID_REQUEST", "订单已经超过退款期限")
        if len(order.refunds) >= MAX_REFUNDS:
            raise V3Error(400, "INVALID_REQUEST", "一笔订单最多支持50次部分退款")
        if order.refunded_fee() + refund_fee > order.total_fee:
            raise V3Error(403, "NOT_ENOUGH", "累计退款金额大于支付金额")
        refund = Refund(
            out_refund_no=out_refund_no,
            refund_id=ids.refund_id(now),
            out_trade_no=order.out_trade_no,
            refund_fee=refund_fee,
            total_fee=total,
            refund_account="REFUND_SOURCE_UNSETTLED_FUNDS",
            notify_url=notify_url,
            refund_desc=reason,
            requested_at=now,
        )
        order.refunds.append(refund)
        sandbox.state.refunds[out_refund_no] = refund
        answer = refund_fields(order, refund)
    _submit_refund_notice(sandbox, order, refund)
    return 200, answer


def _submit_refund_notice(sandbox: Sandbox, order: Order, pending: Refund) -> None:
    """Settle after a (time-compressed) while, then notify on WeChat's schedule."""
    config = sandbox.config
    keys = current_app.extensions[EXTENSION_KEY]

    def prepare() -> Prepared:
        with sandbox.state.lock:
            now = sandbox.clock.now()
            outcome = sandbox.state.refund_outcomes.pop(pending.out_refund_no, "SUCCESS")
            pending.status = outcome
            if outcome == "SUCCESS":
                pending.success_at = now
            return refund_prepared(keys, order, pending, now)

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


@bp.get("/refunds/<out_refund_no>")
@v3_endpoint
def query_refund(sandbox: Sandbox, req: V3Request, out_refund_no: str) -> tuple[int, dict]:
    """查询单笔退款."""
    with sandbox.state.lock:
        refund = sandbox.state.refunds.get(out_refund_no)
        order = sandbox.state.orders.get(refund.out_trade_no) if refund else None
        if refund is None or order is None:
            raise V3Error(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        return 200, refund_fields(order, refund)


@control_bp.post("/refund-outcome")
def refund_outcome() -> Response:
    """Control call: the v3 refund `out_refund_no` (not asked yet) ends ABNORMAL or CLOSED."""
    data = json_body()
    out_refund_no = data.get("out_refund_no")
    status = data.get("status")
    if not isinstance(out_refund_no, str) or not out_refund_no:
        raise ControlError(400, "out_refund_no is required")
    if status not in OUTCOMES:
        raise ControlError(400, f"status must be one of {', '.join(OUTCOMES)}")
    sandbox = current_sandbox()
    with sandbox.state.lock:
        if out_refund_no in sandbox.state.refunds:
            raise ControlError(409, "the refund was asked already")
        sandbox.state.refund_outcomes[out_refund_no] = status
    return jsonify({"out_refund_no": out_refund_no, "status": status})
