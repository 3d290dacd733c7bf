"""WeChat Pay's notifications: verified, recorded, applied exactly once (XML in, XML out)."""

from __future__ import annotations

import logging
from functools import partial

from flask import Response, current_app, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from backend.api.base import Blueprint
from backend.boundary import after_commit
from backend.donations.models import REJECTED_EXCERPT_CHARS
from backend.donations.services import (
    after_payment,
    alert_rejection,
    apply_payment,
    record_notification,
    record_rejected_notification,
)
from backend.payments.refunds import parse_refund_notification
from backend.payments.wechat_pay import (
    MAX_NOTIFICATION_BYTES,
    NotificationRejected,
    answer,
    parse_notification,
)
from backend.progress.service import apply_events
from backend.refunds.services import settle_refund

log = logging.getLogger(__name__)
blp = Blueprint("payments", __name__, description="微信支付回调")

#: outcomes WeChat must not retry: the notification was handled, now or before
HANDLED = {"applied", "duplicate", "not paid"}


def _xml(success: bool, message: str = "OK") -> Response:
    # WeChat reads the XML, whatever the outcome; the request's data is kept either way.
    g.commit_despite_status = True
    return Response(answer(success, message), status=200, mimetype="application/xml")


#: the exchange as WeChat Pay v2 defines it: XML in, XML out (always HTTP 200)
XML_TEXT = {"type": "string"}
NOTIFY_DOC = {
    "summary": "WeChat Pay v2 payment notification",
    "description": (
        "Called by WeChat Pay, not by clients. The signature, appid, mch_id and amount are "
        "checked; the order is credited once. The answer is always HTTP 200 with XML: "
        "return_code SUCCESS when handled (now or before), FAIL otherwise (WeChat retries)."
    ),
    "security": [],
    "requestBody": {
        "required": True,
        "description": "WeChat's signed notification, at most 16 KiB",
        "content": {
            "application/xml": {
                "schema": XML_TEXT,
                "example": "<xml><return_code><![CDATA[SUCCESS]]></return_code>…</xml>",
            },
            "text/xml": {"schema": XML_TEXT},
        },
    },
    "responses": {
        "200": {
            "description": "The answer WeChat reads: SUCCESS (handled) or FAIL (retry)",
            "content": {
                "application/xml": {
                    "schema": XML_TEXT,
                    "example": (
                        "<xml><return_code><![CDATA[SUCCESS]]></return_code>"
                        "<return_msg><![CDATA[OK]]></return_msg></xml>"
                    ),
                }
            },
        }
    },
}


def _refuse(reason: str, body: bytes, kind: str = "payment") -> Response:
    """Answer FAIL to a notification refused before its signature held: tally it (no whole
    body is kept) and alert at most once a minute per reason and sender (nothing the sender
    wrote is logged)."""
    remote = request.remote_addr
    count = record_rejected_notification(kind, body, reason, remote)
    alert_rejection(kind, reason, remote, count)
    return _xml(False, reason)


def _bounded_body(kind: str) -> bytes | Response:
    """The notification's body, or the FAIL answer to one over the size limit."""
    if (request.content_length or 0) > MAX_NOTIFICATION_BYTES:
        try:
            start = request.stream.read(REJECTED_EXCERPT_CHARS)
        except RequestEntityTooLarge:
            start = b""
        return _refuse("body too large", start, kind)
    return request.stream.read(MAX_NOTIFICATION_BYTES + 1)


@blp.post("/payments/wechat/notify")
@blp.doc(**NOTIFY_DOC)
def payment_notification() -> Response:
    """Verify signature, app, merchant and amount; credit the order once; answer SUCCESS."""
    body = _bounded_body("payment")
    if isinstance(body, Response):
        return body
    try:
        notice = parse_notification(body, current_app.config["SETTINGS"])
    except NotificationRejected as exc:
        if not exc.verified:
            return _refuse(exc.reason, body)
        # Signed with our key, yet not for us or not well formed: kept whole, always alerted.
        log.warning("ALERT signed payment notification rejected: %s (%s)",
                    exc.reason, exc.out_trade_no)  # fmt: skip
        record_notification("payment", body, f"rejected: {exc.reason}", exc.out_trade_no,
                            request.remote_addr)  # fmt: skip
        return _xml(False, exc.reason)
    remote = request.remote_addr
    # Verified from here on: kept whole, and every alert is logged.
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


REFUND_NOTIFY_DOC = {
    **NOTIFY_DOC,
    "summary": "WeChat Pay v2 refund notification",
    "description": (
        "Called by WeChat Pay, not by clients. req_info is decrypted with the merchant key "
        "(AES-256-ECB), appid and mch_id checked, the refund number and amount compared with "
        "ours; the refund is settled once. Always HTTP 200 with XML: SUCCESS when handled "
        "(now or before), FAIL otherwise (WeChat retries)."
    ),
}


@blp.post("/payments/wechat/refund-notify")
@blp.doc(**REFUND_NOTIFY_DOC)
def refund_notification() -> Response:
    """Decrypt and check the refund notice; settle the refund once; answer SUCCESS."""
    body = _bounded_body("refund")
    if isinstance(body, Response):
        return body
    try:
        state = parse_refund_notification(body, current_app.config["SETTINGS"])
    except NotificationRejected as exc:
        if not exc.verified:
            return _refuse(exc.reason, body, "refund")
        log.warning("ALERT refund notification rejected: %s (%s)", exc.reason, exc.out_trade_no)
        record_notification("refund", body, f"rejected: {exc.reason}", exc.out_trade_no,
                            request.remote_addr)  # fmt: skip
        return _xml(False, exc.reason)
    outcome = settle_refund(state)
    record_notification("refund", body, outcome.outcome, state.out_trade_no, request.remote_addr)
    if outcome.outbox_event_id is not None:
        after_commit(partial(apply_events, [outcome.outbox_event_id]))
    if outcome.handled:
        return _xml(True)
    return _xml(False, outcome.outcome)
