"""Schemas of the public ledgers: income with masked donors, disbursed expenses with masked
payees and their published evidence, the journal's totals; and the CSV export's columns."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import marshmallow as ma

from backend.api.schemas.base import BeijingDateTime, ObjectSchema, PageArgsSchema, PageSchema
from backend.common.money import yuan as format_yuan
from backend.common.time import BEIJING
from backend.spending.models import AttachmentStage, Decision, PayeeType
from backend.spending.public import PublicFile, mask_payee
from backend.uploads.storage import get_storage


class LedgerArgsSchema(PageArgsSchema):
    """`?limit=&cursor=&expense_cursor=`: `cursor` pages the income, `expense_cursor` the
    expenses; `limit` is the size of both."""

    expense_cursor = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(max=512),
        metadata={"description": "opaque cursor from the previous answer's `expenses_next_cursor`"},
    )


class NeedRefSchema(ObjectSchema):
    """`{id, title}` of a need."""

    id = ma.fields.Integer()
    title = ma.fields.String()


class SpaceRefSchema(ObjectSchema):
    """`{code, name}` of a charity space."""

    code = ma.fields.String()
    name = ma.fields.String()


class IncomeSchema(ObjectSchema):
    """A received donation as the public sees it: the name masked, never an openid or phone."""

    id = ma.fields.Integer()
    donor = ma.fields.String(attribute="public_name", metadata={"description": "张** or 爱心人士"})
    amount_fen = ma.fields.Integer()
    refunded_fen = ma.fields.Integer()
    message = ma.fields.String()
    paid_at = BeijingDateTime()
    need_id = ma.fields.Integer(allow_none=True)
    need = ma.fields.Nested(
        NeedRefSchema, allow_none=True, metadata={"description": "null: the fund's pool"}
    )
    space = ma.fields.Nested(
        SpaceRefSchema,
        allow_none=True,
        metadata={"description": "the charity space (慈善空间) whose code led to the donation"},
    )


class IncomePageSchema(PageSchema):
    """A page of income, newest first."""

    items = ma.fields.List(ma.fields.Nested(IncomeSchema))


class PublicApprovalSchema(ObjectSchema):
    """A decision on an expense, by role and time: never who made it, never the comment."""

    role = ma.fields.String(metadata={"enum": ["secretary", "committee"]})
    decision = ma.fields.String(metadata={"enum": [d.value for d in Decision]})
    decided_at = BeijingDateTime(attribute="created_at")


def evidence_url(evidence: PublicFile, thumbnail: bool = False) -> str | None:
    """Where anyone fetches a published file (or its thumbnail: None for PDFs). The ledger
    holds public copies only (`spending.public`), whose URLs are plain, never signed."""
    key = evidence.thumbnail_key if thumbnail else evidence.storage_key
    return get_storage().url(key) if key else None


class EvidenceSchema(ObjectSchema):
    """A published file of evidence: the redacted copy where there is one."""

    stage = ma.fields.String(
        metadata={
            "enum": [s.value for s in AttachmentStage],
            "description": "evidence (invoice, photos) or disbursement (proof of payment)",
        }
    )
    url = ma.fields.Function(evidence_url, metadata={"type": "string"})
    thumbnail_url = ma.fields.Function(
        lambda a: evidence_url(a, thumbnail=True),
        metadata={"type": "string", "nullable": True, "description": "JPEG; null for PDFs"},
    )
    content_type = ma.fields.String(
        metadata={"enum": ["image/jpeg", "image/png", "image/webp", "application/pdf"]},
    )


class PublicExpenseSchema(ObjectSchema):
    """A disbursed expense as the public sees it."""

    id = ma.fields.Integer()
    purpose = ma.fields.String()
    payee = ma.fields.Function(
        mask_payee, metadata={"type": "string", "description": "a person as 张**"}
    )
    payee_type = ma.fields.String(metadata={"enum": [t.value for t in PayeeType]})
    amount_fen = ma.fields.Integer()
    disbursed_at = BeijingDateTime()
    voucher_no = ma.fields.String(metadata={"description": "the foundation's voucher (凭证号)"})
    need = ma.fields.Nested(
        NeedRefSchema, allow_none=True, metadata={"description": "null: the fund's pool"}
    )
    approvals = ma.fields.List(ma.fields.Nested(PublicApprovalSchema))
    evidence = ma.fields.List(ma.fields.Nested(EvidenceSchema))


class LedgerSchema(ma.Schema):
    """Income, disbursed expenses, and the figures derived from the journal."""

    income = ma.fields.Nested(IncomePageSchema)
    expenses = ma.fields.List(
        ma.fields.Nested(PublicExpenseSchema),
        metadata={"description": "disbursed expenses with their evidence, newest first"},
    )
    expenses_next_cursor = ma.fields.String(
        allow_none=True, metadata={"description": "pass as `expense_cursor` for more expenses"}
    )
    balance_fen = ma.fields.Integer(metadata={"description": "what the journal holds now"})
    income_fen = ma.fields.Integer(
        metadata={"description": "everything received, net of refunds (journal)"}
    )
    spent_fen = ma.fields.Integer(metadata={"description": "everything disbursed (journal)"})


#: the CSV export's columns, in Chinese for the accountant who opens it in Excel
CSV_COLUMNS = (
    "日期", "类型", "对方", "金额（元）", "用途/留言", "凭证号", "慈善空间", "证据链接",
    "已退款（元）", "项目",
)  # fmt: skip
CSV_DESCRIPTION = (
    "The ledger as CSV for Excel: UTF-8 with a BOM, CRLF line ends, one row per received "
    "donation (收入, oldest first) then per disbursed expense (支出, oldest first). Columns: "
    + ", ".join(CSV_COLUMNS)
    + ". Times are Beijing time; amounts are exact yuan (two decimals); donors and payees who "
    "are people are masked; a cell that a spreadsheet would read as a formula starts with '."
)
CSV_DOC = {"200": {"description": CSV_DESCRIPTION,
                   "content": {"text/csv": {"schema": {"type": "string"}}}}}  # fmt: skip
#: a spreadsheet runs a cell starting with one of these as a formula
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BEIJING_TIME = "%Y-%m-%d %H:%M:%S"


def yuan(fen: int) -> str:
    """Exact yuan text of an amount in fen, as spreadsheets read it: 1234 → "12.34"."""
    return format_yuan(fen, symbol="", grouping=False)


def beijing(instant: datetime | None) -> str:
    """An instant as Beijing wall-clock time, as spreadsheets read dates."""
    return instant.astimezone(BEIJING).strftime(BEIJING_TIME) if instant else ""


def defused(cell: str) -> str:
    """The cell as text a spreadsheet will not run: formula starts get a leading '."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def income_row(income: Any) -> list[str]:
    """One received donation as a CSV row."""
    return [
        beijing(income.paid_at), "收入", income.public_name, yuan(income.amount_fen),
        income.message, "", income.space.name if income.space else "", "",
        yuan(income.refunded_fen), income.need.title if income.need else "",
    ]  # fmt: skip


def expense_row(expense: Any) -> list[str]:
    """One disbursed expense as a CSV row."""
    links = " ".join(str(evidence_url(a)) for a in expense.evidence)
    return [
        beijing(expense.disbursed_at), "支出", mask_payee(expense), yuan(expense.amount_fen),
        expense.purpose, expense.voucher_no or "", "", links,
        "", expense.need.title if expense.need else "",
    ]  # fmt: skip


def csv_text(rows: Iterable[list[str]]) -> str:
    """Rows as CSV text with CRLF line ends, every cell defused."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([defused(cell) for cell in row] for row in rows)
    return buffer.getvalue()
