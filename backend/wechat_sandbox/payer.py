"""Control calls that play the payer, and show orders and deliveries.

- `POST /sandbox/pay` `{out_trade_no, duplicates?, concurrent?, fail?, respond_fail_times?,
  bank_type?}` pays the order and delivers its notice; answers `{order, notification}`.
- `GET /sandbox/notifications[/<out_trade_no>]` `?kind&out_trade_no&out_refund_no&trace_id&wait`
  lists deliveries with every attempt; `wait=SECONDS` first waits for none to be pending.
- `GET /sandbox/orders[/<out_trade_no>]` shows orders and their refunds.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from backend.wechat_sandbox import ids
from backend.wechat_sandbox.clock import BEIJING, wechat_time
from backend.wechat_sandbox.control import ControlError, int_field, json_body
from backend.wechat_sandbox.delivery import Job, Prepared
from backend.wechat_sandbox.notify import (
    FAIL_MODES,
    FORGE_AMOUNT,
    FORGE_SIGNATURE,
    merchant_accepted,
    payment_notice,
)
from backend.wechat_sandbox.runtime import Sandbox, current_sandbox
from backend.wechat_sandbox.state import API_V3, CLOSED, SUCCESS, Order
from backend.wechat_sandbox.v3 import notify as v3_notify
from backend.wechat_sandbox.v3.keys import EXTENSION_KEY as V3_KEYS

bp = Blueprint("sandbox_payer", __name__, url_prefix="/sandbox")

MAX_DUPLICATES = 20
MAX_WAIT_SECONDS = 30.0


def order_view(order: Order) -> dict[str, Any]:
    """JSON shape of an order and its refunds."""
    return {
        "out_trade_no": order.out_trade_no,
        "trade_state": order.trade_state,
        "transaction_id": order.transaction_id or None,
        "time_end": wechat_time(order.paid_at) if order.paid_at else None,
        "total_fee": order.total_fee,
        "openid": order.openid,
        "body": order.body,
        "attach": order.attach,
        "trade_type": order.trade_type,
        "notify_url": order.notify_url,
        "prepay_id": order.prepay_id,
        "created_at": order.created_at.astimezone(BEIJING).isoformat(),
        "expires_at": order.expires_at.astimezone(BEIJING).isoformat(),
        "refunds": [
            {
                "out_refund_no": refund.out_refund_no,
                "refund_id": refund.refund_id,
                "refund_fee": refund.refund_fee,
                "refund_status": refund.status,
                "notify_url": refund.notify_url,
                "success_time": refund.success_at.astimezone(BEIJING).isoformat()
                if refund.success_at
                else None,
            }
            for refund in order.refunds
        ],
    }


def _fail_mode(data: dict[str, Any], modes: tuple[str, ...] = FAIL_MODES) -> str | None:
    """The `fail` field: false/absent, true (= "signature") or one of `modes`."""
    fail = data.get("fail", False)
    if fail is False or fail is None:
        return None
    if fail is True:
        return FORGE_SIGNATURE
    if fail in modes:
        return str(fail)
    raise ControlError(400, f"fail must be a boolean or one of {', '.join(modes)}")


def _payable(sandbox: Sandbox, order: Order) -> None:
    """Refuse to pay an order WeChat would not let the user pay."""
    if order.status == SUCCESS:
        raise ControlError(409, "ORDERPAID: the order is already paid")
    if order.status == CLOSED:
        raise ControlError(409, "ORDERCLOSED: the order is closed")
    if sandbox.clock.now() >= order.expires_at:
        raise ControlError(409, "ORDER_EXPIRED: the order is past its time_expire")


@bp.post("/pay")
def pay() -> Response:
    """Play the payer: pay the order and deliver the payment notice on WeChat's schedule.

    `fail`: "signature" (or true) and "amount" send one forged notice and leave the order
    unpaid; "result" notifies a failed payment (result_code FAIL), order unpaid. A v3
    order (placed through /v3/pay/transactions/jsapi) gets a v3 JSON notice; its `fail`
    modes are "signature", "amount", "key" (resource encrypted with another APIv3 key),
    "ciphertext" (tampered), "serial" (signed by a key no one knows) and "timestamp" (ten
    minutes old), each sent once with the order left unpaid.
    `duplicates: N` sends N more copies after the accepted one (or, with `concurrent`,
    together with the first from N+1 threads). `respond_fail_times: N` treats the first N
    answers as lost, so the notice is sent again even when the merchant said SUCCESS.
    """
    sandbox = current_sandbox()
    config = sandbox.config
    data = json_body()
    out_trade_no = data.get("out_trade_no")
    if not isinstance(out_trade_no, str) or not out_trade_no:
        raise ControlError(400, "out_trade_no is required")
    duplicates = int_field(data, "duplicates", 0, MAX_DUPLICATES)
    respond_fail_times = int_field(data, "respond_fail_times", 0, len(config.pay_retry_schedule))
    concurrent = data.get("concurrent", False)
    if not isinstance(concurrent, bool):
        raise ControlError(400, "concurrent must be a boolean")
    now = sandbox.clock.now()
    with sandbox.state.lock:
        order = sandbox.state.orders.get(out_trade_no)
        if order is None:
            raise ControlError(404, "ORDERNOTEXIST: no such out_trade_no")
        v3 = order.api == API_V3
        # v3 has no notice of a failed payment; it has more ways to forge one.
        fail = _fail_mode(data, v3_notify.FAIL_MODES if v3 else FAIL_MODES)
        forged_once = fail is not None and (v3 or fail in (FORGE_SIGNATURE, FORGE_AMOUNT))
        if forged_once:
            # A forgery as an attacker would send it: the sandbox's order stays as it is.
            notice_order = dataclasses.replace(
                order,
                status=SUCCESS,
                transaction_id=order.transaction_id or ids.transaction_id(now),
                paid_at=order.paid_at or now,
            )
        else:
            _payable(sandbox, order)
            if fail is None:
                order.status = SUCCESS
                order.transaction_id = ids.transaction_id(now)
                order.paid_at = now
                order.bank_type = str(data.get("bank_type") or "OTHERS")
            notice_order = order
        if v3:
            keys = current_app.extensions[V3_KEYS]
            prepared = v3_notify.payment_prepared(keys, notice_order, now, fail)
        else:
            prepared = Prepared(
                order.notify_url, payment_notice(notice_order, config, fail), "text/xml"
            )
        view = order_view(order)
    job = sandbox.deliveries.submit(
        Job(
            kind="payment",
            prepare=lambda: prepared,
            accepts=v3_notify.merchant_accepted if v3 else merchant_accepted,
            delays=()
            if forged_once
            else tuple(config.scaled(g) for g in config.pay_retry_schedule),
            duplicates=duplicates,
            concurrent=concurrent,
            ignore_answers=respond_fail_times,
            timeout=config.delivery_timeout,
            keys={"out_trade_no": out_trade_no},
        )
    )
    return jsonify({"order": view, "notification": {"id": job.id, "fail": fail}})


def _delivery_filters(out_trade_no: str | None = None) -> dict[str, str]:
    """Filters from the query string (and the path)."""
    filters = {
        name: request.args[name]
        for name in ("kind", "out_trade_no", "out_refund_no", "trace_id")
        if request.args.get(name)
    }
    if out_trade_no:
        filters["out_trade_no"] = out_trade_no
    return filters


@bp.get("/notifications")
@bp.get("/notifications/<out_trade_no>")
def notifications(out_trade_no: str | None = None) -> Response:
    """Deliveries with every attempt; `?wait=SECONDS` first waits until none is pending."""
    sandbox = current_sandbox()
    filters = _delivery_filters(out_trade_no)
    try:
        wait = min(MAX_WAIT_SECONDS, float(request.args.get("wait") or 0))
    except ValueError as exc:
        raise ControlError(400, "wait must be a number of seconds") from exc
    idle = sandbox.deliveries.wait_idle(filters, wait) if wait > 0 else None
    jobs = sandbox.deliveries.snapshot(filters)
    pending = any(job["status"] == "pending" for job in jobs) if idle is None else not idle
    return jsonify({"notifications": jobs, "pending": pending})


@bp.get("/orders")
def orders() -> Response:
    """Every order."""
    sandbox = current_sandbox()
    with sandbox.state.lock:
        return jsonify({"orders": [order_view(o) for o in sandbox.state.orders.values()]})


@bp.get("/orders/<out_trade_no>")
def one_order(out_trade_no: str) -> Response:
    """One order."""
    sandbox = current_sandbox()
    with sandbox.state.lock:
        order = sandbox.state.orders.get(out_trade_no)
        if order is None:
            raise ControlError(404, "ORDERNOTEXIST: no such out_trade_no")
        return jsonify(order_view(order))
