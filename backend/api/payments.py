"""WeChat Pay's notifications: verified, recorded, applied exactly once (XML in, XML out)."""

from __future__ import annotations

import logging
from functools import partial

from flask import Response, current_app, g, request
from flask_smorest import Blueprint

from backend.boundary import after_commit
from backend.donations.services import after_payment, apply_payment, record_notification
from backend.payments.wechat_pay import (
    MAX_NOTIFICATION_BYTES,
    NotificationRejected,
    answer,
    parse_notification,
)

log = logging.getLogger(__name__)
blp = Blueprint("payments", __name__, description="微信支付回调")

#: outcomes WeChat must not retry: the notification was handled, now or before
HANDLED = {"applied", "duplicate", "not paid"}


def _xml(success: bool, message: str = "OK") -> Response:
    # WeChat reads the XML, whatever the outcome; the request's data is kept either way.
    g.commit_despite_status = True
    return Response(answer(success, message), status=200, mimetype="application/xml")


@blp.post("/payments/wechat/notify")
@blp.doc(summary="WeChat Pay v2 payment notification", security=[])
def payment_notification() -> Response:
    """Verify signature, app, merchant and amount; credit the order once; answer SUCCESS."""
    if (request.content_length or 0) > MAX_NOTIFICATION_BYTES:
        log.warning("ALERT payment notification refused: body too large")
        return _xml(False, "body too large")
    body = request.stream.read(MAX_NOTIFICATION_BYTES + 1)
    remote = request.remote_addr
    try:
        notice = parse_notification(body, current_app.config["SETTINGS"])
    except NotificationRejected as exc:
        log.warning("ALERT payment notification rejected: %s (%s)", exc.reason, exc.out_trade_no)
        record_notification("payment", body[:MAX_NOTIFICATION_BYTES], f"rejected: {exc.reason}",
                            exc.out_trade_no, remote)  # fmt: skip
        return _xml(False, exc.reason)
    outcome = apply_payment(notice, body, remote)
    label = "applied" if outcome.applied else outcome.reason
    if not outcome.recorded:
        record_notification("payment", body, label, notice.out_trade_no, remote)
    if outcome.applied:
        after_commit(partial(after_payment, outcome))
    if label in HANDLED:
        return _xml(True)
    log.warning("ALERT payment notification for %s not credited: %s", notice.out_trade_no, label)
    return _xml(False, label)
