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


# --- the month totals the stats roll-ups read (kept by triggers, migration 0009) ----------

_COUNTED = ", ".join(f"'{status.value}'" for status in COUNTED_STATUSES)
#: what donations say each need received per Beijing month (the triggers' rule, at once)
_EXPECTED = f"""
    SELECT need_id, date_trunc('month', paid_at AT TIME ZONE 'Asia/Shanghai')::date AS month,
           sum(amount_fen - refunded_fen) AS net_fen,
           count(*) FILTER (WHERE status IN ({_COUNTED})) AS counted
    FROM donations WHERE paid_at IS NOT NULL AND need_id IS NOT NULL
    GROUP BY 1, 2
"""  # noqa: S608 - no input: the status names of the enum
_KEPT = """
    SELECT need_id, month, sum(net_fen) AS net_fen, sum(counted) AS counted
    FROM need_month_totals GROUP BY 1, 2
"""
MONTH_TOTAL_DIFFERENCES_SQL = sa.text(f"""
    SELECT coalesce(e.need_id, k.need_id) AS need_id, coalesce(e.month, k.month) AS month,
           coalesce(e.net_fen, 0) AS expected_net, coalesce(e.counted, 0) AS expected_count,
           coalesce(k.net_fen, 0) AS kept_net, coalesce(k.counted, 0) AS kept_count
    FROM ({_EXPECTED}) e FULL JOIN ({_KEPT}) k ON k.need_id = e.need_id AND k.month = e.month
    WHERE coalesce(e.net_fen, 0) <> coalesce(k.net_fen, 0)
       OR coalesce(e.counted, 0) <> coalesce(k.counted, 0)
    ORDER BY 1, 2
""")  # noqa: S608 - no input
REBUILD_MONTH_TOTALS_SQL = (
    "LOCK TABLE donations IN SHARE MODE",  # no payment commits meanwhile
    "DELETE FROM need_month_totals",
    # no input: the status names of the enum
    "INSERT INTO need_month_totals (need_id, month, slot, net_fen, counted)"  # noqa: S608
    " SELECT need_id, month, 0, net_fen, counted FROM (" + _EXPECTED + ") e",
)


def month_total_differences() -> list[sa.Row]:
    """Needs and months where the kept totals differ from the donations (none: correct)."""
    return list(db.session.execute(MONTH_TOTAL_DIFFERENCES_SQL))


def rebuild_month_totals() -> None:
    """Rewrite the month totals from the donations (flushes; payments wait meanwhile)."""
    for statement in REBUILD_MONTH_TOTALS_SQL:
        db.session.execute(sa.text(statement))


def in_account(need_id: int | None, fund_id: int) -> sa.ColumnElement[bool]:
    """The donations whose money is in an account: a need's (those not moved to the pool)
    or a fund's pool (donations to the pool, and those moved there from closed needs)."""
    if need_id is not None:
        return sa.and_(Donation.need_id == need_id, Donation.pooled.is_(False))
    return sa.and_(Donation.fund_id == fund_id, sa.or_(Donation.need_id.is_(None), Donation.pooled))


def refunding_total(need_id: int | None, fund_id: int) -> int:
    """What refunds in flight hold back in an account (`in_account`)."""
    return int(
        db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Donation.refunding_fen), 0)).where(
                in_account(need_id, fund_id), Donation.refunding_fen > 0
            )
        )
    )
