"""Journal accounts and the balances derived from the journal."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence

import sqlalchemy as sa

from backend.extensions import db
from backend.ledger.models import JournalEntry, JournalLine

#: journal accounts: a need's earmarked money, a fund's general pool, WeChat Pay's clearing
NEED_ACCOUNT_PREFIX = "need:"
FUND_POOL_ACCOUNT_PREFIX = "fund:"
WECHAT_CLEARING_ACCOUNT = "clearing:wechat"
FOUNDATION_BANK_ACCOUNT_PREFIX = "bank:foundation:"
#: the first key of the advisory locks taken by lock_for_spending
SPENDING_LOCK_SPACE = zlib.crc32(b"linshan:spending") & 0x7FFFFFFF


def need_account(need_id: int) -> str:
    """The journal account money given to a need is earmarked in."""
    return f"{NEED_ACCOUNT_PREFIX}{need_id}"


def fund_pool_account(fund_id: int) -> str:
    """The journal account of a fund's general pool."""
    return f"{FUND_POOL_ACCOUNT_PREFIX}{fund_id}"


#: an account's balance in one snapshot: the total the sealer keeps over its sealed entries
#: plus the lines of the entries still pending (few: the sealer runs every few seconds).
#: Sealing moves an entry from one half to the other in one transaction, so every committed
#: entry counts exactly once, however many lines the account has.
BALANCE_SQL = sa.text("""
SELECT COALESCE((SELECT sum(balance_fen) FROM journal_account_totals
                 WHERE account = ANY(CAST(:accounts AS varchar[]))), 0)
     + COALESCE((SELECT sum(l.amount_fen) FROM journal_pending p
                 JOIN journal_lines l ON l.entry_id = p.entry_id
                 WHERE l.account = ANY(CAST(:accounts AS varchar[]))), 0)
""")


def balance(accounts: Sequence[str]) -> int:
    """The sum of every journal line on these accounts (sealed totals plus pending lines)."""
    if not accounts:
        return 0
    return int(db.session.execute(BALANCE_SQL, {"accounts": list(accounts)}).scalar_one())


def fund_accounts(fund_id: int, need_ids: Iterable[int]) -> list[str]:
    """A fund's pool and the accounts of its needs."""
    return [fund_pool_account(fund_id), *(need_account(i) for i in need_ids)]


def foundation_bank_account(foundation_id: int) -> str:
    """The foundation's bank account, which pays disbursements (an asset: money leaving it
    is a positive line, as money arriving at WeChat's clearing is a negative one)."""
    return f"{FOUNDATION_BANK_ACCOUNT_PREFIX}{foundation_id}"


def lock_for_spending(account: str) -> None:
    """Serialise everything that spends from `account` (approvals, disbursements, refunds)
    until the transaction ends, so two of them never both see the same money available."""
    db.session.execute(
        sa.text("SELECT pg_advisory_xact_lock(:space, hashtext(:account))"),
        {"space": SPENDING_LOCK_SPACE, "account": account},
    )


def write_entry(
    kind: str, memo: str, lines: Sequence[tuple[str, int]], *, donation_id: int | None = None
) -> JournalEntry:
    """Append a balanced entry (the database refuses an unbalanced one at commit)."""
    if sum(amount for _, amount in lines) != 0:
        raise ValueError(f"journal entry {memo!r} does not balance")
    entry = JournalEntry(
        kind=kind,
        donation_id=donation_id,
        memo=memo[:200],
        lines=[JournalLine(account=account, amount_fen=amount) for account, amount in lines],
    )
    db.session.add(entry)
    db.session.flush()
    return entry
