"""APIv3 request checks and signed answers shared by the v3 endpoints.

Every request must carry a valid `Authorization` header (see `signing`); every answer,
errors included, is JSON signed with the sandbox's key. Errors are
`{"code": "...", "message": "..."}` with WeChat's HTTP status. Authentication failures
all answer 401 SIGN_ERROR, each with its own message: a missing or malformed header,
another mchid, a serial_no other than the merchant certificate's, a timestamp more than
five minutes from real time (the merchant's clock is real, the sandbox clock is not
consulted), a nonce longer than 32 characters, a signature that does not verify.
"""

from __future__ import annotations

import functools
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from flask import Response, current_app, request

from backend.wechat_sandbox import ids
from backend.wechat_sandbox.runtime import Sandbox, current_sandbox
from backend.wechat_sandbox.v3 import signing
from backend.wechat_sandbox.v3.keys import EXTENSION_KEY, V3Keys

MAX_CLOCK_SKEW_SECONDS = 300
MAX_NONCE = 32
JSON_MIMETYPE = "application/json"

PARAM_ERROR = "PARAM_ERROR"
INVALID_REQUEST = "INVALID_REQUEST"
SIGN_ERROR = "SIGN_ERROR"


class V3Error(Exception):
    """An error answer: HTTP status, WeChat's code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        """Carry what the answer says."""
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def param_error(message: str) -> V3Error:
    """400 PARAM_ERROR."""
    return V3Error(400, PARAM_ERROR, message)


def sign_error(message: str) -> V3Error:
    """401 SIGN_ERROR."""
    return V3Error(401, SIGN_ERROR, message)


@dataclass
class V3Request:
    """An authenticated request: the signing merchant and the JSON body ({} when none)."""

    mchid: str
    data: dict[str, Any] = field(default_factory=dict)


#: handler(sandbox, req, **view_args) -> (status, payload or None) | Response
V3Handler = Callable[..., Any]


def current_keys() -> V3Keys:
    """The v3 key material of the current app."""
    return current_app.extensions[EXTENSION_KEY]


def signature_headers(keys: V3Keys, body: bytes) -> dict[str, str]:
    """Wechatpay-* headers signing `body` now, with a fresh nonce."""
    timestamp = str(int(time.time()))
    nonce = ids.nonce_str()
    message = signing.answer_message(timestamp, nonce, body.decode("utf-8"))
    return {
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": signing.sign(keys.pay_private_key, message),
        "Wechatpay-Serial": keys.pay_serial,
    }


def dump_json(payload: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, as WeChat sends it."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signed_response(keys: V3Keys, status: int, payload: dict[str, Any] | None) -> Response:
    """A signed answer (204 and similar carry no body, and sign the empty string)."""
    body = b"" if payload is None else dump_json(payload)
    response = Response(body, status=status, mimetype=JSON_MIMETYPE if body else None)
    response.headers.update(signature_headers(keys, body))
    response.headers["Request-ID"] = ids.nonce_str(24)
    return response


def request_target() -> str:
    """The path and query as the client sent them (what it signed)."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not raw:
        return request.full_path.rstrip("?")
    if raw.startswith(("http://", "https://")):
        parts = urlsplit(raw)
        return parts.path + ("?" + parts.query if parts.query else "")
    return raw


def authenticate(sandbox: Sandbox, keys: V3Keys) -> V3Request:
    """Check the Authorization header against the request; parse the JSON body."""
    fields = signing.parse_authorization(request.headers.get("Authorization", ""))
    if fields is None:
        raise sign_error("Authorization头缺失或格式错误")
    if not hmac.compare_digest(fields["mchid"].encode(), sandbox.config.mch_id.encode()):
        raise sign_error("商户号不存在或与签名证书不匹配")
    if not keys.merchant_serial_matches(fields["serial_no"]):
        raise sign_error("证书序列号不存在或已失效")
    timestamp = fields["timestamp"]
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise sign_error("timestamp格式错误")
    if abs(time.time() - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
        raise sign_error("请求时间戳与当前时间相差超过5分钟")
    nonce = fields["nonce_str"]
    if not nonce or len(nonce) > MAX_NONCE:
        raise sign_error("nonce_str格式错误")
    try:
        body = request.get_data(cache=True).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise param_error("请求体不是UTF-8编码") from exc
    message = signing.request_message(request.method, request_target(), timestamp, nonce, body)
    if not signing.verify(keys.merchant_public_key, message, fields["signature"]):
        raise sign_error("签名错误，请检查后再试")
    data: Any = {}
    if body:
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise param_error("请求体不是合法的JSON") from exc
        if not isinstance(data, dict):
            raise param_error("请求体应为JSON对象")
    return V3Request(fields["mchid"], data)


def v3_endpoint(handler: V3Handler) -> Callable[..., Response]:
    """Wrap `handler(sandbox, req, **view_args)` with authentication and signed answers.

    The handler returns (status, payload or None) or a ready Response (a bill file).
    """

    @functools.wraps(handler)
    def view(**view_args: Any) -> Response:
        sandbox = current_sandbox()
        keys = current_keys()
        try:
            req = authenticate(sandbox, keys)
            result = handler(sandbox, req, **view_args)
        except V3Error as exc:
            return signed_response(keys, exc.status, {"code": exc.code, "message": exc.message})
        if isinstance(result, Response):
            return result
        status, payload = result
        return signed_response(keys, status, payload)

    return view


def text_field(data: dict[str, Any], name: str, limit: int, required: bool = True) -> str:
    """A string field of at most `limit` UTF-8 bytes ('' when optional and absent)."""
    value = data.get(name)
    if value is None:
        if required:
            raise param_error(f"缺少参数{name}")
        return ""
    if not isinstance(value, str) or len(value.encode("utf-8")) > limit:
        raise param_error(f"{name}参数格式错误")
    if required and not value:
        raise param_error(f"缺少参数{name}")
    return value


def object_field(data: dict[str, Any], name: str) -> dict[str, Any]:
    """A required JSON object field."""
    value = data.get(name)
    if value is None:
        raise param_error(f"缺少参数{name}")
    if not isinstance(value, dict):
        raise param_error(f"{name}参数格式错误")
    return value


def fen_field(data: dict[str, Any], name: str, path: str) -> int:
    """A positive integer amount in fen (JSON number, not a string)."""
    value = data.get(name)
    if value is None:
        raise param_error(f"缺少参数{path}")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 10**12:
        raise param_error(f"{path}参数格式错误")
    return value


def currency_field(data: dict[str, Any], path: str) -> str:
    """An optional currency: CNY only."""
    value = data.get("currency", "CNY")
    if value != "CNY":
        raise param_error(f"{path}参数格式错误")
    return "CNY"


def check_mchid(req: V3Request, value: object) -> None:
    """A body (or query) mchid must be the signing merchant's."""
    if value is None or value == "":
        raise param_error("缺少参数mchid")
    if value != req.mchid:
        raise param_error("mchid与请求签名的商户号不一致")
