"""Who is calling: the bearer token of the request, checked once per request."""

from __future__ import annotations

from flask import g, request

from backend.accounts.models import User
from backend.accounts.tokens import TokenError, read_token
from backend.common.errors import DomainError, Kind
from backend.extensions import db

#: OpenAPI security requirement for views that need a login
BEARER = [{"bearerAuth": []}]
SECURITY_SCHEME = {"type": "http", "scheme": "bearer", "description": "token from wechat-login"}


def current_user() -> User | None:
    """The logged-in user, None for anonymous callers; a bad token is a 401."""
    if "current_user" in g:
        return g.current_user
    header = request.headers.get("Authorization", "")
    user = None
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise DomainError(Kind.UNAUTHORIZED, "invalid_token", "登录状态无效，请重新登录")
        try:
            user_id = read_token(token.strip())
        except TokenError as exc:
            if exc.expired:
                raise DomainError(
                    Kind.UNAUTHORIZED, "token_expired", "登录已过期，请重新登录"
                ) from None
            raise DomainError(
                Kind.UNAUTHORIZED, "invalid_token", "登录状态无效，请重新登录"
            ) from None
        user = db.session.get(User, user_id)
        if user is None or user.deleted_at is not None:
            raise DomainError(Kind.UNAUTHORIZED, "invalid_token", "登录状态无效，请重新登录")
    g.current_user = user
    return user


def login_required() -> User:
    """The logged-in user, or a 401."""
    user = current_user()
    if user is None:
        raise DomainError(Kind.UNAUTHORIZED, "unauthorized", "请先登录")
    return user


def token_user_id() -> int | None:
    """The user id of the request's bearer token when it is well formed, signed by us and
    unexpired, else None; no database read (a deleted user's token still names them: use
    it only where what it unlocks is checked otherwise, as copies and rate limits do)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        return read_token(token.strip())
    except TokenError:
        return None
