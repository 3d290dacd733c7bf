"""WeChat Pay v2 signatures, written from WeChat's "安全规范" page.

Sort the non-empty parameters except `sign` by key (ASCII order), join them as `k=v`
with `&`, append `&key=API_KEY`, then MD5 (or HMAC-SHA256 keyed with the API key) and
uppercase hex.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

MD5 = "MD5"
HMAC_SHA256 = "HMAC-SHA256"
SIGN_TYPES = (MD5, HMAC_SHA256)


def string_to_sign(params: Mapping[str, object], key: str) -> str:
    """The `k=v&...&key=KEY` string that is hashed."""
    pairs = [
        f"{name}={params[name]}"
        for name in sorted(params)
        if name != "sign" and params[name] is not None and str(params[name]) != ""
    ]
    pairs.append(f"key={key}")
    return "&".join(pairs)


def sign(params: Mapping[str, object], key: str, sign_type: str = MD5) -> str:
    """The uppercase hex signature of `params` under `key`."""
    message = string_to_sign(params, key).encode("utf-8")
    if sign_type == HMAC_SHA256:
        return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest().upper()
    if sign_type == MD5:
        return hashlib.md5(message).hexdigest().upper()  # noqa: S324 - WeChat's protocol
    raise ValueError(f"unknown sign_type {sign_type!r}")


def verify(params: Mapping[str, str], key: str) -> bool:
    """Whether `params["sign"]` is right, under the sign_type the params name (MD5 default)."""
    given = params.get("sign") or ""
    sign_type = params.get("sign_type") or MD5
    if sign_type not in SIGN_TYPES or not given:
        return False
    return hmac.compare_digest(given.encode(), sign(params, key, sign_type).encode())
