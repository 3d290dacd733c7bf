"""Spending as the public sees it: disbursed expenses with their published evidence, payees
of the person kind masked, and the journal's totals behind every ledger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by

from backend.common.paging import KeysetList, Page
from backend.donations.services import NeedRef
from backend.extensions import db
from backend.ledger.services import BALANCE_SQL, need_account
from backend.needs.models import Need
from backend.needs.services import need_not_found
from backend.spending.models import (
    Approval,
    Expense,
    ExpenseAttachment,
    ExpenseStatus,
    PayeeType,
)
from backend.uploads.models import Upload

#: what a person's name becomes after its first character (as donors' names: 张**)
MASK = "**"


@dataclass(frozen=True, slots=True)
class PublicApproval:
    """A decision on an expense as the public sees it: the role and the time, never who."""

    role: str
    decision: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PublicFile:
    """An attachment's published copy (the redacted one where there is one)."""

    stage: str
    storage_key: str
    thumbnail_key: str | None
    content_type: str


@dataclass(frozen=True, slots=True)
class PublicExpense:
    """A disbursed expense as the public ledger shows it: its own columns, its need, the
    decisions on it and its published evidence, read by one statement."""

    id: int
    purpose: str
    payee_name: str
    payee_type: PayeeType
    amount_fen: int
    disbursed_at: datetime
    voucher_no: str | None
    need: NeedRef | None
    approvals: list[PublicApproval]
    evidence: list[PublicFile]


def _json_list(value: Any, order_by: Any) -> Any:
    return sa.func.coalesce(
        sa.func.json_agg(aggregate_order_by(value, order_by)), sa.literal_column("'[]'::json")
    )


#: the decisions on the expense, oldest first, as a JSON list
_APPROVALS = (
    sa.select(_json_list(sa.func.json_build_object(
        "role", Approval.role, "decision", Approval.decision, "created_at", Approval.created_at,
    ), Approval.id))
    .where(Approval.expense_id == Expense.id)
    .scalar_subquery()
)  # fmt: skip
#: the published copies of its attachments (`ExpenseAttachment.public_upload`, once public)
_EVIDENCE = (
    sa.select(_json_list(sa.func.json_build_object(
        "stage", ExpenseAttachment.stage, "storage_key", Upload.storage_key,
        "thumbnail_key", Upload.thumbnail_key, "content_type", Upload.content_type,
    ), ExpenseAttachment.id))
    .select_from(ExpenseAttachment)
    .join(Upload, Upload.id == sa.func.coalesce(
        ExpenseAttachment.redacted_upload_id, ExpenseAttachment.upload_id))
    .where(ExpenseAttachment.expense_id == Expense.id, Upload.public.is_(True))
    .scalar_subquery()
)  # fmt: skip
PUBLIC_EXPENSE_COLUMNS = (
    Expense.id, Expense.purpose, Expense.payee_name, Expense.payee_type, Expense.amount_fen,
    Expense.disbursed_at, Expense.voucher_no, Expense.need_id, Need.title.label("need_title"),
    _APPROVALS.label("approvals"), _EVIDENCE.label("evidence"),
)  # fmt: skip


def _public_expense(row: Any) -> PublicExpense:
    return PublicExpense(
        row.id, row.purpose, row.payee_name, row.payee_type, row.amount_fen, row.disbursed_at,
        row.voucher_no, None if row.need_id is None else NeedRef(row.need_id, row.need_title),
        [PublicApproval(a["role"], a["decision"], datetime.fromisoformat(a["created_at"]))
         for a in row.approvals],
        [PublicFile(f["stage"], f["storage_key"], f["thumbnail_key"], f["content_type"])
         for f in row.evidence],
    )  # fmt: skip


def _disbursed_list(owner: sa.ColumnElement[Any]) -> KeysetList:
    stmt = (
        sa.select(*PUBLIC_EXPENSE_COLUMNS)
        .select_from(Expense)
        .outerjoin(Need, Need.id == Expense.need_id)
        .where(Expense.status == ExpenseStatus.DISBURSED, owner == sa.bindparam("owner"))
    )
    return KeysetList(stmt, (Expense.disbursed_at, Expense.id))


#: a fund's disbursed expenses (False: its pool's and its needs') and a need's (True)
_DISBURSED = {False: _disbursed_list(Expense.fund_id), True: _disbursed_list(Expense.need_id)}


def disbursed_page(
    *,
    need_id: int | None = None,
    fund_id: int | None = None,
    limit: int,
    after: tuple[datetime, int] | None,
    newest_first: bool = True,
) -> Page[PublicExpense]:
    """Disbursed expenses of a need (or of a fund: its pool's and its needs'), keyed by
    `(disbursed_at, id)`, newest first; their need, approvals and published evidence come
    with them in the same statement (JSON lists: no query per row, nor per relation)."""
    if (need_id is None) == (fund_id is None):
        raise ValueError("name a need or a fund")
    page = _DISBURSED[need_id is not None].page(
        {"owner": need_id if need_id is not None else fund_id}, limit, after,
        descending=newest_first,
    )  # fmt: skip
    return Page([_public_expense(row) for row in page.items], page.more)


def mask_payee(expense: Expense | PublicExpense) -> str:
    """The payee as shown in public: a person as 张** (like donors), an organization whole."""
    if expense.payee_type == PayeeType.ORGANIZATION:
        return expense.payee_name
    name = expense.payee_name.strip()
    return name[:1] + MASK


@dataclass(frozen=True)
class LedgerTotals:
    """What the journal says of some accounts: received (net of refunds), spent, and left."""

    income_fen: int
    spent_fen: int
    balance_fen: int


#: the balance (`ledger.services.BALANCE_SQL`: the sealer's totals plus pending lines) and
#: what the disbursements' entries took from the accounts, in one statement; the second
#: figure starts from the expenses (one index lookup of lines per disbursed expense), never
#: from the accounts' lines, which grow with every donation
_LEDGER_TOTALS_SQL = """
SELECT ({balance}) AS balance_fen,
       (SELECT COALESCE(sum(l.amount_fen), 0) FROM expenses e
        JOIN journal_lines l ON l.entry_id = e.journal_entry_id
        WHERE e.journal_entry_id IS NOT NULL
          AND l.account = ANY(CAST(:accounts AS varchar[]))) AS taken_fen
"""
LEDGER_TOTALS_SQL = sa.text(_LEDGER_TOTALS_SQL.format(balance=BALANCE_SQL.text))


def ledger_totals(accounts: Sequence[str]) -> LedgerTotals:
    """The journal's figures of these accounts: the balance is the sum of their lines; spent
    is what the disbursements' entries took from them; everything else came in."""
    if not accounts:
        return LedgerTotals(income_fen=0, spent_fen=0, balance_fen=0)
    row = db.session.execute(LEDGER_TOTALS_SQL, {"accounts": list(accounts)}).one()
    left, spent = int(row.balance_fen), -int(row.taken_fen)
    return LedgerTotals(income_fen=left + spent, spent_fen=spent, balance_fen=left)


#: `LEDGER_TOTALS_SQL` of a need's account, from the row of the need if it is published
_TOTALS = (
    sa.text(_LEDGER_TOTALS_SQL.format(balance=BALANCE_SQL.text))
    .columns(balance_fen=sa.BigInteger, taken_fen=sa.BigInteger)
    .subquery("totals")
)
PUBLIC_NEED_TOTALS = (
    sa.select(_TOTALS.c.balance_fen, _TOTALS.c.taken_fen)
    .select_from(_TOTALS)
    .join(Need, sa.true())
    .where(Need.id == sa.bindparam("need_id"), Need.public())
)


def public_need_totals(need_id: int) -> LedgerTotals:
    """The figures of a published need's ledger, read in the statement that checks the need
    is published (a need the public may not see is not found, as `public_need` has it)."""
    row = db.session.execute(
        PUBLIC_NEED_TOTALS, {"need_id": need_id, "accounts": [need_account(need_id)]}
    ).first()
    if row is None:
        raise need_not_found()
    left, spent = int(row.balance_fen), -int(row.taken_fen)
    return LedgerTotals(income_fen=left + spent, spent_fen=spent, balance_fen=left)
