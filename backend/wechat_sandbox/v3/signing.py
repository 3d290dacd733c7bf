"""APIv3 signatures, from WeChat Pay's "签名生成" and "签名验证" pages.

A request's signature is SHA256withRSA (PKCS#1 v1.5) over five lines, each ending in
`\\n`, the last one too: the HTTP method, the URL's path and query as sent, the
timestamp (Unix seconds), the nonce and the body (empty for GET). It travels as
`Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",
timestamp="…",serial_no="…"` (base64 signature, serial of the merchant API certificate).

An answer or notification is signed the same way over three lines: timestamp, nonce,
body; WeChat sends them as `Wechatpay-Timestamp`, `Wechatpay-Nonce`,
`Wechatpay-Signature` and names its key in `Wechatpay-Serial`.
"""

from __future__ import annotations

import base64
import binascii
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

SCHEME = "WECHATPAY2-SHA256-RSA2048"
AUTH_FIELDS = ("mchid", "nonce_str", "signature", "timestamp", "serial_no")
_PARAM = re.compile(r'\s*([a-z_]+)="([^"]*)"\s*')


def request_message(method: str, url: str, timestamp: str, nonce: str, body: str) -> str:
    """The string a merchant signs for a request (url: path and query, as sent)."""
    return f"{method}\n{url}\n{timestamp}\n{nonce}\n{body}\n"


def answer_message(timestamp: str, nonce: str, body: str) -> str:
    """The string WeChat signs for an answer or a notification."""
    return f"{timestamp}\n{nonce}\n{body}\n"


def sign(private_key: RSAPrivateKey, message: str) -> str:
    """Base64 SHA256withRSA signature of `message` (UTF-8)."""
    raw = private_key.sign(message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(raw).decode("ascii")


def verify(public_key: RSAPublicKey, message: str, signature: str) -> bool:
    """Whether `signature` (base64) is `message`'s SHA256withRSA signature under the key."""
    try:
        raw = base64.b64decode(signature, validate=True)
        public_key.verify(raw, message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def parse_authorization(header: str) -> dict[str, str] | None:
    """The fields of an Authorization header, or None when it is not WeChat's scheme.

    Every one of AUTH_FIELDS must be present, once; no other text is allowed.
    """
    scheme, _, rest = header.strip().partition(" ")
    if scheme != SCHEME:
        return None
    fields: dict[str, str] = {}
    for part in rest.split(","):
        match = _PARAM.fullmatch(part)
        if match is None or match.group(1) in fields:
            return None
        fields[match.group(1)] = match.group(2)
    if set(fields) != set(AUTH_FIELDS):
        return None
    return fields
