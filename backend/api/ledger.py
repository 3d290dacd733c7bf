"""Public ledgers: every donation a need or fund received (donors masked) and its balance."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask_smorest import Blueprint

from backend.api.base import PageArgsSchema, decode_id_cursor, encode_cursor
from backend.api.lookups import fund_or_404
from backend.api.schemas import BeijingDateTime
from backend.errors import ApiError
from backend.extensions import db
from backend.ledger.services import balance, fund_accounts, income_page, need_account
from backend.needs.models import Need

blp = Blueprint("ledger", __name__, description="公开账本")


class IncomeSchema(ma.Schema):
    """A received donation as the public sees it: the name masked, never an openid or phone."""

    id = ma.fields.Integer()
    donor = ma.fields.String(attribute="public_name", metadata={"description": "张** or 爱心人士"})
    amount_fen = ma.fields.Integer()
    refunded_fen = ma.fields.Integer()
    message = ma.fields.String()
    paid_at = BeijingDateTime()
    need_id = ma.fields.Integer(allow_none=True)


class IncomePageSchema(ma.Schema):
    """A page of income, newest first."""

    items = ma.fields.List(ma.fields.Nested(IncomeSchema))
    next_cursor = ma.fields.String(allow_none=True)


class LedgerSchema(ma.Schema):
    """Income, disbursed expenses, and the balance derived from the journal."""

    income = ma.fields.Nested(IncomePageSchema)
    expenses = ma.fields.List(
        ma.fields.Dict(), metadata={"description": "disbursed expenses with their evidence"}
    )
    balance_fen = ma.fields.Integer()


def _ledger(kind: str, key: dict[str, int], accounts: list[str], limit: int, cursor: str | None,
            **target: int) -> dict[str, Any]:  # fmt: skip
    before = decode_id_cursor(kind, cursor, key)
    items, more = income_page(limit=limit, before_id=before, **target)
    next_cursor = encode_cursor(kind, [items[-1].id], key) if more else None
    # Spending is recorded with expenses and disbursements; until one is disbursed, none.
    return {
        "income": {"items": items, "next_cursor": next_cursor},
        "expenses": [],
        "balance_fen": balance(accounts),
    }


@blp.get("/needs/<int:need_id>/ledger")
@blp.arguments(PageArgsSchema, location="query", as_kwargs=True)
@blp.response(200, LedgerSchema)
def need_ledger(need_id: int, limit: int, cursor: str | None) -> dict[str, Any]:
    """Every donation the need received (masked donors), its expenses, its balance."""
    need = db.session.scalar(sa.select(Need).where(Need.id == need_id, Need.public()))
    if need is None:
        raise ApiError(404, "need_not_found", "该项目不存在或尚未公开")
    return _ledger("need-ledger", {"need": need.id}, [need_account(need.id)], limit, cursor,
                   need_id=need.id)  # fmt: skip


@blp.get("/funds/<int:fund_id>/ledger")
@blp.arguments(PageArgsSchema, location="query", as_kwargs=True)
@blp.response(200, LedgerSchema)
def fund_ledger(fund_id: int, limit: int, cursor: str | None) -> dict[str, Any]:
    """Every donation to the fund (its needs and its pool), its expenses, its balance."""
    fund = fund_or_404(fund_id)
    return _ledger("fund-ledger", {"fund": fund.id}, fund_accounts(fund.id), limit, cursor,
                   fund_id=fund.id)  # fmt: skip
