"""The app's Redis connection (derived data only: counters, rate limits, queues)."""

from __future__ import annotations

import redis
from flask import Flask, current_app


def init_redis(app: Flask, url: str) -> None:
    """Bind a connection pool for `url` to the app."""
    app.extensions["redis"] = redis.Redis.from_url(
        url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30
    )


def get_redis() -> redis.Redis:
    """The current app's Redis client."""
    return current_app.extensions["redis"]
