"""Progress counters in Redis: raised_fen and donation_count per need and per fund.

Each counter is a hash `lsp:{n:12}` (or `lsp:{f:3}`) beside a set `lsp:{n:12}:applied` of
the outbox events already counted; the braces make both keys one Redis Cluster slot. An
event is applied by a Lua script that adds its id to the set and increments the hash in
one step, so a repeat changes nothing. A counter that does not exist is never started
from zero by an event: it is rebuilt from PostgreSQL, the source of truth.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import redis

from backend.common.time import utcnow
from backend.progress.near_cache import NearCache
from backend.progress.versions import FIELD, MONEY

log = logging.getLogger(__name__)

APPLY_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0, 0} end
local status = 0
if redis.call('SADD', KEYS[2], ARGV[1]) == 1 then
    redis.call('HINCRBY', KEYS[1], 'raised_fen', ARGV[2])
    redis.call('HINCRBY', KEYS[1], 'donation_count', ARGV[3])
    redis.call('HSET', KEYS[1], 'updated_at', ARGV[4])
    status = 1
end
local values = redis.call('HMGET', KEYS[1], 'raised_fen', 'goal_fen')
return {status, tonumber(values[1]), tonumber(values[2] or '0')}
"""

REBUILD_LUA = """
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'raised_fen', ARGV[1], 'donation_count', ARGV[2],
           'updated_at', ARGV[3])
if ARGV[4] == '0' then
    redis.call('HDEL', KEYS[1], 'goal_fen')
else
    redis.call('HSET', KEYS[1], 'goal_fen', ARGV[4])
end
for i = 5, #ARGV do redis.call('SADD', KEYS[2], ARGV[i]) end
return 1
"""

PRUNE_LUA = """
local removed = 0
for i = 1, #ARGV do removed = removed + redis.call('SREM', KEYS[1], ARGV[i]) end
return removed
"""

APPLIED, DUPLICATE, MISSING = 1, 0, -1
FIELDS = ("raised_fen", "donation_count", "updated_at", "goal_fen")


@dataclass(frozen=True)
class CounterValue:
    """What a counter holds; a published need's counter also keeps its (frozen) goal."""

    raised_fen: int
    donation_count: int
    updated_at: datetime | None
    goal_fen: int | None = None


def need_key(need_id: int) -> str:
    """The hash of a need's counter."""
    return f"lsp:{{n:{need_id}}}"


def fund_key(fund_id: int) -> str:
    """The hash of a fund's counter (its needs and its general pool together)."""
    return f"lsp:{{f:{fund_id}}}"


def applied_key(key: str) -> str:
    """The set of event ids a counter has counted."""
    return f"{key}:applied"


class ProgressCounter:
    """The Lua scripts, registered once per Redis client, and the process's tracked copies."""

    def __init__(self, client: redis.Redis, cache_max_age: float = 0) -> None:
        self.client = client
        self.near: NearCache[CounterValue] | None = None
        if cache_max_age > 0:
            self.near = NearCache(client, cache_max_age, FIELDS, self._value)
        self._apply = client.register_script(APPLY_LUA)
        self._rebuild = client.register_script(REBUILD_LUA)
        self._prune = client.register_script(PRUNE_LUA)

    def apply(self, key: str, event_id: int, raised_delta: int, count_delta: int) -> int:
        """Count an event once: APPLIED, DUPLICATE, or MISSING (rebuild the counter first)."""
        return self.apply_many([key], event_id, raised_delta, count_delta)[0][0]

    def apply_many(
        self, keys: Sequence[str], event_id: int, raised_delta: int, count_delta: int
    ) -> list[tuple[int, int, int | None]]:
        """Count an event on several counters in one round trip.

        For each: (APPLIED, DUPLICATE or MISSING; raised_fen after; the goal, if kept).
        """
        args = (event_id, raised_delta, count_delta, utcnow().isoformat())
        # EVALSHA straight away: a pipeline of registered scripts would first ask Redis
        # whether they exist, a round trip per call. Redis forgets scripts only when it
        # restarts or is told to; then they are loaded and the pipeline sent again, which
        # changes nothing twice (the script counts an event once).
        results = self._apply_pipeline(keys, args)
        if any(isinstance(r, redis.exceptions.NoScriptError) for r in results):
            self.client.script_load(APPLY_LUA)
            results = self._apply_pipeline(keys, args)
        self._forget(keys)
        for result in results:
            if isinstance(result, Exception):
                raise result
        return [(int(status), int(raised), int(goal) or None) for status, raised, goal in results]

    def _apply_pipeline(self, keys: Sequence[str], args: tuple) -> list:
        """EVALSHA of the apply script on each counter, in one round trip (errors returned)."""
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.evalsha(self._apply.sha, 2, key, applied_key(key), *args)
        pipe.hincrby(MONEY, FIELD, 1)  # after the change: caches of money figures are stale
        return pipe.execute(raise_on_error=False)[: len(keys)]

    def _forget(self, keys: Iterable[str]) -> None:
        """This process wrote these counters: its own next read must not use a copy."""
        if self.near is not None:
            self.near.forget(keys)

    def rebuild(
        self,
        key: str,
        raised_fen: int,
        donation_count: int,
        counted_ids: Sequence[int],
        goal_fen: int | None = None,
    ) -> None:
        """Set the counter to PostgreSQL's figures; `counted_ids` are events they include."""
        self._rebuild(
            keys=[key, applied_key(key)],
            args=[raised_fen, donation_count, utcnow().isoformat(), goal_fen or 0, *counted_ids],
        )
        self.client.hincrby(MONEY, FIELD, 1)
        self._forget([key])

    def prune(self, key: str, event_ids: Sequence[int]) -> int:
        """Forget events that can no longer arrive again (applied long ago)."""
        if not event_ids:
            return 0
        return int(self._prune(keys=[applied_key(key)], args=list(event_ids)))

    def read_many(self, keys: Iterable[str], *, cached: bool = False) -> list[CounterValue | None]:
        """Every counter asked for, in one round trip; None where a counter is missing.

        `cached` reads go through the process's tracked copies (public reads); checks and
        repairs read Redis itself.
        """
        keys = list(keys)
        if not keys:
            return []
        if cached and self.near is not None:
            return self.near.read_many(keys)
        if len(keys) == 1:  # one round trip either way; skip the pipeline's overhead
            return [self._value(self.client.hmget(keys[0], *FIELDS))]
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.hmget(key, *FIELDS)
        return [self._value(fields) for fields in pipe.execute()]

    @staticmethod
    def _value(fields: list[bytes | None]) -> CounterValue | None:
        raised, count, updated, goal = fields
        if raised is None or count is None:
            return None
        return CounterValue(
            int(raised),
            int(count),
            datetime.fromisoformat(updated.decode()) if updated else None,
            int(goal) if goal else None,
        )
