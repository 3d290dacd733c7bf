"""WeChat Pay v2 refunds through wechatpy: apply, query, and the encrypted refund notice.

A refund notice carries no signature: its content is `req_info`, AES-256-ECB under the
MD5 of the merchant's API key. That only the key's holder can make a `req_info` that
decrypts and parses is what authenticates it; the facts inside (the refund number, the
order, the amount) are then checked against our own refund by the caller.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from wechatpy.exceptions import WeChatPayException

from backend.common.time import BEIJING
from backend.config import Settings
from backend.payments.wechat_pay import (
    MAX_NOTIFICATION_BYTES,
    ORDER_NUMBER,
    NotificationRejected,
    flat_xml,
    get_pay,
    same_text,
)

#: WeChat's refund_desc holds at most 80 bytes
REFUND_DESC_MAX_BYTES = 80
#: refund errors worth asking again later (the refund was not made; the same out_refund_no
#: makes it at most once however often it is sent)
RETRYABLE_ERRORS = frozenset(
    {"SYSTEMERROR", "BIZERR_NEED_RETRY", "FREQUENCY_LIMITED", "INVALID_REQ_TOO_MUCH", "NOTENOUGH"}
)
#: refund states: SUCCESS and the two failures are final
FINAL_STATES = frozenset({"SUCCESS", "CHANGE", "REFUNDCLOSE"})


def truncated_desc(reason: str) -> str:
    """The reason cut to WeChat's 80 bytes, never inside a character."""
    data = reason.encode("utf-8")[:REFUND_DESC_MAX_BYTES]
    return data.decode("utf-8", errors="ignore")


def apply_refund(
    *, out_trade_no: str, out_refund_no: str, total_fee: int, refund_fee: int, reason: str,
    notify_url: str,
) -> dict[str, Any]:  # fmt: skip
    """申请退款 (secapi/pay/refund, with the merchant certificate where configured): WeChat's
    answer, signature checked; raises WeChatPayException when refused or unreachable."""
    return get_pay().refund.apply(
        total_fee=total_fee,
        refund_fee=refund_fee,
        out_refund_no=out_refund_no,
        out_trade_no=out_trade_no,
        refund_desc=truncated_desc(reason) or None,
        notify_url=notify_url,
    )


def is_retryable(exc: WeChatPayException) -> bool:
    """Whether a refused or failed call may be sent again: WeChat was not reached, answered
    something unreadable, or named a passing condition."""
    return exc.errcode is None or exc.errcode in RETRYABLE_ERRORS


@dataclass(frozen=True)
class RefundState:
    """What WeChat says of one refund: SUCCESS, PROCESSING, CHANGE or REFUNDCLOSE."""

    out_trade_no: str
    out_refund_no: str
    refund_id: str
    refund_fee: int
    status: str
    success_time: datetime | None


def _beijing_time(text: str | None) -> datetime | None:
    """WeChat's `yyyy-MM-dd HH:mm:ss` (Beijing) as an aware time."""
    if not text:
        return None
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)


def query_refund(out_refund_no: str) -> RefundState | None:
    """查询退款 (pay/refundquery) for one refund number: its state, or None when WeChat
    knows no such refund (REFUNDNOTEXIST). Raises WeChatPayException otherwise."""
    try:
        result = get_pay().refund.query(out_refund_no=out_refund_no)
    except WeChatPayException as exc:
        if exc.errcode == "REFUNDNOTEXIST":
            return None
        raise
    count = int(result.get("refund_count") or 0)
    for n in range(count):
        if result.get(f"out_refund_no_{n}") == out_refund_no:
            return RefundState(
                out_trade_no=result["out_trade_no"],
                out_refund_no=out_refund_no,
                refund_id=result.get(f"refund_id_{n}") or "",
                refund_fee=int(result[f"refund_fee_{n}"]),
                status=result.get(f"refund_status_{n}") or "",
                success_time=_beijing_time(result.get(f"refund_success_time_{n}")),
            )
    return None


def req_info_key(api_key: str) -> bytes:
    """The AES key of req_info: the lowercase hex MD5 of the API key (32 ASCII bytes)."""
    return hashlib.md5(api_key.encode("utf-8")).hexdigest().encode("ascii")  # noqa: S324


def decrypt_req_info(req_info: str, api_key: str) -> bytes:
    """Decrypt req_info; ValueError when it is not base64, not whole blocks or badly padded."""
    try:
        data = base64.b64decode(req_info, validate=True)
    except binascii.Error:
        raise ValueError("not base64") from None
    if not data or len(data) % 16:
        raise ValueError("not whole blocks")
    # ECB is WeChat's choice for this field, not ours.
    decryptor = Cipher(algorithms.AES(req_info_key(api_key)), modes.ECB()).decryptor()  # noqa: S305
    padded = decryptor.update(data) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def _fen(value: str) -> int | None:
    """A fen amount as WeChat writes it, or None."""
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None


def parse_refund_notification(body: bytes, settings: Settings) -> RefundState:
    """Decrypt and check a refund notice; raise NotificationRejected when anything is off
    (`verified` once req_info decrypted with our key)."""
    if len(body) > MAX_NOTIFICATION_BYTES:
        raise NotificationRejected("body too large")
    outer = flat_xml(body, "xml")
    if outer is None:
        raise NotificationRejected("malformed xml")
    if outer.get("return_code") != "SUCCESS":
        raise NotificationRejected("return_code not SUCCESS")
    try:
        plain = decrypt_req_info(outer.get("req_info", ""), settings.wechat_pay_key)
    except ValueError:
        raise NotificationRejected("bad req_info") from None
    inner = flat_xml(plain, "root")
    if inner is None:
        raise NotificationRejected("bad req_info")
    out_trade_no = inner.get("out_trade_no", "")
    named = out_trade_no if ORDER_NUMBER.fullmatch(out_trade_no) else None

    def refuse(reason: str) -> NotificationRejected:
        return NotificationRejected(reason, named, verified=True)

    if not same_text(outer.get("appid", ""), settings.wechat_appid):
        raise refuse("appid mismatch")
    if not same_text(outer.get("mch_id", ""), settings.wechat_mch_id):
        raise refuse("mch_id mismatch")
    out_refund_no = inner.get("out_refund_no", "")
    if named is None or not 1 <= len(out_refund_no) <= 64:
        raise refuse("bad refund numbers")
    refund_fee = _fen(inner.get("refund_fee", ""))
    if refund_fee is None:
        raise refuse("bad refund_fee")
    status = inner.get("refund_status", "")
    if status not in FINAL_STATES:
        raise refuse("bad refund_status")
    try:
        success_time = _beijing_time(inner.get("success_time"))
    except ValueError:
        raise refuse("bad success_time") from None
    return RefundState(
        out_trade_no=out_trade_no,
        out_refund_no=out_refund_no,
        refund_id=inner.get("refund_id", "")[:32],
        refund_fee=refund_fee,
        status=status,
        success_time=success_time,
    )
