"""Periodic jobs of `flask --app backend worker` (also callable directly, e.g. in tests).

Every job commits once at its end (services only flush) and can run again at any time
without harm: on several worker processes at once, rows are claimed with SKIP LOCKED.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

import sqlalchemy as sa
from wechatpy.exceptions import WeChatPayException

from backend.common.errors import DomainError
from backend.common.time import utcnow
from backend.donations.models import Donation, DonationStatus
from backend.donations.services import (
    CLOSE_NOT_BEFORE,
    apply_payment,
    close_donation,
    fund_need_if_reached,
)
from backend.extensions import db
from backend.ledger import sealing
from backend.logging_setup import job_logging
from backend.messages import making as message_making
from backend.messages import sending as message_sending
from backend.metrics import record_job_success
from backend.needs.models import Need, NeedStatus
from backend.payments.gateway import get_gateway
from backend.progress import service as progress
from backend.refunds import services as refund_services

log = logging.getLogger(__name__)

T = TypeVar("T")
#: a pending order this old is asked about: its notification may have been lost
QUERY_AFTER = timedelta(minutes=3)
BATCH = 100
#: an open refund untouched this long is sent again or asked about
REFUND_RECHECK_AFTER = timedelta(seconds=30)


def job(func: Callable[..., T]) -> Callable[..., T]:
    """One transaction per job: commit at the end, roll back on failure. Its log records
    carry the job's name; its success is noted in Redis (`/metrics` shows the worker's lag)."""

    @wraps(func)
    def run(*args: Any, **kwargs: Any) -> T:
        with job_logging(func.__name__):
            try:
                result = func(*args, **kwargs)
                db.session.commit()
                record_job_success(func.__name__, result)
                return result
            except Exception:
                db.session.rollback()
                log.exception("job %s failed", func.__name__)
                raise
            finally:
                db.session.remove()

    return run


@job
def apply_outbox() -> int:
    """Apply and mark outbox events: those requests counted already (the Lua scripts see
    them as repeats) and those a crash or a Redis outage left behind. Batch by batch, each
    committed, until none is left."""
    applied = 0
    while batch := progress.apply_pending(limit=1000):
        db.session.commit()
        applied += batch
    if applied:
        log.info("marked %s outbox events applied", applied)
    return applied


def _claim_pending(*where: sa.ColumnElement[bool]) -> list[Donation]:
    return list(
        db.session.scalars(
            sa.select(Donation)
            .where(Donation.status == DonationStatus.PENDING, *where)
            .order_by(Donation.id)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
    )


@job
def reconcile_pending_orders() -> dict[str, int]:
    """Ask WeChat about orders still pending after a few minutes; credit the paid ones."""
    counts = {"paid": 0, "still_pending": 0, "closed": 0}
    now = utcnow()
    event_ids = []
    for donation in _claim_pending(Donation.created_at < now - QUERY_AFTER):
        try:
            trade_state, notice = get_gateway().query_order(donation.out_trade_no)
        except WeChatPayException as exc:
            log.warning("orderquery %s failed: %s", donation.out_trade_no, exc.errcode)
            continue
        if notice is not None:
            outcome = apply_payment(notice)
            if outcome.applied:
                counts["paid"] += 1
                event_ids.append(outcome.outbox_event_id)
                log.warning("order %s was paid but not notified: credited", donation.out_trade_no)
        elif trade_state in ("CLOSED", "REVOKED", "PAYERROR"):
            close_donation(donation)
            counts["closed"] += 1
        else:
            counts["still_pending"] += 1
    db.session.commit()
    if event_ids:
        progress.apply_events(event_ids)
    return counts


@job
def close_stale_orders() -> dict[str, int]:
    """Close unpaid orders past expiry, or for needs no longer raising (not before 5 min)."""
    now = utcnow()
    closable = sa.or_(
        Donation.expires_at < now,
        Donation.need_id.in_(sa.select(Need.id).where(Need.status != NeedStatus.FUNDRAISING)),
    )
    counts = {"closed": 0, "paid": 0}
    event_ids = []
    for donation in _claim_pending(Donation.created_at < now - CLOSE_NOT_BEFORE, closable):
        try:
            get_gateway().close_order(donation.out_trade_no)
        except WeChatPayException as exc:
            if exc.errcode == "ORDERPAID":
                _, notice = get_gateway().query_order(donation.out_trade_no)
                if notice is not None and (outcome := apply_payment(notice)).applied:
                    counts["paid"] += 1
                    event_ids.append(outcome.outbox_event_id)
                continue
            if exc.errcode != "ORDERCLOSED":
                log.warning("closeorder %s failed: %s", donation.out_trade_no, exc.errcode)
                continue
        close_donation(donation)
        counts["closed"] += 1
    db.session.commit()
    if event_ids:
        progress.apply_events(event_ids)
    return counts


@job
def sync_refunds() -> dict[str, int]:
    """Send refunds still `requested` (WeChat was not reached) and ask WeChat about those
    `processing` whose notice has not come: each settled once, as by its notice."""
    counts = {"settled": 0, "failed": 0, "open": 0}
    event_ids = []
    for refund in refund_services.open_refunds(utcnow() - REFUND_RECHECK_AFTER, BATCH):
        try:
            outcome = refund_services.sync_refund(refund)
        except WeChatPayException as exc:
            log.warning("refundquery %s failed: %s", refund.out_refund_no, exc.errcode)
            counts["open"] += 1
            continue
        if outcome is None or not outcome.handled:
            counts["open"] += 1
        elif outcome.outcome == "failed":
            counts["failed"] += 1
        elif outcome.outcome == "applied":
            counts["settled"] += 1
            event_ids.append(outcome.outbox_event_id)
            log.warning("refund %s succeeded but was not notified: settled", refund.out_refund_no)
    db.session.commit()
    if event_ids:
        progress.apply_events(event_ids)
    return counts


@job
def reconcile_yesterday() -> int | None:
    """After 10:00 Beijing time, reconcile the previous Beijing day's WeChat Pay bill, once
    (a run of that day makes later calls do nothing); the open differences, or None."""
    from backend.reconciliation.services import due_day, reconcile_day

    day = due_day()
    if day is None:
        return None
    try:
        reconciled = reconcile_day(day)
    except (DomainError, WeChatPayException) as exc:
        db.session.rollback()
        log.warning("reconciliation of %s failed, tried again later: %s", day, exc)
        return None
    db.session.commit()
    if reconciled.event_ids:
        progress.apply_events(reconciled.event_ids)
    if reconciled.run.open_count:
        log.error("ALERT reconciliation of %s: %s differences open (`flask reconcile --date %s`)",
                  day, reconciled.run.open_count, day)  # fmt: skip
    return reconciled.run.open_count


@job
def fund_reached_needs() -> int:
    """Move fundraising needs whose paid donations reach the goal to funded (one query)."""
    reached = db.session.execute(
        sa.select(Need.id)
        .join(Donation, Donation.need_id == Need.id)
        .where(Need.status == NeedStatus.FUNDRAISING, Donation.paid_at.is_not(None))
        .group_by(Need.id, Need.goal_fen)
        .having(sa.func.sum(Donation.net_fen) >= Need.goal_fen)
    ).scalars()
    return sum(fund_need_if_reached(need_id) for need_id in list(reached))


@job
def check_counters() -> int:
    """Compare the counters with PostgreSQL and repair those that differ."""
    differences = progress.check_counters(repair=True)
    for difference in differences:
        log.warning(
            "counter %s was %s, PostgreSQL says %s: rebuilt",
            difference.key, difference.redis, difference.database,
        )  # fmt: skip
    return len(differences)


@job
def prune_counters() -> int:
    """Forget long-applied outbox events."""
    return progress.prune_applied()


def _seal_all(sweep: bool) -> int:
    """Seal batch after batch, each committed, until nothing is left (or another worker
    holds the sealer's lock)."""
    sealed = 0
    while batch := sealing.seal_pending(sealing.SEAL_BATCH, sweep=sweep):
        db.session.commit()
        sealed += batch
        if batch < sealing.SEAL_BATCH:
            break
    return sealed


@job
def seal_journal() -> int:
    """Seal the journal entries committed since the last run (cheap: the newest entries)."""
    return _seal_all(sweep=False)


@job
def sweep_journal() -> int:
    """Seal every entry still unsealed, however old its id (a transaction that committed
    late), and raise the alarm about unsealed entries no transaction explains."""
    sealed = _seal_all(sweep=True)
    suspect = sealing.first_out_of_place()
    if suspect is not None:
        log.error("ALERT journal entry %s is unsealed and out of place: inserted behind "
                  "the application's back? (`flask ledger verify`)", suspect[0])  # fmt: skip
    return sealed


@job
def send_subscribe_messages() -> dict[str, int]:
    """Make the subscribe messages donors consented to (donations paid, money spent) and
    send those due: each claim committed before WeChat is called, each answer after."""
    now = utcnow()
    counts = {"made": message_making.make_messages(now), "sent": 0, "skipped": 0,
              "retry": 0, "failed": message_sending.expire_interrupted(now), "gone": 0}  # fmt: skip
    db.session.commit()
    client = message_sending.message_client()
    for _ in range(10):  # at most 10 batches a run; the rest waits for the next one
        claimed = message_sending.claim_due(utcnow())
        db.session.commit()
        for message in claimed:
            answer = message_sending.send(client, message)
            counts[message_sending.record(message.id, answer, utcnow())] += 1
            db.session.commit()
        if len(claimed) < message_sending.CLAIM_BATCH:
            break
    return counts


#: job → seconds between runs
SCHEDULE: dict[Callable[..., Any], int] = {
    apply_outbox: 10,
    seal_journal: 5,
    sweep_journal: 60,
    reconcile_pending_orders: 60,
    close_stale_orders: 60,
    sync_refunds: 30,
    fund_reached_needs: 60,
    reconcile_yesterday: 600,
    send_subscribe_messages: 30,
    check_counters: 300,
    prune_counters: 3600,
}
