"""Rate limits in Redis: token buckets (derived data: losing them only refills the buckets).

Each bucket is one Redis key holding a theoretical arrival time (GCRA, the generic cell rate
algorithm): `per_minute` calls a minute, of which up to `burst` (a minute's worth unless
given) may come at once. The window slides with every call, so there is no minute boundary
at which a client may send twice its allowance, and a refused call spends nothing: a client
that keeps hammering waits no longer than one that stops. One script, one round trip,
atomic on any number of nodes.

Who a bucket belongs to is the caller's choice (`caller_bucket`): the user when logged in,
wherever they call from; the address only for anonymous calls, with a looser limit, since
a charity space's Wi-Fi puts many residents behind one address and one heavy client must
not lock the others out.
"""

from __future__ import annotations

import logging
import math

import redis
from flask import current_app

from backend.common.errors import DomainError, Kind
from backend.common.time import utcnow

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60

#: KEYS[1] the bucket; ARGV: now (ms), ms per call, burst tolerance (ms).
#: Answers 0 when allowed, else the ms to wait until the next call would be.
GCRA = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
-- past now + tolerance + interval no call could have put it: the clock went back; start over
if tat < now or tat > now + tolerance + interval then tat = now end
local wait = tat - tolerance - now
if wait > 0 then return math.ceil(wait) end
local new_tat = tat + interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now))
return 0
"""


def caller_bucket(action: str, user_id: int | None, address: str | None) -> str:
    """The bucket of a call: the user's when logged in, else the client address's."""
    return f"{action}:u:{user_id}" if user_id is not None else f"{action}:a:{address or '-'}"


def take(bucket: str, per_minute: int, burst: int | None = None) -> int:
    """Take one call from `bucket`: 0 when allowed, else the whole seconds to wait.

    A Redis outage lets the call through (failing open: an outage must not stop donations)
    and the log says so.
    """
    interval = WINDOW_SECONDS * 1000 / per_minute
    tolerance = interval * max((burst if burst is not None else per_minute) - 1, 0)
    client: redis.Redis = current_app.extensions["redis"]
    script = current_app.extensions.get("ratelimit_script")
    if script is None or script.registered_client is not client:
        script = client.register_script(GCRA)
        current_app.extensions["ratelimit_script"] = script
    now_ms = int(utcnow().timestamp() * 1000)
    try:
        wait_ms = float(script(keys=[f"lsr:{bucket}"], args=[now_ms, interval, tolerance]))
    except redis.RedisError as exc:
        log.warning("rate limit %s not checked: Redis %s", bucket, exc.__class__.__name__)
        return 0
    return max(1, math.ceil(wait_ms / 1000)) if wait_ms > 0 else 0


def too_many(retry_after: int) -> DomainError:
    """The 429 of the contract, with `Retry-After`."""
    return DomainError(
        Kind.TOO_MANY, "rate_limited", "操作过于频繁，请稍后再试", retry_after=retry_after
    )


def hit(bucket: str, limit: int, burst: int | None = None) -> None:
    """Count one call in `bucket` (`limit` a minute, a minute's worth at once); past it,
    a 429 saying when to come back."""
    wait = take(bucket, limit, burst)
    if wait:
        raise too_many(wait)
