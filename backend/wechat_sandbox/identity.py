"""Sandbox users: login and phone codes, and the stable ids derived from a user's NAME.

A login code is `NAME` or `NAME.NONCE`; a phone code is `phone:NAME` or `phone:NAME.NONCE`.
NAME is 1-32 characters of [A-Za-z0-9_-], NONCE 1-64 of the same. The same NAME always
gives the same openid (per appid), unionid and phone number.
"""

from __future__ import annotations

import base64
import hashlib
import re

_CODE = re.compile(r"^([A-Za-z0-9_-]{1,32})(?:\.[A-Za-z0-9_-]{1,64})?$")
PHONE_PREFIX = "phone:"


def login_name(code: str) -> str | None:
    """The sandbox user a login code logs in as, or None when the code is malformed."""
    match = _CODE.match(code)
    return match.group(1) if match else None


def phone_name(code: str) -> str | None:
    """The sandbox user a phone code belongs to, or None when the code is malformed."""
    if not code.startswith(PHONE_PREFIX):
        return None
    return login_name(code[len(PHONE_PREFIX) :])


def _id28(seed: str) -> str:
    """`o` and 27 base64url characters of sha256(seed): 28 characters, like WeChat's ids."""
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return "o" + base64.urlsafe_b64encode(digest).decode().rstrip("=")[:27]


def openid_for(appid: str, name: str) -> str:
    """The openid of sandbox user `name` under `appid`."""
    return _id28(appid + name)


def unionid_for(name: str) -> str:
    """The unionid of sandbox user `name` (the same under every appid, as WeChat's)."""
    return _id28("unionid:" + name)


def phone_for(name: str) -> str:
    """A stable mainland mobile number, 139 and eight digits derived from `name`."""
    digest = hashlib.sha256(("phone:" + name).encode("utf-8")).digest()
    return "139" + f"{int.from_bytes(digest[:8], 'big') % 10**8:08d}"
