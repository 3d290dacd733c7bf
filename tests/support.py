"""Helpers shared by test modules."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def with_database(url: str, name: str) -> str:
    """The libpq URL of database `name` on the server of `url` (socket folder kept)."""
    parts = urlsplit(url)
    scheme = "postgresql" if parts.scheme.startswith("postgres") else parts.scheme
    return urlunsplit((scheme, parts.netloc, f"/{name}", parts.query, ""))


def with_redis_db(url: str, number: int) -> str:
    """The same Redis server, database `number`."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        # urlunsplit would drop the empty authority: "unix:/path", which redis-py refuses.
        return f"unix://{parts.path}?db={number}"
    return urlunsplit((parts.scheme, parts.netloc, f"/{number}", parts.query, ""))


def assert_error_shape(body: dict, code: int, error: str) -> None:
    """Every error answers `{code, status, error, message[, errors]}` with a Chinese message."""
    assert body["code"] == code, body
    assert isinstance(body["status"], str) and body["status"]
    assert body["error"] == error, body
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"]), body["message"]
    assert set(body) <= {"code", "status", "error", "message", "errors"}
