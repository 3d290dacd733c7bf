"""The stats roll-up: a region and everything below it, in a handful of aggregate queries.

Where each figure comes from (one rule each):

- needs: the public needs (`Need.public()`) whose region is in the subtree, counted by
  status; their `beneficiary_count` summed.
- raised_fen, donation_count: the received donations of those needs, `Donation.net_fen`
  summed and the `COUNTED_STATUSES` ones counted: exactly the figures the progress
  counters hold for each need (`donations.totals` is their source of truth), summed.
  They are read from `NeedMonthTotal`, which the donations' triggers keep in the same
  transaction as each payment (a row per need and month, not per donation); PostgreSQL is
  read, never the counters, so a counter not yet applied after a commit (or a Redis outage)
  cannot skew a roll-up; a copy of the answer is dropped when the counters change.
- spent_fen: the disbursed expenses of the funds whose region is in the subtree (the need's
  earmarked money and the pool's alike).
- fund_count, space_count: funds and charity spaces whose region is in the subtree.
- monthly: the last 12 Beijing months, the current one included (months with nothing are
  0): raised by the month the donation was paid in (net of refunds, so a refund lowers the
  month the money arrived in), spent by the month the expense was disbursed in.
- targets: the region's programme targets of the current (Beijing) year; for the whole
  platform, the targets of the root regions summed per metric.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from backend.common.time import BEIJING, beijing_today
from backend.donations.models import NeedMonthTotal
from backend.extensions import db
from backend.funds.models import Fund
from backend.needs.models import PUBLIC_STATUSES, Need
from backend.regions.models import ProgrammeTarget, Region
from backend.regions.services import in_subtree
from backend.spaces.models import CharitySpace
from backend.spending.models import Expense, ExpenseStatus

#: how many months the series covers, the current one included
MONTHS = 12

#: the metrics a programme target may name (the roll-up's figure of the same name)
METRICS = (
    "fund_count",
    "need_count",
    "space_count",
    "raised_fen",
    "spent_fen",
    "donation_count",
    "beneficiary_count",
)


@dataclass(frozen=True)
class TargetProgress:
    """A planned figure beside what has been achieved, and whether the pace is right.

    The plan is read as a straight line from 0 on 1 January of its year to `target` at the
    end of `due_on`; `expected` is that line's value at the start of today (Beijing), i.e.
    `target × days past / days of the plan`, rounded up. `on_track` when `actual` is at
    least `expected` (after `due_on`: when the target is reached)."""

    metric: str
    year: int
    target: int
    actual: int
    #: the last Beijing day of the plan
    due_on: date
    #: Beijing days from today to `due_on` (0 on the day, negative once past)
    days_left: int
    #: what a linear pace would have reached by the start of today
    expected: int
    on_track: bool

    @property
    def percent(self) -> int:
        """Whole percent of the target reached."""
        return self.actual * 100 // self.target

    @property
    def reached(self) -> bool:
        """Whether the target is reached."""
        return self.actual >= self.target


@dataclass(frozen=True)
class MonthFigures:
    """Money in and out in one Beijing month."""

    #: the first day of the month
    month: date
    raised_fen: int
    donation_count: int
    spent_fen: int

    @property
    def label(self) -> str:
        """The month as YYYY-MM."""
        return self.month.strftime("%Y-%m")


@dataclass(frozen=True)
class Stats:
    """The roll-up the stats endpoint answers."""

    region: Region | None
    fund_count: int
    need_count: int
    needs_by_status: dict[str, int]
    raised_fen: int
    spent_fen: int
    donation_count: int
    beneficiary_count: int
    space_count: int
    targets: list[TargetProgress] = field(default_factory=list)
    #: the last `MONTHS` Beijing months, oldest first
    monthly: list[MonthFigures] = field(default_factory=list)
    #: the Beijing day the figures were computed on (targets' pace and the months follow it)
    as_of: date | None = None


def last_months(today: date, count: int = MONTHS) -> list[date]:
    """The first days of the `count` Beijing months up to `today`'s, oldest first."""
    index = today.year * 12 + today.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - count + 1, index + 1)]


def beijing_midnight(day: date) -> datetime:
    """The instant (UTC) a Beijing day begins."""
    return datetime(day.year, day.month, day.day, tzinfo=BEIJING).astimezone(UTC)


def month_bucket(
    column: sa.ColumnElement[datetime], bounds: list[datetime]
) -> sa.ColumnElement[int]:
    """Which of the months starting at `bounds` (ascending instants, the last one the end of
    the last month) `column` falls in: 1 for the first, 0 before it, len(bounds) after the
    last. One binary search per row (`width_bucket`), no time zone conversion per row."""
    return sa.func.width_bucket(column, sa.literal(bounds, sa.ARRAY(sa.DateTime(timezone=True))))


def _in_region(region_id: sa.ColumnElement[int], region: Region | None) -> sa.ColumnElement[bool]:
    """`region_id` lies in `region`'s subtree (always true for the whole platform)."""
    if region is None:
        return sa.true()
    return region_id.in_(sa.select(Region.id).where(in_subtree(region)))


def _needs(region: Region | None) -> tuple[dict[str, int], int]:
    """Public needs by status, and their beneficiaries."""
    rows = db.session.execute(
        sa.select(
            Need.status, sa.func.count(), sa.func.coalesce(sa.func.sum(Need.beneficiary_count), 0)
        )
        .where(Need.public(), _in_region(Need.region_id, region))
        .group_by(Need.status)
    ).all()
    by_status = {status.value: 0 for status in PUBLIC_STATUSES}
    beneficiaries = 0
    for status, count, people in rows:
        by_status[status.value] = int(count)
        beneficiaries += int(people)
    return by_status, beneficiaries


def _places(region: Region | None) -> tuple[int, int]:
    """Funds and charity spaces."""
    funds = sa.select(sa.func.count()).select_from(Fund).where(_in_region(Fund.region_id, region))
    spaces = (
        sa.select(sa.func.count())
        .select_from(CharitySpace)
        .where(_in_region(CharitySpace.region_id, region))
    )
    row = db.session.execute(sa.select(funds.scalar_subquery(), spaces.scalar_subquery())).one()
    return int(row[0]), int(row[1])


def _by_month(
    stmt: sa.Select, moment: sa.ColumnElement[datetime], bounds: list[datetime]
) -> sa.Select:
    """`stmt` grouped by the month `moment` falls in (`month_bucket`)."""
    bucket = month_bucket(moment, bounds).label("bucket")
    return stmt.add_columns(bucket).group_by(bucket)


def _raised(
    region: Region | None, months: list[date]
) -> tuple[int, int, dict[int, tuple[int, int]]]:
    """Received donations of the public needs: net raised, counted donations, and both per
    month bucket (1 for `months[0]`). Read from the month totals the donations' triggers
    keep (`NeedMonthTotal`): a row per need and month, not a row per donation."""
    public_needs = sa.select(Need.id).where(Need.public(), _in_region(Need.region_id, region))
    rows = db.session.execute(
        sa.select(
            NeedMonthTotal.month,
            sa.func.sum(NeedMonthTotal.net_fen),
            sa.func.sum(NeedMonthTotal.counted),
        )
        .where(NeedMonthTotal.need_id.in_(public_needs))
        .group_by(NeedMonthTotal.month)
    ).all()
    bucket = {month: i for i, month in enumerate(months, start=1)}
    by_month = {bucket[row[0]]: (int(row[1]), int(row[2])) for row in rows if row[0] in bucket}
    return sum(int(row[1]) for row in rows), sum(int(row[2]) for row in rows), by_month


def _spent(region: Region | None, bounds: list[datetime]) -> tuple[int, dict[int, int]]:
    """Disbursed expenses of the funds: the total, and per month bucket (`month_bucket`)."""
    stmt = sa.select(sa.func.coalesce(sa.func.sum(Expense.amount_fen), 0)).where(
        Expense.status == ExpenseStatus.DISBURSED
    )
    if region is not None:
        funds = sa.select(Fund.id).where(_in_region(Fund.region_id, region))
        stmt = stmt.where(Expense.fund_id.in_(funds))
    rows = db.session.execute(_by_month(stmt, Expense.disbursed_at, bounds)).all()
    months = {row.bucket: int(row[0]) for row in rows}
    return sum(int(row[0]) for row in rows), months


def rollup(region: Region | None) -> Stats:
    """Figures for `region` and below (the whole platform when None)."""
    today = beijing_today()
    months = last_months(today)
    # Beijing midnight of each month's 1st, and of the next month's (the end of the last)
    following = last_months(months[-1] + timedelta(days=31), 1)[0]
    bounds = [beijing_midnight(m) for m in [*months, following]]
    by_status, beneficiaries = _needs(region)
    fund_count, space_count = _places(region)
    raised, donation_count, raised_by_month = _raised(region, months)
    spent, spent_by_month = _spent(region, bounds)
    need_count = sum(by_status.values())
    actual = {
        "fund_count": fund_count,
        "need_count": need_count,
        "space_count": space_count,
        "raised_fen": raised,
        "spent_fen": spent,
        "donation_count": donation_count,
        "beneficiary_count": beneficiaries,
    }
    return Stats(
        region=region,
        fund_count=fund_count,
        need_count=need_count,
        needs_by_status=by_status,
        raised_fen=raised,
        spent_fen=spent,
        donation_count=donation_count,
        beneficiary_count=beneficiaries,
        space_count=space_count,
        targets=targets(region, actual, today),
        monthly=[
            MonthFigures(
                month,
                *raised_by_month.get(bucket, (0, 0)),
                spent_by_month.get(bucket, 0),
            )
            for bucket, month in enumerate(months, start=1)
        ],
        as_of=today,
    )


def target_progress(
    metric: str, year: int, target: int, actual: int, due_on: date, today: date
) -> TargetProgress:
    """A target's progress as of `today` (the linear pace of `TargetProgress`)."""
    start = date(year, 1, 1)
    plan_days = max(1, (due_on - start).days + 1)
    past = min(plan_days, max(0, (today - start).days))
    expected = -(-target * past // plan_days)  # rounded up
    return TargetProgress(
        metric=metric,
        year=year,
        target=target,
        actual=actual,
        due_on=due_on,
        days_left=(due_on - today).days,
        expected=expected,
        on_track=actual >= expected,
    )


def targets(
    region: Region | None, actual: dict[str, int], today: date | None = None
) -> list[TargetProgress]:
    """This year's targets of the region (of the root regions, summed, for the platform:
    due on the latest of their days)."""
    today = today or beijing_today()
    year = today.year
    stmt = sa.select(
        ProgrammeTarget.metric,
        sa.func.sum(ProgrammeTarget.target),
        sa.func.max(ProgrammeTarget.due_on),
    ).where(ProgrammeTarget.year == year, ProgrammeTarget.metric.in_(METRICS))
    if region is not None:
        stmt = stmt.where(ProgrammeTarget.region_id == region.id)
    else:
        roots = sa.select(Region.id).where(Region.parent_id.is_(None))
        stmt = stmt.where(ProgrammeTarget.region_id.in_(roots))
    rows = db.session.execute(
        stmt.group_by(ProgrammeTarget.metric).order_by(ProgrammeTarget.metric)
    )
    return [
        target_progress(metric, year, int(target), actual.get(metric, 0), due_on, today)
        for metric, target, due_on in rows
    ]
