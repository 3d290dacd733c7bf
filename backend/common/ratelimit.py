"""Fixed-window rate limits in Redis (derived data: losing them only resets the windows)."""

from __future__ import annotations

import logging

import redis
from flask import current_app

from backend.common.errors import DomainError, Kind
from backend.common.time import utcnow

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60


def hit(bucket: str, limit: int) -> None:
    """Count one call in `bucket`'s current minute; past `limit` it is a 429."""
    window = int(utcnow().timestamp()) // WINDOW_SECONDS
    key = f"lsr:{bucket}:{window}"
    client: redis.Redis = current_app.extensions["redis"]
    try:
        pipe = client.pipeline()
        pipe.incr(key)
        pipe.expire(key, WINDOW_SECONDS * 2)
        count = pipe.execute()[0]
    except redis.RedisError as exc:
        # Failing open: a Redis outage must not stop donations; the log says so.
        log.warning("rate limit %s not checked: Redis %s", bucket, exc.__class__.__name__)
        return
    if count > limit:
        raise DomainError(Kind.TOO_MANY, "rate_limited", "操作过于频繁，请稍后再试")
