"""Journal accounts and the balances derived from the journal."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sqlalchemy as sa

from backend.extensions import db
from backend.ledger.models import JournalLine

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


def fund_accounts(fund_id: int, need_ids: Iterable[int]) -> list[str]:
    """A fund's pool and the accounts of its needs."""
    return [fund_pool_account(fund_id), *(need_account(i) for i in need_ids)]
