"""Public ledgers: every donation a need or fund received (donors masked) and its balance."""

from __future__ import annotations

from typing import Any

from backend.api.base import Blueprint, id_page
from backend.api.lookups import fund_or_404
from backend.api.schemas.base import PageArgsSchema
from backend.api.schemas.public import LedgerSchema
from backend.donations.services import income_page
from backend.funds.services import fund_account_names
from backend.ledger.services import balance, need_account
from backend.needs.services import public_need

blp = Blueprint("ledger", __name__, description="公开账本")


@blp.get("/needs/<int:need_id>/ledger")
@blp.arguments(PageArgsSchema, location="query", as_kwargs=True)
@blp.response(200, LedgerSchema)
def need_ledger(need_id: int, limit: int, cursor: str | None) -> dict[str, Any]:
    """Every donation the need received (masked donors), its expenses, its balance."""
    need = public_need(need_id)
    return {
        "income": id_page("need-ledger", cursor, {"need": need.id},
                          lambda after: income_page(need_id=need.id, limit=limit, after=after)),
        "expenses": [],  # filled once expenses are disbursed
        "balance_fen": balance([need_account(need.id)]),
    }  # fmt: skip


@blp.get("/funds/<int:fund_id>/ledger")
@blp.arguments(PageArgsSchema, location="query", as_kwargs=True)
@blp.response(200, LedgerSchema)
def fund_ledger(fund_id: int, limit: int, cursor: str | None) -> dict[str, Any]:
    """Every donation to the fund (its needs and its pool), its expenses, its balance."""
    fund = fund_or_404(fund_id)
    return {
        "income": id_page("fund-ledger", cursor, {"fund": fund.id},
                          lambda after: income_page(fund_id=fund.id, limit=limit, after=after)),
        "expenses": [],  # filled once expenses are disbursed
        "balance_fen": balance(fund_account_names(fund.id)),
    }  # fmt: skip
