"""Mini-program identity APIs: access tokens, jscode2session, phone numbers."""

from __future__ import annotations

import hmac
from datetime import timedelta

from flask import Blueprint, Response, jsonify, request

from backend.wechat_sandbox import ids
from backend.wechat_sandbox.identity import (
    login_name,
    openid_for,
    phone_for,
    phone_name,
    unionid_for,
)
from backend.wechat_sandbox.runtime import Sandbox, current_sandbox
from backend.wechat_sandbox.state import Token
from backend.wechat_sandbox.wxjson import (
    DATA_FORMAT_ERROR,
    read_json,
    token_required,
    wx_error,
    wx_ok,
)

bp = Blueprint("sandbox_miniprogram", __name__)

INVALID_GRANT_TYPE = (40002, "invalid grant_type")
APPID_MISSING = (41002, "appid missing")
INVALID_APPID = (40013, "invalid appid")
APPSECRET_MISSING = (41004, "appsecret missing")
INVALID_APPSECRET = (40125, "invalid appsecret")
MISSING_CODE = (41008, "missing code")
INVALID_CODE = (40029, "invalid code")
CODE_BEEN_USED = (40163, "code been used")
# An older token keeps working this long after a new one is issued, as WeChat documents.
TOKEN_OVERLAP = timedelta(minutes=5)


def _check_app(sandbox: Sandbox, appid: str, secret: str) -> tuple[int, str] | None:
    """The error for a wrong appid or secret, if any."""
    config = sandbox.config
    if not appid:
        return APPID_MISSING
    if appid != config.appid:
        return INVALID_APPID
    if not secret:
        return APPSECRET_MISSING
    if not hmac.compare_digest(secret.encode(), config.secret.encode()):
        return INVALID_APPSECRET
    return None


def _issue_token(sandbox: Sandbox, kind: str) -> Token:
    """A new token of `kind`; older ones of that kind stop working five minutes later (40001)."""
    now = sandbox.clock.now()
    token = Token(ids.access_token(), kind, now + timedelta(seconds=sandbox.config.token_ttl))
    with sandbox.state.lock:
        for other in sandbox.state.tokens.values():
            if other.kind == kind and other.superseded_at is None:
                other.superseded_at = now + TOKEN_OVERLAP
        sandbox.state.tokens[token.value] = token
    return token


@bp.get("/cgi-bin/token")
def access_token() -> Response:
    """getAccessToken: a new token each call."""
    sandbox = current_sandbox()
    args = request.args
    if args.get("grant_type") != "client_credential":
        return wx_error(INVALID_GRANT_TYPE)
    error = _check_app(sandbox, args.get("appid", ""), args.get("secret", ""))
    if error:
        return wx_error(error)
    token = _issue_token(sandbox, "token")
    return jsonify({"access_token": token.value, "expires_in": sandbox.config.token_ttl})


@bp.post("/cgi-bin/stable_token")
def stable_access_token() -> Response:
    """getStableAccessToken: the same token while it lives, unless force_refresh."""
    sandbox = current_sandbox()
    data = read_json()
    if data is None:
        return wx_error(DATA_FORMAT_ERROR)
    if data.get("grant_type") != "client_credential":
        return wx_error(INVALID_GRANT_TYPE)
    error = _check_app(sandbox, str(data.get("appid") or ""), str(data.get("secret") or ""))
    if error:
        return wx_error(error)
    now = sandbox.clock.now()
    with sandbox.state.lock:
        live = [
            token
            for token in sandbox.state.tokens.values()
            if token.kind == "stable"
            and token.superseded_at is None
            and token.expires_at - now > TOKEN_OVERLAP
        ]
        token = (
            max(live, key=lambda t: t.expires_at)
            if live and data.get("force_refresh") is not True
            else _issue_token(sandbox, "stable")
        )
    return jsonify(
        {"access_token": token.value, "expires_in": int((token.expires_at - now).total_seconds())}
    )


@bp.get("/sns/jscode2session")
def code_to_session() -> Response:
    """code2Session: `NAME` or `NAME.NONCE` logs in as sandbox user NAME, once per code."""
    sandbox = current_sandbox()
    args = request.args
    error = _check_app(sandbox, args.get("appid", ""), args.get("secret", ""))
    if error:
        return wx_error(error)
    if args.get("grant_type") != "authorization_code":
        return wx_error(INVALID_GRANT_TYPE)
    code = args.get("js_code", "")
    if not code:
        return wx_error(MISSING_CODE)
    name = login_name(code)
    if name is None:
        return wx_error(INVALID_CODE)
    openid = openid_for(sandbox.config.appid, name)
    with sandbox.state.lock:
        if code in sandbox.state.used_codes:
            return wx_error(CODE_BEEN_USED)
        sandbox.state.used_codes.add(code)
        sandbox.state.users[openid] = name
    return jsonify(
        {"session_key": ids.session_key(), "openid": openid, "unionid": unionid_for(name)}
    )


@bp.post("/wxa/business/getuserphonenumber")
@token_required
def user_phone_number() -> Response:
    """getPhoneNumber: `phone:NAME` (or `phone:NAME.NONCE`) gives NAME's number, once per code."""
    sandbox = current_sandbox()
    data = read_json()
    if data is None:
        return wx_error(DATA_FORMAT_ERROR)
    code = str(data.get("code") or "")
    if not code:
        return wx_error(MISSING_CODE)
    name = phone_name(code)
    if name is None:
        return wx_error(INVALID_CODE)
    key = "phone-code:" + code
    with sandbox.state.lock:
        if key in sandbox.state.used_codes:
            return wx_error(CODE_BEEN_USED)
        sandbox.state.used_codes.add(key)
    number = phone_for(name)
    return wx_ok(
        phone_info={
            "phoneNumber": number,
            "purePhoneNumber": number,
            "countryCode": "86",
            "watermark": {
                "timestamp": int(sandbox.clock.now().timestamp()),
                "appid": sandbox.config.appid,
            },
        }
    )
