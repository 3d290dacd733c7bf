"""Signed, expiring bearer tokens for logged-in users."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, SignatureExpired

from backend.common.signing import timed_serializer
from backend.common.time import utcnow

TOKEN_TTL = timedelta(days=7)


@dataclass(frozen=True)
class IssuedToken:
    """A token and when it stops working."""

    token: str
    expires_at: datetime


class TokenError(Exception):
    """The token is missing its signature, was altered, or has expired."""

    def __init__(self, expired: bool) -> None:
        super().__init__("token expired" if expired else "token invalid")
        self.expired = expired


def issue_token(user_id: int) -> IssuedToken:
    """A bearer token for `user_id`, valid for TOKEN_TTL."""
    return IssuedToken(timed_serializer("auth-token").dumps({"u": user_id}), utcnow() + TOKEN_TTL)


def read_token(token: str) -> int:
    """The user id inside a valid token; raises TokenError otherwise."""
    try:
        data = timed_serializer("auth-token").loads(token, max_age=int(TOKEN_TTL.total_seconds()))
    except SignatureExpired:
        raise TokenError(expired=True) from None
    except BadSignature:
        raise TokenError(expired=False) from None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        raise TokenError(expired=False)
    return data["u"]
