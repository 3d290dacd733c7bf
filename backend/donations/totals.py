"""PostgreSQL's own figures of needs and funds: what the progress counters are rebuilt and
checked from. The counters know nothing of orders; this is their source (see
`backend.progress.service.CounterSource`)."""

from __future__ import annotations

import sqlalchemy as sa

from backend.donations.models import COUNTED_STATUSES, Donation
from backend.extensions import db
from backend.funds.models import Fund
from backend.needs.models import Need


def _sums(column: sa.ColumnElement[int], ids: list[int]) -> dict[int, tuple[int, int]]:
    """raised_fen and donation_count per id from the donations table."""
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(
            column,
            sa.func.coalesce(sa.func.sum(Donation.net_fen), 0),
            sa.func.count().filter(Donation.status.in_(COUNTED_STATUSES)),
        )
        .where(column.in_(ids), Donation.paid_at.is_not(None))
        .group_by(column)
    )
    found = {row[0]: (int(row[1]), int(row[2])) for row in rows}
    return {i: found.get(i, (0, 0)) for i in ids}


def need_sums(need_ids: list[int]) -> dict[int, tuple[int, int]]:
    """PostgreSQL's raised_fen and donation_count of needs."""
    return _sums(Donation.need_id, need_ids)


def fund_sums(fund_ids: list[int]) -> dict[int, tuple[int, int]]:
    """PostgreSQL's raised_fen and donation_count of funds (needs and pool)."""
    return _sums(Donation.fund_id, fund_ids)


class DonationTotals:
    """The progress counters' source of truth: paid donations net of refunds."""

    def need_totals(self, need_ids: list[int]) -> dict[int, tuple[int, int]]:
        """raised_fen and donation_count of needs."""
        return need_sums(need_ids)

    def fund_totals(self, fund_ids: list[int]) -> dict[int, tuple[int, int]]:
        """raised_fen and donation_count of funds."""
        return fund_sums(fund_ids)

    def published_goal(self, need_id: int) -> int | None:
        """A public need's goal (frozen once published); None otherwise."""
        need = db.session.get(Need, need_id)
        return need.goal_fen if need is not None and need.is_public else None

    def all_ids(self) -> tuple[list[int], list[int]]:
        """Every need id and every fund id."""
        return (
            list(db.session.scalars(sa.select(Need.id).order_by(Need.id))),
            list(db.session.scalars(sa.select(Fund.id).order_by(Fund.id))),
        )
