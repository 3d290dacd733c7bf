"""Where the current operation came from (the client's address, the request id), for the
audit log, without the domain knowing of HTTP: the web layer sets it for each request."""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass


@dataclass(frozen=True)
class Origin:
    """The client's address and the request id of the operation under way (None outside one)."""

    ip_address: str | None = None
    request_id: str | None = None


_current: ContextVar[Origin] = ContextVar("linshan_origin", default=Origin())  # noqa: B039 - frozen


def set_origin(origin: Origin) -> Token[Origin]:
    """Record where the operation under way came from; reset with the token."""
    return _current.set(origin)


def reset_origin(token: Token[Origin]) -> None:
    """Forget the origin set with `token`."""
    _current.reset(token)


def current_origin() -> Origin:
    """Where the operation under way came from."""
    return _current.get()
