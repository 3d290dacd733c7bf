"""WeChat Pay's notifications: verified, recorded, applied exactly once (v2: XML in, XML out;
v3: JSON in, 204 or a JSON error out)."""

from __future__ import annotations

import json
import logging
from functools import partial

from flask import Response, current_app, g, request
from werkzeug.exceptions import InternalServerError, RequestEntityTooLarge

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
from backend.errors import DATABASE_DOWN
from backend.metrics import count_notification
from backend.payments.refunds import RefundState, parse_refund_notification
from backend.payments.v3 import V3Gateway, V3Notice, parse_v3_notification
from backend.payments.wechat_pay import (
    MAX_NOTIFICATION_BYTES,
    NotificationRejected,
    PaymentNotice,
    answer,
    parse_notification,
)
from backend.progress.service import apply_events
from backend.refunds.services import RefundOutcome, settle_refund

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
    count_notification(kind, "rejected", reason)
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
        _keep_rejected("payment", body, exc)
        return _xml(False, exc.reason)
    label = _credited(notice, body)
    return _xml(True) if label in HANDLED else _xml(False, label)


def _keep_rejected(kind: str, body: bytes, exc: NotificationRejected) -> None:
    """A notification signed with our key, yet not for us or not well formed: kept whole,
    counted and always alerted (v2 and v3 alike)."""
    count_notification(kind, "rejected", exc.reason)
    log.warning("ALERT signed %s notification rejected: %s (%s)", kind, exc.reason,
                exc.out_trade_no)  # fmt: skip
    record_notification(kind, body, f"rejected: {exc.reason}", exc.out_trade_no,
                        request.remote_addr)  # fmt: skip


def _credited(notice: PaymentNotice, body: bytes) -> str:
    """Credit a verified payment notice once (v2 and v3 alike): counted, kept whole, the
    counter following after the commit, every alert logged; what became of it."""
    remote = request.remote_addr
    outcome = apply_payment(notice, body, remote)
    label = "applied" if outcome.applied else outcome.reason
    count_notification("payment", label)
    if not outcome.recorded:
        record_notification("payment", body, label, notice.out_trade_no, remote)
    if outcome.applied:
        after_commit(partial(after_payment, outcome))
    if label not in HANDLED:
        log.warning("ALERT payment notification for %s not credited: %s",
                    notice.out_trade_no, label)  # fmt: skip
    return label


def _not_handled(exc: Exception) -> Response:
    """A notification the database failed under (down, restarting, the commit lost): FAIL in
    WeChat's XML, with a 5xx so the boundary rolls back; WeChat sends it again later and the
    order is credited then, once."""
    cause = getattr(exc, "original_exception", None) or exc
    log.error("%s not handled, WeChat will retry: %s", request.path, cause.__class__.__name__)
    count_notification("refund" if "refund" in request.path else "payment", "unavailable")
    if "/v3/" in request.path:
        return _v3_answer(False, "temporarily unavailable", 503)
    return Response(answer(False, "temporarily unavailable"), status=503,
                    mimetype="application/xml")  # fmt: skip


# Blueprint handlers come before the app's: these answer in XML, not the API's JSON.
for _error in (*DATABASE_DOWN, InternalServerError):
    blp.register_error_handler(_error, _not_handled)


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
        _keep_rejected("refund", body, exc)
        return _xml(False, exc.reason)
    outcome = _settled(state, body)
    return _xml(True) if outcome.handled else _xml(False, outcome.outcome)


def _settled(state: RefundState, body: bytes) -> RefundOutcome:
    """Settle a verified refund notice once (v2 and v3 alike): count, keep, and have the
    counter follow after the commit."""
    outcome = settle_refund(state)
    count_notification("refund", outcome.outcome)
    record_notification("refund", body, outcome.outcome, state.out_trade_no, request.remote_addr)
    if outcome.outbox_event_id is not None:
        after_commit(partial(apply_events, [outcome.outbox_event_id]))
    return outcome


# WeChat Pay v3: JSON in; 204 when handled (now or before), else {"code": "FAIL", ...} with a
# 4xx/5xx status, which WeChat retries. One code path with v2 once the notice is parsed.

V3_FAIL = {
    "type": "object",
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
}
V3_NOTIFY_DOC = {
    "summary": "WeChat Pay v3 payment notification (TRANSACTION.SUCCESS)",
    "description": (
        "Called by WeChat Pay, not by clients, when the merchant account speaks APIv3. "
        "Wechatpay-Signature is checked over timestamp, nonce and body with the WeChat Pay "
        "public key (or the platform certificate Wechatpay-Serial names); a timestamp more "
        "than 5 minutes off or an unknown serial is refused; the AEAD_AES_256_GCM resource is "
        "decrypted with the APIv3 key; appid, mchid and amount are checked; the order is "
        "credited once. 204 when handled (now or before); otherwise a JSON error that "
        "WeChat retries."
    ),
    "security": [],
    "requestBody": {
        "required": True,
        "description": "WeChat's signed notification (JSON), at most 16 KiB",
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
    "responses": {
        "204": {"description": "Handled, now or before"},
        "400": {
            "description": "Signed, yet not for us or not creditable (retried)",
            "content": {"application/json": {"schema": V3_FAIL}},
        },
        "401": {
            "description": "Not signed by WeChat Pay (bad signature, stale, unknown serial)",
            "content": {"application/json": {"schema": V3_FAIL}},
        },
        "404": {"description": "The app's merchant account speaks v2"},
    },
}


def _v3_answer(success: bool, message: str = "", status: int = 400) -> Response:
    """204, or v3's JSON error; the request's data is kept either way."""
    g.commit_despite_status = True
    if success:
        return Response(status=204)
    return Response(json.dumps({"code": "FAIL", "message": message}), status=status,
                    mimetype="application/json")  # fmt: skip


def _v3_parse(kind: str) -> tuple[V3Notice, bytes] | Response:
    """The verified notice and its body, or the answer to one refused (tallied or kept as
    v2's are)."""
    gateway = current_app.extensions.get("payment_gateway")
    if not isinstance(gateway, V3Gateway):
        return Response(status=404)
    body = _bounded_body(kind)
    if isinstance(body, Response):
        return _v3_answer(False, "body too large", 413)
    try:
        return parse_v3_notification(request.headers, body, gateway.keys), body
    except NotificationRejected as exc:
        if not exc.verified:
            _refuse(exc.reason, body, kind)
            return _v3_answer(False, exc.reason, 401)
        _keep_rejected(kind, body, exc)
        return _v3_answer(False, exc.reason)


@blp.post("/payments/wechat/v3/notify")
@blp.doc(**V3_NOTIFY_DOC)
def payment_notification_v3() -> Response:
    """Verify and decrypt; credit the order once; answer 204."""
    parsed = _v3_parse("payment")
    if isinstance(parsed, Response):
        return parsed
    event, body = parsed
    if event.payment is None:
        count_notification("payment", "rejected", "not a payment")
        record_notification("payment", body, "rejected: not a payment", None,
                            request.remote_addr)  # fmt: skip
        return _v3_answer(False, "not a payment event")
    label = _credited(event.payment, body)
    return _v3_answer(True) if label in HANDLED else _v3_answer(False, label)


V3_REFUND_NOTIFY_DOC = {
    **V3_NOTIFY_DOC,
    "summary": "WeChat Pay v3 refund notification (REFUND.SUCCESS/ABNORMAL/CLOSED)",
    "description": (
        "Called by WeChat Pay, not by clients, when the merchant account speaks APIv3. "
        "Signature, timestamp and serial checked and the resource decrypted as for payments; "
        "mchid, the refund number and amount compared with ours; the refund is settled once. "
        "204 when handled (now or before); otherwise a JSON error that WeChat retries."
    ),
}


@blp.post("/payments/wechat/v3/refund-notify")
@blp.doc(**V3_REFUND_NOTIFY_DOC)
def refund_notification_v3() -> Response:
    """Verify and decrypt the refund notice; settle the refund once; answer 204."""
    parsed = _v3_parse("refund")
    if isinstance(parsed, Response):
        return parsed
    event, body = parsed
    if event.refund is None:
        count_notification("refund", "rejected", "not a refund")
        record_notification("refund", body, "rejected: not a refund", None,
                            request.remote_addr)  # fmt: skip
        return _v3_answer(False, "not a refund event")
    outcome = _settled(event.refund, body)
    return _v3_answer(True) if outcome.handled else _v3_answer(False, outcome.outcome)
