"""The mini-program's message push URL: WeChat's events, such as media check verdicts."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from typing import Any

import redis
from flask import Response, current_app, g, request

from backend.api.base import Blueprint
from backend.api.schemas.base import ErrorSchema
from backend.common.errors import DomainError, Kind
from backend.common.time import utcnow
from backend.uploads.services import SUGGEST_TO_CHECK, record_media_check

log = logging.getLogger(__name__)

blp = Blueprint("wechat_events", __name__, description="微信消息推送（仅供微信服务器调用）")

#: a push's timestamp may be this far from our clock, either way
REPLAY_WINDOW_SECONDS = 300
#: an accepted nonce is remembered a little longer than any timestamp stays fresh: a query
#: signed at t is accepted until t + window, at most two windows after it is first seen
NONCE_TTL_SECONDS = 2 * REPLAY_WINDOW_SECONDS + 60
NONCE_PREFIX = "lsw:nonce:"
#: a sha1 in hex, as WeChat sends it
SIGNATURE_PATTERN = re.compile(r"[0-9a-fA-F]{40}")
REFUSALS = (
    "invalid_signature; stale_request (timestamp more than 5 minutes from our clock); "
    "replayed_request (nonce already used)"
)
REDIS_DOWN = "service_unavailable: the nonce cannot be checked; WeChat retries"


def message_token() -> str:
    """The token configured in the mini-program's message push settings (the sandbox's in
    development; required in production by the configuration check)."""
    return current_app.config["SETTINGS"].wechat_message_token


def push_signature(token: str, timestamp: str, nonce: str) -> str:
    """WeChat's message push signature: sha1 of token, timestamp and nonce, sorted and joined."""
    joined = "".join(sorted([token, timestamp, nonce]))
    return hashlib.sha1(joined.encode()).hexdigest()  # noqa: S324 - WeChat's algorithm


def invalid_signature() -> DomainError:
    """The one answer for a missing, malformed or wrong signature."""
    return DomainError(Kind.FORBIDDEN, "invalid_signature", "签名无效")


def nonce_key(nonce: str) -> str:
    """The Redis key remembering an accepted nonce (hashed: a bounded key, whatever sent)."""
    return NONCE_PREFIX + hashlib.sha256(nonce.encode()).hexdigest()


def verify_signature() -> None:
    """Refuse a request that WeChat did not sign with our token just now, or that was
    already received: the signature covers only token, timestamp and nonce (not the body),
    so a signed query must be good for one request within the replay window."""
    token = message_token()
    signature = request.args.get("signature", "")
    timestamp = request.args.get("timestamp", "")
    nonce = request.args.get("nonce", "")
    if not (token and timestamp and nonce) or not SIGNATURE_PATTERN.fullmatch(signature):
        raise invalid_signature()
    expected = push_signature(token, timestamp, nonce)
    # Bytes of an ASCII-only string: compare_digest refuses non-ASCII str arguments.
    if not hmac.compare_digest(expected.encode(), signature.lower().encode()):
        log.warning("WeChat push with a bad signature from %s", request.remote_addr)
        raise invalid_signature()
    if not is_fresh(timestamp):
        log.warning("WeChat push with a stale timestamp %s from %s", timestamp, request.remote_addr)
        raise DomainError(Kind.FORBIDDEN, "stale_request", "请求已过期")
    claim_nonce(nonce)


def is_fresh(timestamp: str) -> bool:
    """Whether the Unix time `timestamp` is within the replay window of our clock."""
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return False
    return abs(int(timestamp) - utcnow().timestamp()) <= REPLAY_WINDOW_SECONDS


def claim_nonce(nonce: str) -> None:
    """Remember `nonce` for longer than the window; refuse one already remembered.

    Fails closed: without Redis a replay cannot be told apart, so the push is refused with a
    503 and WeChat retries it. A push whose handling fails gives its nonce back (see
    `release_nonce`), so that a retry with the same query is not refused as a replay.
    """
    client: redis.Redis = current_app.extensions["redis"]
    key = nonce_key(nonce)
    try:
        claimed = client.set(key, "1", nx=True, ex=NONCE_TTL_SECONDS)
    except redis.RedisError as exc:
        log.error("WeChat push refused: nonce not checked, Redis %s", exc.__class__.__name__)
        raise DomainError(
            Kind.UNAVAILABLE, "service_unavailable", "服务暂时不可用，请稍后再试", retry_after=5
        ) from None
    if not claimed:
        log.warning("WeChat push with a used nonce from %s refused", request.remote_addr)
        raise DomainError(Kind.FORBIDDEN, "replayed_request", "请求重复")
    g.wechat_push_nonce = key


@blp.after_request
def release_nonce_on_error(response: Response) -> Response:
    """Give the nonce back when the push was not handled (an error answer)."""
    if response.status_code >= 400:
        release_nonce()
    return response


@blp.teardown_request
def release_nonce_on_exception(exc: BaseException | None) -> None:
    """Give the nonce back when an exception (a failed commit) ended the request."""
    if exc is not None:
        release_nonce()


def release_nonce() -> None:
    """Forget the nonce this request claimed, if any; a failure here is only logged."""
    key = g.pop("wechat_push_nonce", None)
    if key is None:
        return
    try:
        current_app.extensions["redis"].delete(key)
    except redis.RedisError as exc:
        log.warning("WeChat push nonce not released: Redis %s", exc.__class__.__name__)


def success() -> Response:
    """The plain-text answer WeChat expects once an event is handled."""
    return Response("success", mimetype="text/plain")


@blp.get("/wechat/events")
@blp.doc(responses={"200": {"description": "echostr, as WeChat's URL check expects"}})
@blp.alt_response(403, schema=ErrorSchema, description=REFUSALS)
@blp.alt_response(503, schema=ErrorSchema, description=REDIS_DOWN)
def verify_push_url() -> Response:
    """WeChat's check of the message push URL: echo `echostr` when the signature is ours."""
    verify_signature()
    return Response(request.args.get("echostr", ""), mimetype="text/plain")


@blp.post("/wechat/events")
@blp.doc(responses={"200": {"description": "`success` (plain text)"}})
@blp.alt_response(400, schema=ErrorSchema, description="bad_event")
@blp.alt_response(403, schema=ErrorSchema, description=REFUSALS)
@blp.alt_response(503, schema=ErrorSchema, description=REDIS_DOWN)
def receive_event() -> Response:
    """An event pushed by WeChat (JSON, plain-text mode); media check verdicts are recorded."""
    verify_signature()
    event: Any = request.get_json(force=True, silent=True)
    if not isinstance(event, dict):
        raise DomainError(Kind.BAD_REQUEST, "bad_event", "事件格式有误")
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
