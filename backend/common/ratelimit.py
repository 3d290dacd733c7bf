"""Rate limits in Redis: token buckets (derived data: losing them only refills the buckets).

Each bucket is one Redis key holding a theoretical arrival time (GCRA, the generic cell rate
algorithm): `per_minute` calls a minute, of which up to `burst` (a minute's worth unless
given) may come at once. The window slides with every call, so there is no minute boundary
at which a client may send twice its allowance, and a refused call spends nothing: a client
that keeps hammering waits no longer than one that stops. One script, one round trip,
atomic on any number of nodes.

A process does not ask Redis for every call of a busy bucket: it takes calls a few at a
time (`Leases`) and spends them locally for up to a second; a bucket called now and then
is asked every time, exactly.

Who a bucket belongs to is the caller's choice (`caller_bucket`): the user when logged in,
wherever they call from; the address only for anonymous calls, with a looser limit, since
a charity space's Wi-Fi puts many residents behind one address and one heavy client must
not lock the others out.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import redis
from flask import current_app

from backend.common.errors import DomainError, Kind
from backend.common.time import utcnow

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60

#: KEYS[1] the bucket; ARGV: now (ms), ms per call, burst tolerance (ms), calls taken.
#: Answers 0 when allowed (all of them), else the ms to wait until they would be.
GCRA = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local calls = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
-- past now + tolerance + interval no call could have put it: the clock went back; start over
if tat < now or tat > now + tolerance + interval then tat = now end
local wait = tat + (calls - 1) * interval - tolerance - now
if wait > 0 then return math.ceil(wait) end
local new_tat = tat + calls * interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now))
return 0
"""

#: a process takes a busy bucket's calls from Redis several at a time (a lease), spends
#: them locally for at most this long, and forgets what it did not spend
LEASE_SECONDS = 1.0
#: the most calls one lease takes (also at most an eighth of the bucket's burst)
MAX_LEASE = 16
#: the most buckets a process keeps leases of (least recently used go first)
MAX_LEASED_BUCKETS = 10_000


@dataclass
class Lease:
    """Calls a process took from a bucket ahead of need, and until when they are good."""

    left: int
    size: int
    expires: float


class Leases:
    """One process's leases (thread-safe). A bucket called again within a lease's life gets
    a lease twice as large next time (up to `MAX_LEASE`); a quiet one takes one call per
    call, exactly as without leases. Leased calls are taken from Redis before they are
    spent, so no number of processes lets a bucket exceed its rate; what a lease leaves
    unspent when it expires is lost (a busy caller may be refused up to `MAX_LEASE - 1`
    calls early per process and second), and near its limit a bucket goes back to one
    call at a time."""

    def __init__(self) -> None:
        self._leases: OrderedDict[str, Lease] = OrderedDict()
        self._lock = threading.Lock()

    def spend(self, bucket: str, now: float) -> bool:
        """Take one call from this process's lease of `bucket`, if it has one."""
        with self._lock:
            lease = self._leases.get(bucket)
            if lease is None or lease.left <= 0 or now >= lease.expires:
                return False
            lease.left -= 1
            return True

    def next_size(self, bucket: str, now: float, largest: int) -> int:
        """How many calls to take from Redis for the next lease of `bucket`."""
        with self._lock:
            lease = self._leases.get(bucket)
        if lease is None or now >= lease.expires:
            return 1
        return max(1, min(lease.size * 2, largest))

    def keep(self, bucket: str, size: int, now: float) -> None:
        """Note a lease of `size` calls just taken, one of them spent at once."""
        with self._lock:
            self._leases[bucket] = Lease(size - 1, size, now + LEASE_SECONDS)
            self._leases.move_to_end(bucket)
            while len(self._leases) > MAX_LEASED_BUCKETS:
                self._leases.popitem(last=False)


def caller_bucket(action: str, user_id: int | None, address: str | None) -> str:
    """The bucket of a call: the user's when logged in, else the client address's."""
    return f"{action}:u:{user_id}" if user_id is not None else f"{action}:a:{address or '-'}"


def take(bucket: str, per_minute: int, burst: int | None = None) -> int:
    """Take one call from `bucket`: 0 when allowed, else the whole seconds to wait.

    A Redis outage lets the call through (failing open: an outage must not stop donations)
    and the log says so.
    """
    burst = burst if burst is not None else per_minute
    interval = WINDOW_SECONDS * 1000 / per_minute
    tolerance = interval * max(burst - 1, 0)
    leases: Leases = current_app.extensions.setdefault("ratelimit_leases", Leases())
    now = time.monotonic()
    if leases.spend(bucket, now):
        return 0
    client: redis.Redis = current_app.extensions["redis"]
    script = current_app.extensions.get("ratelimit_script")
    if script is None or script.registered_client is not client:
        script = client.register_script(GCRA)
        current_app.extensions["ratelimit_script"] = script
    now_ms = int(utcnow().timestamp() * 1000)
    size = leases.next_size(bucket, now, min(MAX_LEASE, max(1, burst // 8)))
    try:
        while True:
            wait_ms = float(
                script(keys=[f"lsr:{bucket}"], args=[now_ms, interval, tolerance, size])
            )
            if wait_ms <= 0 or size == 1:
                break
            size = 1  # not room for a lease: is there for this one call?
    except redis.RedisError as exc:
        log.warning("rate limit %s not checked: Redis %s", bucket, exc.__class__.__name__)
        return 0
    if wait_ms > 0:
        return max(1, math.ceil(wait_ms / 1000))
    leases.keep(bucket, size, now)
    return 0


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
