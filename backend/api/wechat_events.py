"""The mini-program's message push URL: WeChat's events, such as media check verdicts."""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

from flask import Response, current_app, request
from flask_smorest import Blueprint

from backend.errors import ApiError
from backend.uploads.services import SUGGEST_TO_CHECK, record_media_check

log = logging.getLogger(__name__)

blp = Blueprint("wechat_events", __name__, description="微信消息推送（仅供微信服务器调用）")


def message_token() -> str:
    """The token configured in the mini-program's message push settings (the sandbox's in
    development; required in production by the configuration check)."""
    return current_app.config["SETTINGS"].wechat_message_token


def push_signature(token: str, timestamp: str, nonce: str) -> str:
    """WeChat's message push signature: sha1 of token, timestamp and nonce, sorted and joined."""
    joined = "".join(sorted([token, timestamp, nonce]))
    return hashlib.sha1(joined.encode()).hexdigest()  # noqa: S324 - WeChat's algorithm


def verify_signature() -> None:
    """Refuse a request that WeChat did not sign with our token."""
    token = message_token()
    signature = request.args.get("signature", "")
    timestamp = request.args.get("timestamp", "")
    nonce = request.args.get("nonce", "")
    if not (token and signature and timestamp and nonce):
        raise ApiError(403, "invalid_signature", "签名无效")
    expected = push_signature(token, timestamp, nonce)
    if not hmac.compare_digest(expected, signature.lower()):
        log.warning("WeChat push with a bad signature from %s", request.remote_addr)
        raise ApiError(403, "invalid_signature", "签名无效")


def success() -> Response:
    """The plain-text answer WeChat expects once an event is handled."""
    return Response("success", mimetype="text/plain")


@blp.get("/wechat/events")
@blp.doc(responses={"200": {"description": "echostr, as WeChat's URL check expects"}})
def verify_push_url() -> Response:
    """WeChat's check of the message push URL: echo `echostr` when the signature is ours."""
    verify_signature()
    return Response(request.args.get("echostr", ""), mimetype="text/plain")


@blp.post("/wechat/events")
@blp.doc(responses={"200": {"description": "`success` (plain text)"}})
def receive_event() -> Response:
    """An event pushed by WeChat (JSON, plain-text mode); media check verdicts are recorded."""
    verify_signature()
    event: Any = request.get_json(force=True, silent=True)
    if not isinstance(event, dict):
        raise ApiError(400, "bad_event", "事件格式有误")
    if event.get("Event") == "wxa_media_check":
        handle_media_check(event)
    else:
        log.info("WeChat event %r ignored", event.get("Event") or event.get("MsgType"))
    return success()


def handle_media_check(event: dict[str, Any]) -> None:
    """Record the verdict of an asynchronous media check on its upload."""
    trace_id = event.get("trace_id")
    if not isinstance(trace_id, str) or not trace_id:
        log.warning("wxa_media_check event without a trace_id ignored")
        return
    appid = event.get("appid")
    own_appid = current_app.config["SETTINGS"].wechat_appid
    if appid and appid != own_appid:
        log.warning("wxa_media_check %s for another appid %s ignored", trace_id, appid)
        return
    result = event.get("result")
    if isinstance(result, dict):
        suggest = result.get("suggest")
    elif "isrisky" in event:
        # Version 1 events say only whether the media is risky.
        suggest = "risky" if event["isrisky"] else "pass"
    else:
        suggest = None
    check = SUGGEST_TO_CHECK.get(suggest) if isinstance(suggest, str) else None
    if check is None:
        log.warning("wxa_media_check %s without a usable verdict ignored: %r", trace_id, event)
        return
    if record_media_check(trace_id, check) is None:
        # Answered with success all the same: WeChat's retries would not make it known.
        log.warning("wxa_media_check for unknown trace_id %s (%s)", trace_id, check)
