"""Content security: msgSecCheck (text) and mediaCheckAsync (images and audio).

Text or a media URL containing a configured flagged word is "risky" with that word's
label; one containing a review word is "review"; anything else "pass" (label 100). A
media URL containing the marker "flagged" is risky with label 20002 as well. The result
of mediaCheckAsync is pushed to the media callback URL as a `wxa_media_check` event.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

import requests
from flask import Blueprint, Response

from backend.wechat_sandbox import ids
from backend.wechat_sandbox.config import LABEL_NORMAL, LABEL_OTHER, SandboxConfig
from backend.wechat_sandbox.delivery import Job, Prepared
from backend.wechat_sandbox.runtime import Sandbox, current_sandbox
from backend.wechat_sandbox.wxjson import (
    DATA_FORMAT_ERROR,
    INVALID_ARGS,
    INVALID_OPENID,
    read_json,
    token_required,
    wx_error,
    wx_ok,
)

bp = Blueprint("sandbox_security", __name__)

RISKY_CONTENT = (87014, "risky content")
MEDIA_FLAG_MARKER = "flagged"
MEDIA_FLAG_LABEL = 20002
MAX_TEXT_V2 = 2500
SCENES = (1, 2, 3, 4)  # 1 profile, 2 comment, 3 forum, 4 social log


def classify(text: str, config: SandboxConfig) -> tuple[str, int, str]:
    """(suggest, label, matched word) for a text."""
    for word, label in config.flagged_words.items():
        if word in text:
            return "risky", label, word
    for word in config.review_words:
        if word in text:
            return "review", LABEL_OTHER, word
    return "pass", LABEL_NORMAL, ""


def classify_media(url: str, config: SandboxConfig) -> tuple[str, int, str]:
    """(suggest, label, matched word) for a media URL."""
    decoded = unquote(url)
    if MEDIA_FLAG_MARKER in decoded.lower():
        return "risky", MEDIA_FLAG_LABEL, MEDIA_FLAG_MARKER
    return classify(decoded, config)


def _detail(suggest: str, label: int, word: str) -> list[dict[str, Any]]:
    """The per-strategy detail list of a version 2 answer."""
    detail: list[dict[str, Any]] = [
        {"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label, "prob": 90}
    ]
    if word:
        detail.append(
            {
                "strategy": "keyword",
                "errcode": 0,
                "suggest": suggest,
                "label": label,
                "level": 20 if suggest == "risky" else 10,
                "keyword": word,
            }
        )
    return detail


def _v2_args_error(data: dict[str, Any]) -> tuple[int, str] | None:
    """The error for a version 2 request without a usable openid or scene."""
    if not isinstance(data.get("openid"), str) or not data["openid"]:
        return INVALID_OPENID
    if data.get("scene") not in SCENES:
        return INVALID_ARGS
    return None


@bp.post("/wxa/msg_sec_check")
@token_required
def msg_sec_check() -> Response:
    """msgSecCheck, version 1 (87014 when risky) or 2 (a result object)."""
    config = current_sandbox().config
    data = read_json()
    if data is None:
        return wx_error(DATA_FORMAT_ERROR)
    content = data.get("content")
    if not isinstance(content, str) or not content:
        return wx_error(INVALID_ARGS)
    suggest, label, word = classify(content, config)
    if data.get("version") != 2:
        return wx_error(RISKY_CONTENT) if suggest == "risky" else wx_ok()
    error = _v2_args_error(data)
    if error:
        return wx_error(error)
    if len(content) > MAX_TEXT_V2:
        return wx_error(INVALID_ARGS)
    return wx_ok(
        result={"suggest": suggest, "label": label},
        detail=_detail(suggest, label, word),
        trace_id=ids.trace_id(),
    )


@bp.post("/wxa/media_check_async")
@token_required
def media_check_async() -> Response:
    """mediaCheckAsync: answer a trace_id now, push the verdict a little later."""
    sandbox = current_sandbox()
    data = read_json()
    if data is None:
        return wx_error(DATA_FORMAT_ERROR)
    media_url = data.get("media_url")
    if not isinstance(media_url, str) or not media_url.startswith(("http://", "https://")):
        return wx_error(INVALID_ARGS)
    if data.get("media_type") not in (1, 2):
        return wx_error(INVALID_ARGS)
    version = 2 if data.get("version") == 2 else 1
    if version == 2:
        error = _v2_args_error(data)
        if error:
            return wx_error(error)
    trace = ids.trace_id()
    suggest, label, word = classify_media(media_url, sandbox.config)
    record = {
        "trace_id": trace,
        "media_url": media_url,
        "media_type": data["media_type"],
        "version": version,
        "openid": data.get("openid"),
        "scene": data.get("scene"),
        "result": {"suggest": suggest, "label": label},
        "detail": _detail(suggest, label, word),
        "requested_at": sandbox.clock.now().isoformat(),
    }
    with sandbox.state.lock:
        sandbox.state.media_checks.append(record)
    _submit_push(sandbox, record)
    return wx_ok(trace_id=trace)


def _event(record: dict[str, Any], sandbox: Sandbox) -> dict[str, Any]:
    """The wxa_media_check event WeChat pushes for a finished check."""
    config = sandbox.config
    event: dict[str, Any] = {
        "ToUserName": config.original_id,
        "FromUserName": record["openid"] or "",
        "CreateTime": int(sandbox.clock.now().timestamp()),
        "MsgType": "event",
        "Event": "wxa_media_check",
        "appid": config.appid,
        "trace_id": record["trace_id"],
    }
    if record["version"] == 2:
        event.update(
            version=2,
            detail=record["detail"],
            errcode=0,
            errmsg="ok",
            result=record["result"],
        )
    else:
        event.update(isrisky=int(record["result"]["suggest"] == "risky"), extra_info_json="")
        event["status_code"] = 0
    return event


def signed_push_url(url: str, token: str, timestamp: int, nonce: str) -> str:
    """Add WeChat's message-push signature (sha1 of sorted token, timestamp, nonce)."""
    parts = sorted([token, str(timestamp), nonce])
    signature = hashlib.sha1("".join(parts).encode()).hexdigest()  # noqa: S324 - WeChat's
    split = urlsplit(url)
    query = urlencode({"signature": signature, "timestamp": str(timestamp), "nonce": nonce})
    joined = f"{split.query}&{query}" if split.query else query
    return urlunsplit((split.scheme, split.netloc, split.path, joined, split.fragment))


def _accepted(response: requests.Response) -> bool:
    """A push is delivered when the server answers 2xx (WeChat expects "success" or "")."""
    return 200 <= response.status_code < 300


def _submit_push(sandbox: Sandbox, record: dict[str, Any]) -> None:
    """Queue the push of a media check's verdict."""
    config = sandbox.config

    def prepare() -> Prepared:
        current = sandbox.config  # the callback URL may have been set since the request
        body = json.dumps(_event(record, sandbox), ensure_ascii=False).encode("utf-8")
        url = current.media_callback_url
        if url:
            timestamp = int(sandbox.clock.now().timestamp())
            nonce = str(1_000_000_000 + secrets.randbelow(9_000_000_000))
            url = signed_push_url(url, current.message_token, timestamp, nonce)
        return Prepared(url, body, "application/json")

    sandbox.deliveries.submit(
        Job(
            kind="media_check",
            prepare=prepare,
            accepts=_accepted,
            initial_delay=config.scaled(config.media_check_seconds),
            delays=tuple(config.scaled(gap) for gap in config.push_retry_schedule),
            timeout=config.delivery_timeout,
            keys={"trace_id": record["trace_id"]},
        )
    )
