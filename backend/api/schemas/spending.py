"""Schemas of the spending endpoints (the back office's view: names unmasked)."""

from __future__ import annotations

import marshmallow as ma

from backend.accounts.permissions import Permission, can
from backend.api.schemas.base import (
    Amount,
    BeijingDateTime,
    Id,
    PageArgsSchema,
    PageSchema,
    RefSchema,
    one_line,
    plain_text,
)
from backend.api.schemas.uploads import UploadSchema
from backend.auth import current_user
from backend.spending.models import AttachmentStage, Decision, Expense, ExpenseStatus, PayeeType
from backend.spending.services import approval_count, available_fen

MAX_ATTACHMENTS = 9


def attachment_ids(required: bool) -> ma.fields.List:
    """Ids of the caller's uploads (images or PDFs), in the order shown."""
    return ma.fields.List(
        Id(),
        required=required,
        load_default=ma.missing if required else list,
        validate=ma.validate.Length(min=1 if required else 0, max=MAX_ATTACHMENTS),
        metadata={"description": "ids from POST /uploads (images or PDFs), at most 9"},
    )


class ExpenseInputSchema(ma.Schema):
    """An expense as the secretary submits it."""

    need_id = Id(
        load_default=None,
        allow_none=True,
        metadata={"description": "the need whose money is spent; absent for the fund's pool"},
    )
    amount_fen = Amount(required=True)
    payee_name = ma.fields.String(
        required=True, validate=[ma.validate.Length(min=2, max=60), one_line]
    )
    payee_type = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf([t.value for t in PayeeType]),
        metadata={"description": "person (masked in public) or organization"},
    )
    purpose = ma.fields.String(
        required=True, validate=[ma.validate.Length(min=4, max=200), one_line]
    )
    attachment_ids = attachment_ids(required=True)


class DecisionInputSchema(ma.Schema):
    """An approver's decision: a comment, required to reject."""

    comment = ma.fields.String(load_default="", validate=[ma.validate.Length(max=500), plain_text])


class CancelInputSchema(ma.Schema):
    """Why the expense is withdrawn."""

    reason = ma.fields.String(
        required=True, validate=[ma.validate.Length(min=4, max=500), plain_text]
    )


class DisburseInputSchema(ma.Schema):
    """The foundation's payment: its voucher number and proof of payment."""

    voucher_no = ma.fields.String(
        required=True, validate=[ma.validate.Length(min=2, max=64), one_line]
    )
    attachment_ids = attachment_ids(required=True)


class RedactionInputSchema(ma.Schema):
    """A copy of an attachment with personal details covered, published instead of it."""

    attachment_id = Id(required=True)
    upload_id = Id(required=True)


class ExpenseListArgsSchema(PageArgsSchema):
    """`?status=&need_id=` filters of a fund's expenses."""

    status = ma.fields.String(
        load_default=None, validate=ma.validate.OneOf([s.value for s in ExpenseStatus])
    )
    need_id = Id(strict=False, load_default=None)


class ApprovalSchema(ma.Schema):
    """One decision."""

    id = ma.fields.Integer()
    user_id = ma.fields.Integer(allow_none=True)
    role = ma.fields.String(metadata={"enum": ["secretary", "committee"]})
    decision = ma.fields.String(metadata={"enum": [d.value for d in Decision]})
    comment = ma.fields.String()
    created_at = BeijingDateTime()


class AttachmentSchema(ma.Schema):
    """A file of evidence; `redacted` is what the public sees instead of the original."""

    id = ma.fields.Integer()
    stage = ma.fields.String(metadata={"enum": [s.value for s in AttachmentStage]})
    upload = ma.fields.Nested(UploadSchema)
    redacted = ma.fields.Nested(UploadSchema, allow_none=True)
    public = ma.fields.Function(
        lambda a: a.expense.status == ExpenseStatus.DISBURSED,
        metadata={"type": "boolean", "description": "published with the disbursed expense"},
    )


def _actions(expense: Expense) -> list[str]:
    """What the caller could do next (the policy's final word is the call itself)."""
    user = current_user()
    if user is None:
        return []
    actions = []
    if expense.status == ExpenseStatus.SUBMITTED:
        mine = expense.submitter_id == user.id
        decided = any(a.user_id == user.id for a in expense.approvals)
        if not mine and not decided and can(user, Permission.DECIDE_EXPENSES, expense.fund):
            actions += ["approve", "reject"]
        if expense.first_decision_at is None and can(
            user, Permission.SUBMIT_EXPENSES, expense.fund
        ):
            actions.append("cancel")
    if expense.status == ExpenseStatus.APPROVED and can(user, Permission.DISBURSE, expense.fund):
        actions += ["disburse", "cancel"]
    if expense.status in (ExpenseStatus.SUBMITTED, ExpenseStatus.APPROVED) and (
        can(user, Permission.SUBMIT_EXPENSES, expense.fund)
        or can(user, Permission.DISBURSE, expense.fund)
    ):
        actions.append("redact")
    return actions


class ExpenseItemSchema(ma.Schema):
    """An expense with its decisions and evidence, for the fund's team."""

    id = ma.fields.Integer()
    fund = ma.fields.Nested(RefSchema)
    need = ma.fields.Function(
        lambda e: {"id": e.need.id, "title": e.need.title} if e.need else None,
        metadata={"type": "object", "nullable": True, "description": "null: the fund's pool"},
    )
    amount_fen = ma.fields.Integer()
    payee_name = ma.fields.String()
    payee_type = ma.fields.String(metadata={"enum": [t.value for t in PayeeType]})
    purpose = ma.fields.String()
    status = ma.fields.String(metadata={"enum": [s.value for s in ExpenseStatus]})
    submitter_id = ma.fields.Integer(allow_none=True)
    threshold_fen = ma.fields.Integer(
        metadata={"description": "the fund's committee threshold when it was submitted"}
    )
    needs_committee = ma.fields.Boolean(
        metadata={"description": "at or above the threshold: a committee majority decides"}
    )
    required_approvals = ma.fields.Integer()
    approval_count = ma.fields.Function(approval_count, metadata={"type": "integer"})
    approvals = ma.fields.List(ma.fields.Nested(ApprovalSchema))
    attachments = ma.fields.List(ma.fields.Nested(AttachmentSchema))
    rejection_reason = ma.fields.String(allow_none=True)
    voucher_no = ma.fields.String(allow_none=True)
    disbursed_by_id = ma.fields.Integer(allow_none=True)
    journal_entry_id = ma.fields.Integer(allow_none=True)
    created_at = BeijingDateTime()
    first_decision_at = BeijingDateTime(allow_none=True)
    decided_at = BeijingDateTime(allow_none=True)
    disbursed_at = BeijingDateTime(allow_none=True)
    actions = ma.fields.Function(
        _actions,
        metadata={
            "type": "array",
            "items": {"type": "string"},
            "description": "what the caller may do next: approve, reject, cancel, disburse, redact",
        },
    )


class ExpenseSchema(ExpenseItemSchema):
    """One expense, with what its account can pay while it awaits decisions."""

    available_fen = ma.fields.Function(
        lambda e: available_fen(e) if e.status == ExpenseStatus.SUBMITTED else None,
        metadata={
            "type": "integer",
            "nullable": True,
            "description": "what the account can pay now, net of other approved expenses",
        },
    )


class ExpensePageSchema(PageSchema):
    """A page of expenses."""

    items = ma.fields.List(ma.fields.Nested(ExpenseItemSchema))
