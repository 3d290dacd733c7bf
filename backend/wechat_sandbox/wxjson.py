"""JSON answers of the mini-program APIs, and their access-token check."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from flask import Response, jsonify, request

from backend.wechat_sandbox import ids
from backend.wechat_sandbox.runtime import current_sandbox

# Errors shared by the mini-program APIs (WeChat's global return codes).
ACCESS_TOKEN_MISSING = (41001, "access_token missing")
INVALID_CREDENTIAL = (40001, "invalid credential, access_token is invalid or not latest")
ACCESS_TOKEN_EXPIRED = (42001, "access_token expired")
DATA_FORMAT_ERROR = (47001, "data format error")
INVALID_ARGS = (40097, "invalid args")
INVALID_OPENID = (40003, "invalid openid")


def wx_ok(**fields: Any) -> Response:
    """`{"errcode": 0, "errmsg": "ok", ...}`."""
    return jsonify({"errcode": 0, "errmsg": "ok", **fields})


def wx_error(error: tuple[int, str]) -> Response:
    """WeChat's error shape, with a request id in errmsg; HTTP 200 as WeChat answers."""
    code, message = error
    return jsonify({"errcode": code, "errmsg": f"{message}, rid: {ids.rid()}"})


def read_json() -> dict[str, Any] | None:
    """The request body as a JSON object whatever its Content-Type (wechatpy sends none)."""
    try:
        data = json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def token_required(view: Callable[..., Response]) -> Callable[..., Response]:
    """Answer 41001/40001/42001 unless `access_token` names a live token."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        token = request.args.get("access_token", "")
        if not token:
            return wx_error(ACCESS_TOKEN_MISSING)
        sandbox = current_sandbox()
        with sandbox.state.lock:
            record = sandbox.state.tokens.get(token)
            problem = record.problem(sandbox.clock.now()) if record else "unknown"
        if problem == "expired":
            return wx_error(ACCESS_TOKEN_EXPIRED)
        if problem:
            return wx_error(INVALID_CREDENTIAL)
        return view(*args, **kwargs)

    return wrapper
