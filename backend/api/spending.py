"""Spending: expenses with evidence, decisions by the fund's policy, disbursement."""

from __future__ import annotations

from typing import Any

from backend.accounts.permissions import Permission
from backend.api.base import Blueprint, id_page
from backend.api.idempotency import idempotent
from backend.api.lookups import expense_for, fund_for
from backend.api.schemas.base import PageArgsSchema
from backend.api.schemas.spending import (
    CancelInputSchema,
    DecisionInputSchema,
    DisburseInputSchema,
    ExpenseInputSchema,
    ExpenseListArgsSchema,
    ExpensePageSchema,
    ExpenseSchema,
    RedactionInputSchema,
)
from backend.auth import BEARER, login_required
from backend.spending import services
from backend.spending.models import Decision, Expense, ExpenseStatus

blp = Blueprint("spending", __name__, description="支出：申请、审批与拨付")


@blp.post("/funds/<int:fund_id>/expenses")
@idempotent
@blp.arguments(ExpenseInputSchema)
@blp.response(201, ExpenseSchema)
@blp.doc(security=BEARER)
def submit_expense(data: dict[str, Any], fund_id: int) -> Expense:
    """Submit an expense against a need of the fund or its pool, with evidence (secretary);
    a need whose disclosure is overdue takes none until the update is posted."""
    actor, fund = fund_for(Permission.SUBMIT_EXPENSES, fund_id)
    return services.submit_expense(actor, fund, data)


@blp.get("/funds/<int:fund_id>/expenses")
@blp.arguments(ExpenseListArgsSchema, location="query", as_kwargs=True)
@blp.response(200, ExpensePageSchema)
@blp.doc(security=BEARER)
def fund_expenses(
    fund_id: int, limit: int, cursor: str | None, status: str | None, need_id: int | None
) -> dict[str, Any]:
    """The fund's expenses, newest first (fund roles)."""
    _, fund = fund_for(Permission.READ_BACK_OFFICE, fund_id)
    state = ExpenseStatus(status) if status else None
    return id_page("fund-expenses", cursor, {"fund": fund.id, "status": status, "need": need_id},
                   lambda after: services.fund_expenses_page(fund, state, need_id, limit, after))  # fmt: skip


@blp.get("/me/pending-expenses")
@blp.arguments(PageArgsSchema, location="query", as_kwargs=True)
@blp.response(200, ExpensePageSchema)
@blp.doc(security=BEARER)
def pending_expenses(limit: int, cursor: str | None) -> dict[str, Any]:
    """Expenses waiting for the caller's decision, oldest first (secretaries, committee)."""
    actor = login_required()
    return id_page("pending-expenses", cursor, {"user": actor.id},
                   lambda after: services.awaiting_decision_page(actor, limit, after))  # fmt: skip


@blp.get("/expenses/<int:expense_id>")
@blp.response(200, ExpenseSchema)
@blp.doc(security=BEARER)
def get_expense(expense_id: int) -> Expense:
    """One expense with its decisions and evidence (fund roles)."""
    return expense_for(Permission.READ_BACK_OFFICE, expense_id)[1]


@blp.post("/expenses/<int:expense_id>/approve")
@blp.arguments(DecisionInputSchema)
@blp.response(200, ExpenseSchema)
@blp.doc(security=BEARER)
def approve_expense(data: dict[str, str], expense_id: int) -> Expense:
    """Approve (secretary or committee, never the submitter; at or above the threshold the
    committee, by majority); the last approval needed checks the available balance."""
    actor, expense = expense_for(Permission.DECIDE_EXPENSES, expense_id)
    return services.decide_expense(actor, expense, Decision.APPROVE, data["comment"])


@blp.post("/expenses/<int:expense_id>/reject")
@blp.arguments(DecisionInputSchema)
@blp.response(200, ExpenseSchema)
@blp.doc(security=BEARER)
def reject_expense(data: dict[str, str], expense_id: int) -> Expense:
    """Reject with a reason (required); the expense ends."""
    actor, expense = expense_for(Permission.DECIDE_EXPENSES, expense_id)
    return services.decide_expense(actor, expense, Decision.REJECT, data["comment"])


@blp.post("/expenses/<int:expense_id>/cancel")
@blp.arguments(CancelInputSchema)
@blp.response(200, ExpenseSchema)
@blp.doc(security=BEARER)
def cancel_expense(data: dict[str, str], expense_id: int) -> Expense:
    """Withdraw it: a secretary before any decision, the foundation admin once approved."""
    actor, expense = expense_for(Permission.READ_BACK_OFFICE, expense_id)
    return services.cancel_expense(actor, expense, data["reason"])


@blp.post("/expenses/<int:expense_id>/disburse")
@blp.arguments(DisburseInputSchema)
@blp.response(200, ExpenseSchema)
@blp.doc(security=BEARER)
def disburse_expense(data: dict[str, Any], expense_id: int) -> Expense:
    """Record the payment (foundation admin): the journal entry, the donations it is
    allocated to, the evidence published."""
    actor, expense = expense_for(Permission.DISBURSE, expense_id)
    return services.disburse_expense(actor, expense, data["voucher_no"], data["attachment_ids"])


@blp.post("/expenses/<int:expense_id>/redactions")
@blp.arguments(RedactionInputSchema)
@blp.response(200, ExpenseSchema)
@blp.doc(security=BEARER)
def redact_attachment(data: dict[str, int], expense_id: int) -> Expense:
    """Add a copy of an attachment with personal details covered, published instead of the
    original (a secretary or the foundation admin, until it is paid)."""
    actor, expense = expense_for(Permission.READ_BACK_OFFICE, expense_id)
    services.add_redaction(actor, expense, data["attachment_id"], data["upload_id"])
    return expense
