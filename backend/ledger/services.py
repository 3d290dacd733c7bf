"""Balances derived from the journal, and the public income ledger."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from backend.donations.models import RECEIVED_STATUSES, Donation
from backend.extensions import db
from backend.ledger.models import JournalLine
from backend.needs.models import Need

#: journal accounts: a need's earmarked money, a fund's general pool, WeChat Pay's clearing
NEED_ACCOUNT_PREFIX = "need:"
FUND_POOL_ACCOUNT_PREFIX = "fund:"
WECHAT_CLEARING_ACCOUNT = "clearing:wechat"


def need_account(need_id: int) -> str:
    """The journal account money given to a need is earmarked in."""
    return f"{NEED_ACCOUNT_PREFIX}{need_id}"


def fund_pool_account(fund_id: int) -> str:
    """The journal account of a fund's general pool."""
    return f"{FUND_POOL_ACCOUNT_PREFIX}{fund_id}"


def balance(accounts: Sequence[str]) -> int:
    """The sum of every journal line on these accounts."""
    if not accounts:
        return 0
    total = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(JournalLine.amount_fen), 0)).where(
            JournalLine.account.in_(list(accounts))
        )
    )
    return int(total)


def fund_accounts(fund_id: int) -> list[str]:
    """A fund's pool and the accounts of all its needs."""
    need_ids = db.session.scalars(sa.select(Need.id).where(Need.fund_id == fund_id))
    return [fund_pool_account(fund_id), *(need_account(i) for i in need_ids)]


def income_page(
    *, need_id: int | None = None, fund_id: int | None = None, limit: int, before_id: int | None
) -> tuple[list[Donation], bool]:
    """Paid donations to a need (or to a fund, needs and pool), newest first."""
    stmt = (
        sa.select(Donation)
        .where(Donation.status.in_(RECEIVED_STATUSES))
        .order_by(Donation.id.desc())
        .limit(limit + 1)
    )
    stmt = (
        stmt.where(Donation.need_id == need_id)
        if need_id
        else stmt.where(Donation.fund_id == fund_id)
    )
    if before_id is not None:
        stmt = stmt.where(Donation.id < before_id)
    rows = list(db.session.scalars(stmt))
    return rows[:limit], len(rows) > limit
