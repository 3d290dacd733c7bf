"""WeChat Pay v2 through wechatpy: unified order, query, close, and verified notifications.

Signatures are MD5 (sign_type MD5) both ways; every signature we check is compared in
constant time, including the answers of orderquery, which wechatpy itself does not check.
"""

from __future__ import annotations

import hmac
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from xml.parsers.expat import ExpatError

import xmltodict
from flask import Flask, current_app
from wechatpy.exceptions import InvalidSignatureException, WeChatPayException
from wechatpy.pay import WeChatPay
from wechatpy.pay.utils import calculate_signature

from backend.common.time import BEIJING
from backend.config import Settings

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
#: notifications are small; anything bigger is refused before parsing
MAX_NOTIFICATION_BYTES = 16 * 1024
#: WeChat's order numbers (out_trade_no, transaction_id): at most 32 of these characters
ORDER_NUMBER = re.compile(r"[0-9A-Za-z_\-|*@]{1,32}")


class NotificationRejected(Exception):
    """A notification we must answer FAIL to: bad XML, bad signature, or a mismatch.

    `reason` is one of a fixed set of texts, never the sender's; `verified` says whether
    the signature held (only WeChat, or whoever holds our key, can have sent it);
    `out_trade_no` is the order it names when that is well formed, else None.
    """

    def __init__(
        self, reason: str, out_trade_no: str | None = None, *, verified: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.out_trade_no = out_trade_no
        self.verified = verified


class LinshanWeChatPay(WeChatPay):
    """wechatpy's WeChatPay at the configured base URL, checking the answers' signatures."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            appid=settings.wechat_appid,
            api_key=settings.wechat_pay_key,
            mch_id=settings.wechat_mch_id,
            mch_cert=settings.wechat_mch_cert_path,
            mch_key=settings.wechat_mch_key_path,
            timeout=TIMEOUT_SECONDS,
        )
        self.API_BASE_URL = settings.wechat_pay_api_base

    def _handle_result(self, res: Any) -> Any:
        data = super()._handle_result(res)
        if isinstance(data, dict) and "sign" in data and not signature_matches(data, self.api_key):
            raise InvalidSignatureException()
        return data


def same_text(given: str, expected: str) -> bool:
    """Constant-time equality of two texts, whatever characters they hold.

    `hmac.compare_digest` refuses str with non-ASCII characters (TypeError); comparing the
    UTF-8 bytes answers False for any text a sender may put there instead of raising.
    """
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))


def signature_matches(data: dict[str, Any], api_key: str) -> bool:
    """Whether `data["sign"]` is the MD5 signature of the other fields (constant time)."""
    fields = {k: v for k, v in data.items() if k != "sign"}
    expected = calculate_signature(fields, api_key)
    return same_text(str(data.get("sign", "")).upper(), expected)


def init_payments(app: Flask) -> None:
    """Bind the WeChat Pay client, and the gateway `WECHAT_PAY_VERSION` names, to the app."""
    from backend.payments.gateway import init_gateway

    app.extensions["wechat_pay"] = LinshanWeChatPay(app.config["SETTINGS"])
    init_gateway(app)


def get_pay() -> LinshanWeChatPay:
    """The current app's WeChat Pay client."""
    return current_app.extensions["wechat_pay"]


def wechat_time(instant: datetime) -> datetime:
    """WeChat Pay's times are Beijing wall-clock times (yyyyMMddHHmmss)."""
    return instant.astimezone(BEIJING)


def flat_xml(body: bytes, root: str) -> dict[str, str] | None:
    """The fields of a flat XML document under `root` (entity declarations refused: XXE and
    entity bombs), empty ones as "", or None when it is not such a document."""
    try:
        document = xmltodict.parse(body, disable_entities=True)
    except (ExpatError, ValueError, LookupError, xmltodict.ParsingInterrupted):
        # LookupError: an XML declaration naming an encoding Python does not know
        return None
    data = document.get(root) if isinstance(document, dict) else None
    if not isinstance(data, dict) or any(not isinstance(v, str | None) for v in data.values()):
        return None
    return {k: v or "" for k, v in data.items()}


@dataclass(frozen=True)
class PaymentNotice:
    """The verified facts of a payment notification."""

    out_trade_no: str
    transaction_id: str
    total_fee: int
    paid: bool
    time_end: datetime | None
    openid: str | None
    raw: dict[str, Any]


def parse_notification(body: bytes, settings: Settings) -> PaymentNotice:
    """Parse and verify a payment notification; raise NotificationRejected if anything is off.

    Entity declarations are refused by the parser (XXE and entity bombs); the signature is
    checked in constant time; the app and merchant must be ours. The amount is checked
    against the order by the caller, which knows the order.
    """
    if len(body) > MAX_NOTIFICATION_BYTES:
        raise NotificationRejected("body too large")
    data = flat_xml(body, "xml")
    if data is None:
        raise NotificationRejected("malformed xml")
    out_trade_no = data.get("out_trade_no") or None
    named = out_trade_no if out_trade_no and ORDER_NUMBER.fullmatch(out_trade_no) else None
    if data.get("return_code") != "SUCCESS":
        raise NotificationRejected("return_code not SUCCESS", named)
    if not signature_matches(data, settings.wechat_pay_key):
        raise NotificationRejected("bad signature", named)

    def refuse(reason: str) -> NotificationRejected:
        return NotificationRejected(reason, named, verified=True)

    if not same_text(data.get("appid", ""), settings.wechat_appid):
        raise refuse("appid mismatch")
    if not same_text(data.get("mch_id", ""), settings.wechat_mch_id):
        raise refuse("mch_id mismatch")
    if not out_trade_no:
        raise refuse("no out_trade_no")
    if named is None:
        raise refuse("bad out_trade_no")  # never one of ours, nor storable
    fee = data.get("total_fee", "")
    # ASCII ("²".isdigit(), but int("²") raises) and short enough for a BIGINT
    if not (fee.isascii() and fee.isdigit() and len(fee) <= 18):
        raise refuse("bad total_fee")
    paid = data.get("result_code") == "SUCCESS"
    time_end = None
    if data.get("time_end"):
        try:
            time_end = datetime.strptime(data["time_end"], "%Y%m%d%H%M%S").replace(tzinfo=BEIJING)
        except ValueError:
            raise refuse("bad time_end") from None
    if paid and not data.get("transaction_id"):
        raise refuse("no transaction_id")
    if data.get("transaction_id") and not ORDER_NUMBER.fullmatch(data["transaction_id"]):
        raise refuse("bad transaction_id")
    return PaymentNotice(
        out_trade_no=out_trade_no,
        transaction_id=data.get("transaction_id", ""),
        total_fee=int(fee),
        paid=paid,
        time_end=time_end,
        openid=data.get("openid") or None,
        raw=data,
    )


def answer(success: bool, message: str = "OK") -> str:
    """The XML WeChat expects back from a notification."""
    code = "SUCCESS" if success else "FAIL"
    safe = message.replace("]]>", "")
    return (
        f"<xml><return_code><![CDATA[{code}]]></return_code>"
        f"<return_msg><![CDATA[{safe}]]></return_msg></xml>"
    )


def notice_from_orderquery(result: dict[str, Any]) -> PaymentNotice | None:
    """A PaymentNotice from a (signature-checked) orderquery answer of a paid order."""
    if result.get("trade_state") != "SUCCESS":
        return None
    time_end = None
    if result.get("time_end"):
        time_end = datetime.strptime(result["time_end"], "%Y%m%d%H%M%S").replace(tzinfo=BEIJING)
    return PaymentNotice(
        out_trade_no=result["out_trade_no"],
        transaction_id=result["transaction_id"],
        total_fee=int(result["total_fee"]),
        paid=True,
        time_end=time_end,
        openid=result.get("openid"),
        raw=result,
    )


def query_order(out_trade_no: str) -> dict[str, Any]:
    """orderquery: WeChat's view of an order (signature checked)."""
    return get_pay().order.query(out_trade_no=out_trade_no)


def close_order(out_trade_no: str) -> dict[str, Any]:
    """closeorder: WeChat refuses it within 5 minutes of the order's creation."""
    return get_pay().order.close(out_trade_no)


def download_bill(day: date) -> str | None:
    """downloadbill (bill_type ALL): the Beijing day's bill as CSV text, None when WeChat
    has none for that day ("No Bill Exist"). wechatpy hands back a body it cannot read as
    XML unchanged, which is how the bill comes; an error comes as XML and raises."""
    try:
        result = get_pay().tools.download_bill(day, bill_type="ALL")
    except WeChatPayException as exc:
        if exc.return_msg == "No Bill Exist":
            return None
        raise
    if not isinstance(result, str):
        raise WeChatPayException("FAIL", None, "downloadbill answered XML, not a bill")
    return result


__all__ = [
    "MAX_NOTIFICATION_BYTES",
    "InvalidSignatureException",
    "NotificationRejected",
    "PaymentNotice",
    "WeChatPayException",
    "answer",
    "close_order",
    "download_bill",
    "flat_xml",
    "get_pay",
    "init_payments",
    "notice_from_orderquery",
    "parse_notification",
    "query_order",
    "same_text",
    "signature_matches",
    "wechat_time",
]
