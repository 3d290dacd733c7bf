"""Domain errors: what went wrong, said once, for the API, the CLI and the worker alike.

A service raises `DomainError` with a stable snake_case identifier, a Chinese message for
people, a `Kind` (not found, conflict, ...) and, for invalid input, the fields at fault.
Domain packages know nothing of HTTP: `backend.errors` maps each kind to a status.
"""

from __future__ import annotations

import enum
from typing import Any


class Kind(enum.StrEnum):
    """What sort of failure a domain error is (the HTTP layer maps each to a status)."""

    INVALID = "invalid"  # the input breaks a rule (422)
    BAD_REQUEST = "bad_request"  # the request itself is malformed (400)
    UNAUTHORIZED = "unauthorized"  # nobody is logged in (401)
    FORBIDDEN = "forbidden"  # someone is, without the right (403)
    NOT_FOUND = "not_found"  # no such thing, or not visible to the caller (404)
    CONFLICT = "conflict"  # not possible in the object's present state (409)
    TOO_LARGE = "too_large"  # more data than allowed (413)
    UNSUPPORTED = "unsupported"  # a kind of content not accepted (415)
    TOO_MANY = "too_many"  # a rate limit (429)
    UPSTREAM = "upstream"  # WeChat or another service failed (502)
    UNAVAILABLE = "unavailable"  # a service of ours is down for now (503)


class DomainError(Exception):
    """A rule of the domain refused the operation; nothing was changed."""

    def __init__(
        self,
        kind: Kind,
        error: str,
        message: str,
        errors: dict[str, Any] | None = None,
        *,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(f"{error}: {message}")
        self.kind = kind
        self.error = error
        self.message = message
        self.errors = errors
        self.retry_after = retry_after


def not_found(error: str, message: str) -> DomainError:
    """A missing object (or one the caller may not know exists)."""
    return DomainError(Kind.NOT_FOUND, error, message)


def conflict(error: str, message: str) -> DomainError:
    """An operation the object's present state does not allow."""
    return DomainError(Kind.CONFLICT, error, message)


def invalid(error: str, message: str, errors: dict[str, Any] | None = None) -> DomainError:
    """Input that breaks a rule, naming the fields at fault."""
    return DomainError(Kind.INVALID, error, message, errors)


def forbidden(error: str = "forbidden", message: str = "没有权限执行此操作") -> DomainError:
    """A caller without the right to do this."""
    return DomainError(Kind.FORBIDDEN, error, message)


def unauthorized() -> DomainError:
    """Nobody is logged in."""
    return DomainError(Kind.UNAUTHORIZED, "unauthorized", "请先登录")
