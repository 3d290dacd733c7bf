"""WeChat Pay v2 request checks and signed replies shared by the pay endpoints.

Protocol errors (a body that is not safe flat XML, an unknown mch_id, a bad signature)
answer `return_code FAIL` with a `return_msg` and no signature, as WeChat does. Anything
after a verified signature answers `return_code SUCCESS` with `result_code` SUCCESS or
FAIL (`err_code`, `err_code_des`), signed with the request's sign_type.
"""

from __future__ import annotations

import functools
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass

from flask import Response, request

from backend.wechat_sandbox import ids, signing
from backend.wechat_sandbox.runtime import Sandbox, current_sandbox
from backend.wechat_sandbox.state import Order
from backend.wechat_sandbox.xmlio import XmlRejected, parse_flat_xml, to_flat_xml

XML_MIMETYPE = "text/xml"
_MERCHANT_NO = re.compile(r"^[0-9A-Za-z_\-|*@]+$")


class PayFail(Exception):
    """A protocol error: `return_code FAIL`."""

    def __init__(self, return_msg: str) -> None:
        """Carry WeChat's return_msg."""
        super().__init__(return_msg)
        self.return_msg = return_msg


class PayBizError(Exception):
    """A business error: `result_code FAIL` with err_code and err_code_des."""

    def __init__(self, err_code: str, err_code_des: str) -> None:
        """Carry WeChat's err_code and its description."""
        super().__init__(f"{err_code}: {err_code_des}")
        self.err_code = err_code
        self.err_code_des = err_code_des


@dataclass
class PayRequest:
    """A verified request."""

    fields: dict[str, str]
    sign_type: str

    def get(self, name: str) -> str:
        """A field's value, '' when absent."""
        return self.fields.get(name, "")


PayHandler = Callable[[Sandbox, PayRequest], "dict[str, object] | Response"]


def xml_response(fields: dict[str, object]) -> Response:
    """An XML answer."""
    return Response(to_flat_xml(fields), mimetype=XML_MIMETYPE)


def fail_response(return_msg: str, **extra: object) -> Response:
    """`<return_code>FAIL</return_code>` with return_msg (and any extra fields), unsigned."""
    return xml_response({"return_code": "FAIL", "return_msg": return_msg, **extra})


def read_request(sandbox: Sandbox) -> PayRequest:
    """Parse and verify the request body; raise PayFail on a protocol error."""
    body = request.get_data(cache=False)
    if not body.strip():
        raise PayFail("post数据为空")
    try:
        fields = parse_flat_xml(body)
    except XmlRejected as exc:
        raise PayFail("XML格式错误") from exc
    config = sandbox.config
    mch_id = fields.get("mch_id", "")
    if not hmac.compare_digest(mch_id.encode(), config.mch_id.encode()):
        raise PayFail("mch_id参数格式错误")
    sign_type = fields.get("sign_type") or signing.MD5
    if sign_type not in signing.SIGN_TYPES:
        raise PayFail("sign_type参数格式错误")
    if not signing.verify(fields, config.pay_key):
        raise PayFail("签名错误")
    return PayRequest(fields, sign_type)


def require(req: PayRequest, *names: str) -> None:
    """Raise LACK_PARAMS for the first missing field."""
    for name in names:
        if not req.get(name):
            raise PayBizError("LACK_PARAMS", f"缺少参数{name}")


def signed_reply(sandbox: Sandbox, req: PayRequest, fields: dict[str, object]) -> Response:
    """The signed SUCCESS envelope around `fields` (which hold result_code)."""
    reply: dict[str, object] = {
        "return_code": "SUCCESS",
        "return_msg": "OK",
        "appid": req.get("appid"),
        "mch_id": req.get("mch_id"),
        "nonce_str": ids.nonce_str(),
    }
    reply.update({name: value for name, value in fields.items() if value not in (None, "")})
    reply["sign"] = signing.sign(reply, sandbox.config.pay_key, req.sign_type)
    return xml_response(reply)


def pay_endpoint(handler: PayHandler) -> Callable[[], Response]:
    """Wrap a handler with request verification, the appid check and the reply envelope."""

    @functools.wraps(handler)
    def view() -> Response:
        sandbox = current_sandbox()
        try:
            req = read_request(sandbox)
        except PayFail as exc:
            return fail_response(exc.return_msg)
        try:
            require(req, "appid", "nonce_str")
            if req.get("appid") != sandbox.config.appid:
                raise PayBizError("APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
            if len(req.get("nonce_str")) > 32:
                raise PayBizError("INVALID_REQUEST", "nonce_str参数格式错误")
            result = handler(sandbox, req)
        except PayBizError as exc:
            fields: dict[str, object] = {
                "result_code": "FAIL",
                "err_code": exc.err_code,
                "err_code_des": exc.err_code_des,
            }
            return signed_reply(sandbox, req, fields)
        if isinstance(result, Response):
            return result
        return signed_reply(sandbox, req, {"result_code": "SUCCESS", **result})

    return view


def positive_fen(req: PayRequest, name: str, err_code: str = "INVALID_REQUEST") -> int:
    """A positive integer amount in fen, or the error WeChat gives."""
    text = req.get(name)
    if not (text.isascii() and text.isdigit()) or int(text) <= 0 or len(text) > 12:
        raise PayBizError(err_code, f"{name}参数格式错误")
    return int(text)


def merchant_no(req: PayRequest, name: str, limit: int, err_code: str = "INVALID_REQUEST") -> str:
    """A merchant order or refund number: at most `limit` of [0-9A-Za-z_-|*@]."""
    value = req.get(name)
    if len(value) > limit or not _MERCHANT_NO.match(value):
        raise PayBizError(err_code, f"{name}参数格式错误")
    return value


def checked_notify_url(value: str, err_code: str = "INVALID_REQUEST") -> str:
    """A notify URL: http(s), no query string, at most 256 characters."""
    if not value.startswith(("http://", "https://")) or "?" in value or len(value) > 256:
        raise PayBizError(err_code, "notify_url参数格式错误")
    return value


def find_order(sandbox: Sandbox, req: PayRequest) -> Order:
    """The order named by transaction_id (first) or out_trade_no."""
    if not req.get("transaction_id") and not req.get("out_trade_no"):
        raise PayBizError("LACK_PARAMS", "缺少参数out_trade_no或transaction_id")
    with sandbox.state.lock:
        if req.get("transaction_id"):
            order = sandbox.state.order_by_transaction_id(req.get("transaction_id"))
        else:
            order = sandbox.state.orders.get(req.get("out_trade_no"))
    if order is None:
        raise PayBizError("ORDERNOTEXIST", "order not exist")
    return order
