"""The stats roll-up."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from backend.common.time import beijing_today
from backend.extensions import db
from backend.funds.models import Fund
from backend.needs.figures import need_figures
from backend.needs.models import PUBLIC_STATUSES, Need
from backend.regions.models import ProgrammeTarget, Region
from backend.regions.services import in_subtree
from backend.spaces.models import CharitySpace
from backend.spending.models import Expense, ExpenseStatus


@dataclass(frozen=True)
class TargetProgress:
    """A planned figure beside what has been achieved."""

    metric: str
    year: int
    target: int
    actual: int

    @property
    def percent(self) -> int:
        """Whole percent of the target reached."""
        return self.actual * 100 // self.target


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


def _count(model: type, region: Region | None, *where: sa.ColumnElement[bool]) -> int:
    stmt = sa.select(sa.func.count()).select_from(model).where(*where)
    if region is not None:
        stmt = stmt.join(Region, model.region_id == Region.id).where(in_subtree(region))
    return db.session.scalar(stmt) or 0


def _spent(region: Region | None) -> int:
    """What disbursed expenses of the funds in `region` and below paid out."""
    stmt = sa.select(sa.func.coalesce(sa.func.sum(Expense.amount_fen), 0)).where(
        Expense.status == ExpenseStatus.DISBURSED
    )
    if region is not None:
        stmt = (
            stmt.join(Fund, Expense.fund_id == Fund.id)
            .join(Region, Fund.region_id == Region.id)
            .where(in_subtree(region))
        )
    return int(db.session.scalar(stmt))


def rollup(region: Region | None) -> Stats:
    """Figures for `region` and below (the whole platform when None)."""
    need_stmt = sa.select(Need.id, Need.status, Need.beneficiary_count).where(Need.public())
    if region is not None:
        need_stmt = need_stmt.join(Region, Need.region_id == Region.id).where(in_subtree(region))
    needs = db.session.execute(need_stmt).all()
    by_status = {status.value: 0 for status in PUBLIC_STATUSES}
    for row in needs:
        by_status[row.status.value] += 1
    figures = need_figures(row.id for row in needs).values()
    raised = sum(f.raised_fen for f in figures)
    donations = sum(f.donation_count for f in figures)
    beneficiaries = sum(row.beneficiary_count for row in needs)
    fund_count = _count(Fund, region)
    space_count = _count(CharitySpace, region)
    actual = {
        "fund_count": fund_count,
        "need_count": len(needs),
        "space_count": space_count,
        "raised_fen": raised,
        "beneficiary_count": beneficiaries,
    }
    return Stats(
        region=region,
        fund_count=fund_count,
        need_count=len(needs),
        needs_by_status=by_status,
        raised_fen=raised,
        spent_fen=_spent(region),
        donation_count=donations,
        beneficiary_count=beneficiaries,
        space_count=space_count,
        targets=_targets(region, actual),
    )


def _targets(region: Region | None, actual: dict[str, int]) -> list[TargetProgress]:
    """This year's targets of the region (of the root regions, summed, for the platform)."""
    year = beijing_today().year
    stmt = sa.select(ProgrammeTarget.metric, sa.func.sum(ProgrammeTarget.target)).where(
        ProgrammeTarget.year == year
    )
    if region is not None:
        stmt = stmt.where(ProgrammeTarget.region_id == region.id)
    else:
        roots = sa.select(Region.id).where(Region.parent_id.is_(None))
        stmt = stmt.where(ProgrammeTarget.region_id.in_(roots))
    rows = db.session.execute(
        stmt.group_by(ProgrammeTarget.metric).order_by(ProgrammeTarget.metric)
    )
    return [
        TargetProgress(metric, year, int(target), actual.get(metric, 0))
        for metric, target in rows
        if metric in actual
    ]
