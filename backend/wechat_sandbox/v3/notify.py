"""v3 notifications: JSON with an AEAD_AES_256_GCM resource, signed per attempt.

The body is `{id, create_time, resource_type: encrypt-resource, event_type, summary,
resource: {original_type, algorithm, ciphertext, associated_data, nonce}}`; the headers
sign it (see `proto.signature_headers`) afresh on every attempt, so that a retry hours
later still carries a current timestamp. The merchant accepts with HTTP 200 or 204;
anything else, or no answer, is retried on WeChat's schedule.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from backend.wechat_sandbox import ids
from backend.wechat_sandbox.clock import BEIJING
from backend.wechat_sandbox.delivery import Prepared
from backend.wechat_sandbox.state import TRADE_STATE_DESC, Order, Refund
from backend.wechat_sandbox.v3 import aead, signing
from backend.wechat_sandbox.v3.keys import V3Keys
from backend.wechat_sandbox.v3.proto import JSON_MIMETYPE, dump_json, signature_headers

TRANSACTION_SUCCESS = "TRANSACTION.SUCCESS"
#: a settled refund's status -> its notice's summary (event_type is REFUND.<status>)
REFUND_SUMMARIES = {"SUCCESS": "退款成功", "ABNORMAL": "退款异常", "CLOSED": "退款关闭"}

# Deliberately bad notices the payer control call can send for a v3 order instead.
FORGE_SIGNATURE = "signature"  # right body, Wechatpay-Signature of something else
FORGE_AMOUNT = "amount"  # genuine signature and encryption, amount differs from the order
FORGE_KEY = "key"  # resource encrypted with another APIv3 key, genuinely signed
FORGE_CIPHERTEXT = "ciphertext"  # one byte of the ciphertext flipped, genuinely signed
FORGE_SERIAL = "serial"  # signed with another key, Wechatpay-Serial naming no known key
FORGE_TIMESTAMP = "timestamp"  # genuinely signed, but with a timestamp ten minutes old
FAIL_MODES = (
    FORGE_SIGNATURE,
    FORGE_AMOUNT,
    FORGE_KEY,
    FORGE_CIPHERTEXT,
    FORGE_SERIAL,
    FORGE_TIMESTAMP,
)
STALE_SECONDS = 600


def rfc3339(moment: datetime) -> str:
    """`2018-06-08T10:34:56+08:00`: Beijing time, as v3 writes times."""
    return moment.astimezone(BEIJING).isoformat(timespec="seconds")


def transaction_fields(order: Order) -> dict[str, Any]:
    """The transaction as the query answers it and the payment notice carries it."""
    paid = order.paid_at is not None
    state = order.trade_state
    fields: dict[str, Any] = {
        "appid": order.appid,
        "mchid": order.mch_id,
        "out_trade_no": order.out_trade_no,
        "transaction_id": order.transaction_id or None,
        "trade_type": order.trade_type,
        "trade_state": state,
        "trade_state_desc": TRADE_STATE_DESC[state],
        "bank_type": order.bank_type if paid else None,
        "attach": order.attach,
        "success_time": rfc3339(order.paid_at) if order.paid_at else None,
        "payer": {"openid": order.openid},
        "amount": {
            "total": order.total_fee,
            "payer_total": order.total_fee if paid else None,
            "currency": order.fee_type,
            "payer_currency": order.fee_type,
        },
    }
    fields["amount"] = {k: v for k, v in fields["amount"].items() if v is not None}
    return {name: value for name, value in fields.items() if value is not None}


def refund_amount(order: Order, refund: Refund) -> dict[str, Any]:
    """A refund's amount object."""
    return {
        "total": order.total_fee,
        "refund": refund.refund_fee,
        "payer_total": order.total_fee,
        "payer_refund": refund.refund_fee,
        "settlement_refund": refund.refund_fee,
        "settlement_total": order.total_fee,
        "discount_refund": 0,
        "currency": order.fee_type,
    }


def refund_notice_fields(order: Order, refund: Refund) -> dict[str, Any]:
    """The refund inside a REFUND.* notice."""
    fields: dict[str, Any] = {
        "mchid": order.mch_id,
        "out_trade_no": order.out_trade_no,
        "transaction_id": order.transaction_id,
        "out_refund_no": refund.out_refund_no,
        "refund_id": refund.refund_id,
        "refund_status": refund.status,
        "success_time": rfc3339(refund.success_at) if refund.success_at else None,
        "user_received_account": "支付用户零钱",
        "amount": {
            "total": order.total_fee,
            "refund": refund.refund_fee,
            "payer_total": order.total_fee,
            "payer_refund": refund.refund_fee,
        },
    }
    return {name: value for name, value in fields.items() if value is not None}


def notice_body(
    api_v3_key: str,
    now: datetime,
    event_type: str,
    summary: str,
    original_type: str,
    plain: dict[str, Any],
    tamper: bool = False,
) -> bytes:
    """The JSON body of a notice with `plain` encrypted (a flipped byte with `tamper`)."""
    nonce = ids.nonce_str(12)
    ciphertext = aead.encrypt(api_v3_key, nonce, original_type, dump_json(plain).decode())
    if tamper:
        raw = bytearray(base64.b64decode(ciphertext))
        raw[0] ^= 0x01
        ciphertext = base64.b64encode(bytes(raw)).decode("ascii")
    return dump_json(
        {
            "id": str(uuid.uuid4()),
            "create_time": rfc3339(now),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": {
                "original_type": original_type,
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": ciphertext,
                "associated_data": original_type,
                "nonce": nonce,
            },
        }
    )


def _signer(keys: V3Keys, fail: str | None) -> Callable[[bytes], dict[str, str]]:
    """The per-attempt header function, honest or forged per `fail`."""
    if fail == FORGE_SERIAL:
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        unknown = "PUB_KEY_ID_" + "".join(str(secrets.randbelow(10)) for _ in range(32))
        keys = V3Keys(keys.api_v3_key, keys.merchant_public_key, 0, stranger, unknown)

    def headers(body: bytes) -> dict[str, str]:
        signed = signature_headers(keys, body)
        if fail == FORGE_SIGNATURE:
            # Sign another body: a well-formed signature that does not fit this one.
            signed["Wechatpay-Signature"] = signature_headers(keys, body + b" ")[
                "Wechatpay-Signature"
            ]
        if fail == FORGE_TIMESTAMP:
            stale = str(int(signed["Wechatpay-Timestamp"]) - STALE_SECONDS)
            message = signing.answer_message(stale, signed["Wechatpay-Nonce"], body.decode())
            signed["Wechatpay-Timestamp"] = stale
            signed["Wechatpay-Signature"] = signing.sign(keys.pay_private_key, message)
        return signed

    return headers


def payment_prepared(keys: V3Keys, order: Order, now: datetime, fail: str | None) -> Prepared:
    """The TRANSACTION.SUCCESS notice of a paid order (or a forgery of it, per `fail`)."""
    plain = transaction_fields(order)
    if fail == FORGE_AMOUNT:
        forged = order.total_fee - 1 if order.total_fee > 1 else order.total_fee + 1
        plain["amount"] = {**plain["amount"], "total": forged, "payer_total": forged}
    api_v3_key = keys.api_v3_key
    if fail == FORGE_KEY:
        api_v3_key = secrets.token_hex(16)
    body = notice_body(
        api_v3_key,
        now,
        TRANSACTION_SUCCESS,
        "支付成功",
        "transaction",
        plain,
        tamper=fail == FORGE_CIPHERTEXT,
    )
    return Prepared(order.notify_url, body, JSON_MIMETYPE, _signer(keys, fail))


def refund_prepared(keys: V3Keys, order: Order, refund: Refund, now: datetime) -> Prepared:
    """The REFUND.<status> notice of a settled refund (url None: no notify_url was given)."""
    body = notice_body(
        keys.api_v3_key,
        now,
        "REFUND." + refund.status,
        REFUND_SUMMARIES[refund.status],
        "refund",
        refund_notice_fields(order, refund),
    )
    return Prepared(refund.notify_url or None, body, JSON_MIMETYPE, _signer(keys, None))


def merchant_accepted(response: requests.Response) -> bool:
    """v3 success: HTTP 200 or 204, whatever the body."""
    return response.status_code in (200, 204)
