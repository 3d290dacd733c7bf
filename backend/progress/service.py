"""Reading progress (Redis first, PostgreSQL when Redis is down or a counter is missing),
applying outbox events, rebuilding and checking counters."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import redis
import sqlalchemy as sa
from flask import Flask, current_app

from backend.common.time import utcnow
from backend.extensions import db
from backend.progress.counter import (
    APPLIED,
    MISSING,
    CounterValue,
    ProgressCounter,
    applied_key,
    fund_key,
    need_key,
)
from backend.progress.models import OutboxEvent

log = logging.getLogger(__name__)

#: advisory-lock classes of need and fund counters: payments hold them shared, so they do
#: not queue behind each other; a rebuild holds its counter's alone, so that no payment
#: commits between its reading PostgreSQL and its writing Redis
NEED_LOCK_CLASS = 41_000
FUND_LOCK_CLASS = 41_001


#: events applied longer ago than this are forgotten by the counters' applied sets
PRUNE_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class Progress:
    """Figures of a need or fund, and whether they came from a fallback."""

    raised_fen: int
    donation_count: int
    updated_at: datetime | None
    stale: bool


def published_progress(need_id: int) -> tuple[int, CounterValue] | None:
    """A published need's goal and counter from Redis alone (no SQL), if Redis has them."""
    try:
        [value] = counter().read_many([need_key(need_id)], cached=True)
    except redis.RedisError:
        return None
    if value is None or value.goal_fen is None:
        return None
    return value.goal_fen, value


def counter() -> ProgressCounter:
    """The app's counter scripts."""
    found = current_app.extensions.get("progress_counter")
    if found is None:
        found = current_app.extensions["progress_counter"] = ProgressCounter(
            current_app.extensions["redis"],
            cache_max_age=current_app.config["SETTINGS"].progress_cache_ms / 1000,
        )
    return found


class CounterSource(Protocol):
    """Where counters are rebuilt and checked from: PostgreSQL's own figures. The counters
    know nothing of orders; the donations package provides this at start-up."""

    def need_totals(self, need_ids: list[int]) -> dict[int, tuple[int, int]]:
        """raised_fen and donation_count of needs."""
        ...

    def fund_totals(self, fund_ids: list[int]) -> dict[int, tuple[int, int]]:
        """raised_fen and donation_count of funds."""
        ...

    def published_goal(self, need_id: int) -> int | None:
        """A public need's (frozen) goal, None for a need not public."""
        ...

    def all_ids(self) -> tuple[list[int], list[int]]:
        """Every need id and every fund id."""
        ...


def use_source(app: Flask, source: CounterSource) -> None:
    """Tell the app's counters where PostgreSQL's figures come from."""
    app.extensions["progress_source"] = source


def source() -> CounterSource:
    """The app's counter source."""
    return current_app.extensions["progress_source"]


def _unapplied_event_ids(field: str, value: int) -> list[int]:
    return list(
        db.session.scalars(
            sa.select(OutboxEvent.id).where(
                OutboxEvent.applied_at.is_(None),
                OutboxEvent.payload[field].as_integer() == value,
            )
        )
    )


def rebuild_need(need_id: int, wait: bool = True) -> bool:
    """Rewrite a need's counter from PostgreSQL; False if payments are being written to it
    and `wait` is false."""
    if wait:
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(NEED_LOCK_CLASS, need_id)))
    elif not db.session.scalar(
        sa.select(sa.func.pg_try_advisory_xact_lock(NEED_LOCK_CLASS, need_id))
    ):
        return False
    raised, count = source().need_totals([need_id])[need_id]
    # A published need's goal never changes: keeping it here lets a progress read skip SQL.
    goal = source().published_goal(need_id)
    counter().rebuild(
        need_key(need_id), raised, count, _unapplied_event_ids("need_id", need_id), goal
    )
    return True


def rebuild_fund(fund_id: int) -> None:
    """Rewrite a fund's counter from PostgreSQL, payments to it held off meanwhile."""
    db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(FUND_LOCK_CLASS, fund_id)))
    raised, count = source().fund_totals([fund_id])[fund_id]
    counter().rebuild(fund_key(fund_id), raised, count, _unapplied_event_ids("fund_id", fund_id))


def apply_delta(
    event_id: int,
    need_id: int | None,
    fund_id: int,
    raised_fen: int,
    donation_count: int,
    *,
    mark: bool = True,
) -> CounterValue | None:
    """Count a committed outbox event on its need's and fund's counters (and mark it applied).

    Returns the need's counter after the change (None if it had to be rebuilt, or for a pool
    donation). Both scripts go in one round trip; a counter that is missing is rebuilt from
    PostgreSQL instead, which includes this committed event and marks it counted. With
    `mark=False` the row is left for the worker to mark: the counters' sets already know
    the event, so the worker's second application changes nothing, and the request saves a
    transaction.
    """
    keys = ([need_key(need_id)] if need_id else []) + [fund_key(fund_id)]
    results = counter().apply_many(keys, event_id, raised_fen, donation_count)
    need_value = None
    for key, (status, raised, goal) in zip(keys, results, strict=True):
        if status == MISSING:
            if key.startswith("lsp:{n:"):
                rebuild_need(int(need_id or 0))
            else:
                rebuild_fund(fund_id)
            continue
        if status != APPLIED:
            log.info("outbox event %s already counted on %s", event_id, key)
        if key.startswith("lsp:{n:"):
            need_value = CounterValue(raised, 0, None, goal)
    if not mark:
        return need_value
    db.session.execute(
        sa.update(OutboxEvent)
        .where(OutboxEvent.id == event_id, OutboxEvent.applied_at.is_(None))
        .values(applied_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return need_value


def apply_events(event_ids: Iterable[int]) -> int:
    """Apply these committed events (if not marked yet) and mark them; flushes; how many."""
    events = db.session.scalars(
        sa.select(OutboxEvent)
        .where(OutboxEvent.id.in_(list(event_ids)), OutboxEvent.applied_at.is_(None))
        .order_by(OutboxEvent.id)
        .with_for_update(skip_locked=True)
    ).all()
    for event in events:
        payload = event.payload
        apply_delta(event.id, payload.get("need_id"), payload["fund_id"],
                    payload["raised_fen"], payload["donation_count"], mark=False)  # fmt: skip
    if events:
        db.session.execute(
            sa.update(OutboxEvent)
            .where(OutboxEvent.id.in_([e.id for e in events]))
            .values(applied_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    return len(events)


def apply_pending(limit: int = 500) -> int:
    """Apply outbox events left behind (a crash, Redis down); flushes; how many."""
    ids = db.session.scalars(
        sa.select(OutboxEvent.id)
        .where(OutboxEvent.applied_at.is_(None))
        .order_by(OutboxEvent.id)
        .limit(limit)
    ).all()
    return apply_events(ids)


def read_needs(need_ids: list[int]) -> dict[int, Progress]:
    """Progress of needs: all counters in one round trip; PostgreSQL for what Redis lacks."""
    if not need_ids:
        return {}
    try:
        values = counter().read_many((need_key(i) for i in need_ids), cached=True)
    except redis.RedisError as exc:
        log.warning("progress: Redis unavailable (%s); reading PostgreSQL", exc.__class__.__name__)
        sums = source().need_totals(need_ids)
        return {i: Progress(*sums[i], updated_at=None, stale=True) for i in need_ids}
    result: dict[int, Progress] = {}
    missing = []
    for need_id, value in zip(need_ids, values, strict=True):
        if isinstance(value, CounterValue):
            result[need_id] = Progress(
                value.raised_fen, value.donation_count, value.updated_at, stale=False
            )
        else:
            missing.append(need_id)
    if missing:
        sums = source().need_totals(missing)
        for need_id in missing:
            result[need_id] = Progress(*sums[need_id], updated_at=utcnow(), stale=False)
            try:
                rebuild_need(need_id, wait=False)
            except redis.RedisError:
                result[need_id] = Progress(*sums[need_id], updated_at=None, stale=True)
    return result


@dataclass(frozen=True)
class Difference:
    """A counter that disagrees with PostgreSQL."""

    key: str
    redis: tuple[int, int] | None
    database: tuple[int, int]


def check_counters(repair: bool = False) -> list[Difference]:
    """Compare every need and fund counter with PostgreSQL (optionally rebuilding them).

    Events committed but not yet applied are added to Redis's figures before comparing, so
    a payment in flight is not reported as a difference.
    """
    need_ids, fund_ids = source().all_ids()
    # Committed events a counter has not counted yet: not applied in PostgreSQL's view, and
    # not in the counter's set either (a rebuild may have counted them already).
    unapplied = [
        (key, event)
        for event in db.session.scalars(
            sa.select(OutboxEvent).where(OutboxEvent.applied_at.is_(None))
        )
        for key in ([need_key(event.payload["need_id"])] if event.payload.get("need_id") else [])
        + [fund_key(event.payload["fund_id"])]
    ]
    pipe = counter().client.pipeline(transaction=False)
    for key, event in unapplied:
        pipe.sismember(applied_key(key), event.id)
    pending: dict[str, list[int]] = {}
    for (key, event), counted in zip(unapplied, pipe.execute() if unapplied else [], strict=True):
        if counted:
            continue
        pending.setdefault(key, [0, 0])
        pending[key][0] += event.payload["raised_fen"]
        pending[key][1] += event.payload["donation_count"]
    differences = []
    for keys, sums in (
        ([need_key(i) for i in need_ids], source().need_totals(need_ids)),
        ([fund_key(i) for i in fund_ids], source().fund_totals(fund_ids)),
    ):
        values = counter().read_many(keys)
        for key, value, expected in zip(keys, values, sums.values(), strict=True):
            got = None
            if value is not None:
                extra = pending.get(key, [0, 0])
                got = (value.raised_fen + extra[0], value.donation_count + extra[1])
            # A counter never started (nothing raised yet) is not a difference.
            if got != expected and not (got is None and expected == (0, 0)):
                differences.append(Difference(key, got, expected))
    if repair:
        for difference in differences:
            kind, target = difference.key.split("{", 1)[1].rstrip("}").split(":")
            if kind == "n":
                rebuild_need(int(target))
            else:
                rebuild_fund(int(target))
    return differences


def prune_applied(older_than: timedelta = PRUNE_AFTER) -> int:
    """Drop long-applied events from the counters' applied sets (they cannot come again)."""
    cutoff = utcnow() - older_than
    events = db.session.scalars(
        sa.select(OutboxEvent)
        .where(OutboxEvent.applied_at.is_not(None), OutboxEvent.applied_at < cutoff)
        .limit(10_000)
    ).all()
    by_key: dict[str, list[int]] = {}
    for event in events:
        if event.payload.get("need_id"):
            by_key.setdefault(need_key(event.payload["need_id"]), []).append(event.id)
        by_key.setdefault(fund_key(event.payload["fund_id"]), []).append(event.id)
    removed = sum(counter().prune(key, ids) for key, ids in by_key.items())
    for event in events:
        db.session.delete(event)
    db.session.flush()
    return removed
