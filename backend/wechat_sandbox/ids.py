"""Identifiers shaped like WeChat's."""

from __future__ import annotations

import base64
import secrets
import string
from datetime import datetime

from backend.wechat_sandbox.clock import BEIJING

_ALPHANUMERIC = string.ascii_letters + string.digits


def _digits(count: int) -> str:
    """`count` random decimal digits."""
    return "".join(secrets.choice(string.digits) for _ in range(count))


def _hex8() -> str:
    """Eight random hex digits."""
    return secrets.token_hex(4)


def rid() -> str:
    """A request id as WeChat appends to error messages (`rid: 6571b3a8-...`)."""
    return f"{_hex8()}-{_hex8()}-{_hex8()}"


def trace_id() -> str:
    """A content-security trace id."""
    return f"{_hex8()}-{_hex8()}-{_hex8()}"


def nonce_str(length: int = 32) -> str:
    """A random alphanumeric nonce."""
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


def access_token() -> str:
    """An opaque access token about as long as WeChat's."""
    return "SBX_" + secrets.token_urlsafe(96)


def session_key() -> str:
    """A session key: base64 of 16 random bytes, as WeChat's."""
    return base64.b64encode(secrets.token_bytes(16)).decode()


def prepay_id(now: datetime) -> str:
    """A prepay id: `wx`, Beijing time, then 20 more characters."""
    return "wx" + now.astimezone(BEIJING).strftime("%Y%m%d%H%M%S") + secrets.token_hex(10)


def transaction_id(now: datetime) -> str:
    """A 28-digit WeChat Pay order number."""
    return "42000" + _digits(5) + now.astimezone(BEIJING).strftime("%Y%m%d") + _digits(10)


def refund_id(now: datetime) -> str:
    """A 29-digit WeChat refund number."""
    return "50" + _digits(9) + now.astimezone(BEIJING).strftime("%Y%m%d") + _digits(10)


def msgid() -> int:
    """A subscribe message id."""
    return 10**17 + secrets.randbelow(9 * 10**17)
