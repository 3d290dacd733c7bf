"""Checking pooled connections only when they have been idle.

`pool_pre_ping` costs a round trip on every checkout, i.e. on every request; a connection
used a moment ago is alive. This pings only connections idle longer than IDLE_SECONDS,
and a dead one is replaced transparently (the pool retries on DisconnectionError).
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

IDLE_SECONDS = 30.0


def ping_idle_connections(engine: Engine) -> None:
    """Install the checkout and checkin hooks on `engine`'s pool."""

    @sa.event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.get("checked_in_at")
        if idle_since is None or time.monotonic() - idle_since < IDLE_SECONDS:
            return
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
        except Exception as exc:
            raise sa.exc.DisconnectionError() from exc
