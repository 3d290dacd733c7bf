"""Reconcile a Beijing day's WeChat Pay bill against the books; repair what can be
repaired (a payment whose notification was lost, a refund settled at WeChat), keep every
other difference open until a finance officer resolves it with a note.

Services flush and never commit: the command, the worker's job or the request commits,
then applies the outbox events of repaired payments to the counters (`Reconciled`).
"""

from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from wechatpy.exceptions import WeChatPayException

from backend.accounts.models import User
from backend.audit.services import record
from backend.common.errors import DomainError, Kind, conflict, invalid, not_found
from backend.common.money import yuan
from backend.common.time import BEIJING, beijing_today, utcnow
from backend.donations.models import Donation
from backend.donations.services import apply_payment
from backend.extensions import db
from backend.funds.models import Fund
from backend.ledger.models import JournalEntry, JournalLine
from backend.ledger.services import WECHAT_CLEARING_ACCOUNT
from backend.needs.models import Need
from backend.payments.gateway import get_gateway
from backend.reconciliation.bill import (
    Bill,
    BillFormatError,
    BillRow,
    BillSummary,
    parse_bill,
    summary_mismatches,
)
from backend.reconciliation.models import (
    BillLine,
    BillLineKind,
    DifferenceKind,
    DifferenceStatus,
    ReconciliationDifference,
    ReconciliationRun,
)
from backend.refunds.models import Refund, RefundStatus

log = logging.getLogger(__name__)

#: WeChat's bill of a day is ready by 10:00 Beijing time the next day
BILL_READY = time(10, 0)
#: runs of one day wait for each other (a transaction-scoped advisory lock per day)
LOCK_SPACE = zlib.crc32(b"linshan:reconciliation") & 0x7FFFFFFF
#: refunds WeChat accepted: they must be in the bill of the day they were sent
ACCEPTED_REFUNDS = (RefundStatus.PROCESSING, RefundStatus.SUCCEEDED)
EMPTY_BILL = Bill(rows=[], summary=BillSummary(0, 0, 0, 0, 0, 0, 0))
Progress = Callable[[str], None]


def _quiet(line: str) -> None:
    """No progress shown."""


#: a day as the API and the command line take it
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_day(text: str) -> date:
    """A `YYYY-MM-DD` day of the API or the command line."""
    message = "日期格式须为 YYYY-MM-DD"
    try:
        if not DAY.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise invalid("invalid_date", message, {"date": [message]}) from None


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants a Beijing day starts and ends at."""
    start = datetime.combine(day, time(), tzinfo=BEIJING)
    return start, start + timedelta(days=1)


def require_past_day(day: date) -> None:
    """Only a day that has ended has a bill."""
    if day >= beijing_today():
        raise invalid("day_not_over", "只能对账今天以前的日期（微信支付次日生成账单）",
                      {"date": ["须早于今天（北京时间）"]})  # fmt: skip


@dataclass
class Found:
    """A difference found by a run, before it is stored."""

    kind: DifferenceKind
    out_trade_no: str
    out_refund_no: str
    wechat_fen: int | None
    our_fen: int | None
    detail: str
    repaired: bool = False


@dataclass
class Reconciled:
    """A run, and the outbox events of the payments it credited, to apply to the counters
    once the transaction has committed."""

    run: ReconciliationRun
    differences: list[ReconciliationDifference]
    event_ids: list[int] = field(default_factory=list)


def reconcile_day(day: date, progress: Progress = _quiet) -> Reconciled:
    """Download the day's bill from WeChat Pay and reconcile it (flushes)."""
    require_past_day(day)
    progress(f"downloading the WeChat Pay bill of {day:%Y-%m-%d} …")
    try:
        text = get_gateway().download_bill(day)
    except WeChatPayException as exc:
        raise DomainError(Kind.UPSTREAM, "bill_download_failed",
                          f"下载微信支付对账单失败：{exc.return_msg or exc.errmsg or exc.errcode}") from None  # fmt: skip
    if text is None:
        progress("WeChat has no bill for that day (No Bill Exist)")
    return reconcile(day, text, progress)


def reconcile(day: date, bill_text: str | None, progress: Progress = _quiet) -> Reconciled:
    """Compare a day's bill (None: WeChat has none) with the books, repair, store the run,
    its bill lines and its differences (flushes)."""
    db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(LOCK_SPACE, day.toordinal())))
    try:
        bill = parse_bill(bill_text) if bill_text is not None else EMPTY_BILL
    except BillFormatError as exc:
        raise DomainError(
            Kind.UPSTREAM, "bill_malformed", f"微信支付对账单无法读取：{exc}"
        ) from None
    payments = [row for row in bill.rows if not row.is_refund]
    refunds = [row for row in bill.rows if row.is_refund]
    progress(f"bill: {len(payments)} payments, {len(refunds)} refunds")
    found: list[Found] = []
    ours = _our_payments(day)
    progress(f"our books: {len(ours)} donations paid that day")
    event_ids: list[int] = []
    for row in payments:
        mine = ours.pop(row.out_trade_no, None)
        if mine is None:
            progress(f"order {row.out_trade_no}: paid at WeChat, not here: asking WeChat …")
            difference, event_id = _repair_payment(row)
            found.append(difference)
            if event_id is not None:
                event_ids.append(event_id)
        elif mine[1] is None:
            found.append(Found(DifferenceKind.JOURNAL_MISSING, row.out_trade_no, "", row.order_fen,
                               mine[0], "捐赠已记为已支付，但账本中没有它的入账分录"))  # fmt: skip
        elif mine[1] != row.order_fen:
            found.append(Found(DifferenceKind.PAYMENT_AMOUNT, row.out_trade_no, "", row.order_fen,
                               mine[1], f"金额不一致：微信支付 {yuan(row.order_fen)}，"
                               f"本系统 {yuan(mine[1])}"))  # fmt: skip
    for out_trade_no, (amount_fen, journal_fen) in ours.items():
        found.append(Found(DifferenceKind.PAYMENT_MISSING_AT_WECHAT, out_trade_no, "", None,
                           journal_fen if journal_fen is not None else amount_fen,
                           "本系统记为已支付，微信支付账单中没有这笔收款"))  # fmt: skip
    known = _refunds_by_number([row.out_refund_no for row in refunds])
    for row in refunds:
        found.extend(_refund_differences(row, known.get(row.out_refund_no), progress, event_ids))
    billed = {row.out_refund_no for row in refunds}
    for refund in _accepted_refunds(day):
        if refund.out_refund_no not in billed:
            found.append(Found(DifferenceKind.REFUND_MISSING_AT_WECHAT,
                               refund.donation.out_trade_no, refund.out_refund_no, None,
                               refund.amount_fen, "本系统已提交的退款不在微信支付账单中"))  # fmt: skip
    mismatches = summary_mismatches(bill)
    if mismatches:
        said = "；".join(
            f"{name} 汇总 {a} 明细 {b}" if name == "总交易单数"
            else f"{name} 汇总 {yuan(a)} 明细 {yuan(b)}"
            for name, (a, b) in mismatches.items()
        )  # fmt: skip
        summary, rows = next(iter(mismatches.values()))
        found.append(
            Found(DifferenceKind.SUMMARY, "", "", summary, rows, f"账单汇总行与明细不符：{said}")
        )

    after = _our_payments(day)  # the repaired payments included
    run = ReconciliationRun(
        day=day,
        created_at=utcnow(),
        bill_found=bill_text is not None,
        payment_count=len(payments),
        payment_fen=sum(row.order_fen for row in payments),
        refund_count=len(refunds),
        refund_fen=sum(row.refund_fen for row in refunds),
        fee_fen=sum(row.fee_fen for row in bill.rows),
        net_fen=sum(row.settlement_fen - row.refund_fen - row.fee_fen for row in bill.rows),
        our_payment_count=len(after),
        our_payment_fen=sum(a if j is None else j for a, j in after.values()),
        difference_count=len(found),
        repaired_count=sum(f.repaired for f in found),
        open_count=0,
    )
    db.session.add(run)
    db.session.flush()
    _store_lines(day, bill.rows)
    differences = _store_differences(run, found)
    run.open_count = sum(d.status == DifferenceStatus.OPEN for d in differences)
    db.session.flush()
    progress(f"differences: {run.difference_count} found, {run.repaired_count} repaired, "
             f"{run.open_count} open")  # fmt: skip
    return Reconciled(run, differences, event_ids)


def _our_payments(day: date) -> dict[str, tuple[int, int | None]]:
    """Our donations paid on the day: out_trade_no → (amount, what the journal's donation
    entry took from WeChat's clearing account, None without an entry)."""
    start, end = day_bounds(day)
    journal = (
        sa.select(sa.cast(-sa.func.sum(JournalLine.amount_fen), sa.BigInteger))
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .where(
            JournalEntry.donation_id == Donation.id,
            JournalEntry.kind == "donation",
            JournalLine.account == WECHAT_CLEARING_ACCOUNT,
        )
        .scalar_subquery()
    )
    rows = db.session.execute(
        sa.select(Donation.out_trade_no, Donation.amount_fen, journal)
        .where(Donation.paid_at >= start, Donation.paid_at < end)
    )  # fmt: skip
    return {row[0]: (row[1], row[2]) for row in rows}


def _repair_payment(row: BillRow) -> tuple[Found, int | None]:
    """A payment the bill has and we do not: ask WeChat about the order and credit it."""
    donation = db.session.scalar(
        sa.select(Donation).where(Donation.out_trade_no == row.out_trade_no)
    )
    found = Found(DifferenceKind.PAYMENT_MISSING_HERE, row.out_trade_no, "", row.order_fen, None,
                  "微信支付已收款，本系统未记为已支付")  # fmt: skip
    if donation is None:
        found.detail += "；本系统没有这个订单"
        return found, None
    if donation.paid_at is not None:
        found.our_fen = donation.amount_fen
        found.detail += f"；本系统记在 {donation.paid_at.astimezone(BEIJING):%Y-%m-%d} 支付"
        return found, None
    try:
        _, notice = get_gateway().query_order(row.out_trade_no)
    except WeChatPayException as exc:
        found.detail += f"；查询订单失败（{exc.errcode or exc.return_msg}）"
        return found, None
    if notice is None:
        found.detail += "；查询订单显示未支付"
        return found, None
    outcome = apply_payment(notice)
    if not outcome.applied:
        found.detail += f"；补记失败（{outcome.reason}）"
        return found, None
    log.warning("order %s was paid but not credited: repaired by reconciliation", row.out_trade_no)
    found.detail += "；已按订单查询补记入账"
    found.repaired = True
    return found, outcome.outbox_event_id


def _refunds_by_number(numbers: list[str]) -> dict[str, Refund]:
    """Our refunds of these refund numbers."""
    if not numbers:
        return {}
    refunds = db.session.scalars(sa.select(Refund).where(Refund.out_refund_no.in_(numbers)))
    return {refund.out_refund_no: refund for refund in refunds}


def _accepted_refunds(day: date) -> list[Refund]:
    """Our refunds WeChat accepted, sent (or, unsent, recorded) on the day."""
    start, end = day_bounds(day)
    sent = sa.func.coalesce(Refund.sent_at, Refund.created_at)
    return list(
        db.session.scalars(
            sa.select(Refund)
            .where(Refund.status.in_(ACCEPTED_REFUNDS), sent >= start, sent < end)
            .order_by(Refund.id)
        )
    )


def sync_refund_with_wechat(refund: Refund) -> tuple[bool, int | None] | None:
    """Ask WeChat about the refund and settle it once (`refunds.services.sync_refund`):
    whether it settled now and the counter event to apply; None while that service is
    missing."""
    try:
        from backend.refunds.services import sync_refund
    except ImportError:
        return None
    outcome = sync_refund(refund)
    if outcome is None:
        return False, None
    return outcome.outcome == "applied", outcome.outbox_event_id


def _refund_differences(
    row: BillRow, refund: Refund | None, progress: Progress, event_ids: list[int]
) -> list[Found]:
    """What disagrees about one refund of the bill (a settled one repaired: its counter
    event joins `event_ids`)."""
    if refund is None:
        return [Found(DifferenceKind.REFUND_UNKNOWN_HERE, row.out_trade_no, row.out_refund_no,
                      row.refund_requested_fen, None, "微信支付账单中的退款在本系统中不存在")]  # fmt: skip
    found = []
    if refund.amount_fen != row.refund_requested_fen:
        found.append(Found(DifferenceKind.REFUND_AMOUNT, row.out_trade_no, row.out_refund_no,
                           row.refund_requested_fen, refund.amount_fen,
                           f"退款金额不一致：微信支付 {yuan(row.refund_requested_fen)}，"
                           f"本系统 {yuan(refund.amount_fen)}"))  # fmt: skip
    if row.refund_status == "SUCCESS" and refund.status != RefundStatus.SUCCEEDED:
        difference = Found(DifferenceKind.REFUND_NOT_SETTLED_HERE, row.out_trade_no,
                           row.out_refund_no, row.refund_fen, None,
                           f"微信支付退款已成功，本系统退款状态为 {refund.status}")  # fmt: skip
        progress(f"refund {row.out_refund_no}: succeeded at WeChat, {refund.status} here: "
                 "asking WeChat …")  # fmt: skip
        try:
            synced = sync_refund_with_wechat(refund)
        except WeChatPayException as exc:
            difference.detail += f"；查询退款失败（{exc.errcode or exc.return_msg}）"
        else:
            if synced is None:
                difference.detail += (
                    "；退款同步功能尚未提供（refunds.services.sync_refund），请人工核对"
                )
            elif synced[0] and refund.status == RefundStatus.SUCCEEDED:
                difference.detail += "；已向微信支付查询并补记退款"
                difference.our_fen = refund.amount_fen
                difference.repaired = True
                if synced[1] is not None:
                    event_ids.append(synced[1])
            else:
                difference.detail += f"；查询后本系统状态仍为 {refund.status}"
        found.append(difference)
    return found


def _store_lines(day: date, rows: list[BillRow]) -> None:
    """Replace the day's bill lines by these rows."""
    db.session.execute(sa.delete(BillLine).where(BillLine.day == day))
    orders = {row.out_trade_no for row in rows}
    found = db.session.execute(
        sa.select(Donation.out_trade_no, Donation.id).where(Donation.out_trade_no.in_(orders))
    )
    donation_ids = {out_trade_no: donation_id for out_trade_no, donation_id in found}
    refund_ids = {
        n: r.id
        for n, r in _refunds_by_number([r.out_refund_no for r in rows if r.is_refund]).items()
    }
    db.session.add_all(
        BillLine(
            day=day,
            line_no=index,
            kind=BillLineKind.REFUND if row.is_refund else BillLineKind.PAYMENT,
            traded_at=row.traded_at,
            transaction_id=row.transaction_id,
            out_trade_no=row.out_trade_no,
            refund_id=row.refund_id or None,
            out_refund_no=row.out_refund_no or None,
            status=row.refund_status if row.is_refund else row.trade_state,
            amount_fen=row.refund_requested_fen if row.is_refund else row.order_fen,
            fee_fen=row.fee_fen,
            donation_id=donation_ids.get(row.out_trade_no),
            our_refund_id=refund_ids.get(row.out_refund_no),
        )
        for index, row in enumerate(rows, start=1)
    )


def _store_differences(
    run: ReconciliationRun, found: list[Found]
) -> list[ReconciliationDifference]:
    """Add new differences, update those found again, clear the open ones not found again;
    the day's differences, oldest first."""
    now = utcnow()
    existing = {
        (d.kind, d.out_trade_no, d.out_refund_no): d
        for d in db.session.scalars(
            sa.select(ReconciliationDifference).where(ReconciliationDifference.day == run.day)
        )
    }
    seen = set()
    for item in found:
        key = (item.kind, item.out_trade_no, item.out_refund_no)
        if key in seen:
            continue
        seen.add(key)
        difference = existing.get(key)
        if difference is None:
            difference = ReconciliationDifference(
                day=run.day, kind=item.kind, out_trade_no=item.out_trade_no,
                out_refund_no=item.out_refund_no, first_run_id=run.id, created_at=now,
            )  # fmt: skip
            db.session.add(difference)
            existing[key] = difference
        difference.last_run_id = run.id
        if difference.status == DifferenceStatus.RESOLVED:
            continue  # a finance officer settled it; the note stands
        difference.wechat_fen, difference.our_fen = item.wechat_fen, item.our_fen
        difference.detail = item.detail[:500]
        if item.repaired:
            difference.status, difference.resolved_at = DifferenceStatus.REPAIRED, now
        else:
            difference.status, difference.resolved_at = DifferenceStatus.OPEN, None
    for key, difference in existing.items():
        if key not in seen and difference.status == DifferenceStatus.OPEN:
            difference.status, difference.resolved_at = DifferenceStatus.CLEARED, now
    db.session.flush()
    return sorted(existing.values(), key=lambda d: d.id)


@dataclass(frozen=True)
class DayReport:
    """A day's newest run and its differences."""

    day: date
    run: ReconciliationRun
    differences: list[ReconciliationDifference]


def latest_run(day: date) -> ReconciliationRun | None:
    """The day's newest run."""
    return db.session.scalar(
        sa.select(ReconciliationRun)
        .where(ReconciliationRun.day == day)
        .order_by(ReconciliationRun.id.desc())
        .limit(1)
    )


def _newest_run(day: date) -> ReconciliationRun:
    """The day's newest run: 422 for a day to come, 404 before its first run."""
    if day > beijing_today():
        raise invalid("day_in_future", "不能查询未来日期的对账", {"date": ["不能晚于今天"]})
    run = latest_run(day)
    if run is None:
        raise not_found("reconciliation_not_found", "该日尚未对账")
    return run


def day_report(day: date) -> DayReport:
    """The stored report of a day: its newest run and every difference of the day."""
    run = _newest_run(day)
    differences = db.session.scalars(
        sa.select(ReconciliationDifference)
        .where(ReconciliationDifference.day == day)
        .order_by(ReconciliationDifference.id)
    ).all()
    return DayReport(day, run, list(differences))


def open_differences(day: date) -> int:
    """How many of the day's differences are still open."""
    return (
        db.session.scalar(
            sa.select(sa.func.count()).where(
                ReconciliationDifference.day == day,
                ReconciliationDifference.status == DifferenceStatus.OPEN,
            )
        )
        or 0
    )


def resolve_difference(
    actor: User | None, difference_id: int, note: str
) -> ReconciliationDifference:
    """A finance officer settles an open difference with a note (audited; flushes)."""
    difference = db.session.get(ReconciliationDifference, difference_id, with_for_update=True)
    if difference is None:
        raise not_found("difference_not_found", "对账差异不存在")
    if difference.status != DifferenceStatus.OPEN:
        raise conflict("difference_not_open", "该差异已处理，无需再次处理")
    before = difference.status
    difference.status = DifferenceStatus.RESOLVED
    difference.resolved_at = utcnow()
    difference.resolved_by_id = actor.id if actor else None
    difference.note = note
    record(actor, "reconciliation.resolve", difference, fund_id=None,
           changes={"status": [before, difference.status], "day": difference.day,
                    "kind": difference.kind, "out_trade_no": difference.out_trade_no,
                    "out_refund_no": difference.out_refund_no},
           reason=note)  # fmt: skip
    return difference


@dataclass(frozen=True, slots=True)
class ExportLine:
    """A bill line with the donation, refund, need and fund it belongs to here."""

    line: BillLine
    need_title: str | None
    fund_name: str | None


def export_lines(day: date) -> list[ExportLine]:
    """The day's bill lines as the newest run read them, for the accounting export."""
    _newest_run(day)  # the report's errors: a day to come, a day not run yet
    rows = db.session.execute(
        sa.select(BillLine, Need.title, Fund.name)
        .outerjoin(Donation, Donation.id == BillLine.donation_id)
        .outerjoin(Need, Need.id == Donation.need_id)
        .outerjoin(Fund, Fund.id == Donation.fund_id)
        .where(BillLine.day == day)
        .order_by(BillLine.line_no)
    )
    return [ExportLine(line, title, name) for line, title, name in rows]


def due_day() -> date | None:
    """The day the worker should reconcile now: yesterday (Beijing), once its bill is ready
    (10:00) and while no run of it exists."""
    now = utcnow().astimezone(BEIJING)
    if now.time() < BILL_READY:
        return None
    day = now.date() - timedelta(days=1)
    return None if latest_run(day) is not None else day
