"""支出申请 (Expense), 审批 (Approval), evidence, and where each donation's money went."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.common.models import TimestampMixin, enum_column
from backend.common.time import utcnow
from backend.extensions import db
from backend.funds.models import Fund
from backend.needs.models import Need
from backend.uploads.models import Upload


class ExpenseStatus(enum.StrEnum):
    """Where an expense is: submitted → approved → disbursed, or rejected / cancelled."""

    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    DISBURSED = "disbursed"
    CANCELLED = "cancelled"


class PayeeType(enum.StrEnum):
    """Who is paid: a person's name is masked in public, an organization's is not."""

    PERSON = "person"
    ORGANIZATION = "organization"


class Decision(enum.StrEnum):
    """One person's decision on an expense."""

    APPROVE = "approve"
    REJECT = "reject"


class AttachmentStage(enum.StrEnum):
    """Evidence sent with the expense, or the proof of payment sent with its disbursement."""

    EVIDENCE = "evidence"
    DISBURSEMENT = "disbursement"


class Expense(TimestampMixin, db.Model):
    """支出申请: money to be spent from a need's earmarked account or the fund's pool."""

    __tablename__ = "expenses"
    __table_args__ = (
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint("required_approvals >= 1", name="approvals_required"),
        sa.CheckConstraint(
            "status <> 'disbursed' OR (voucher_no IS NOT NULL AND journal_entry_id IS NOT NULL"
            " AND disbursed_at IS NOT NULL)",
            name="disbursed_has_voucher",
        ),
        sa.CheckConstraint(
            "status <> 'rejected' OR rejection_reason IS NOT NULL", name="rejected_has_reason"
        ),
        sa.Index("ix_expenses_fund_newest", "fund_id", sa.text("id DESC")),
        sa.Index(
            "ix_expenses_need_disbursed",
            "need_id",
            "disbursed_at",
            "id",
            postgresql_where=sa.text("status = 'disbursed'"),
        ),
        sa.Index(
            "ix_expenses_fund_disbursed",
            "fund_id",
            "disbursed_at",
            "id",
            postgresql_where=sa.text("status = 'disbursed'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the fund that spends
    fund_id: Mapped[int] = mapped_column(sa.ForeignKey("funds.id"))
    #: the need whose money is spent; NULL for the fund's general pool
    need_id: Mapped[int | None] = mapped_column(sa.ForeignKey("needs.id"))
    #: what is paid
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
    #: who is paid (a person's name is masked in public)
    payee_name: Mapped[str] = mapped_column(sa.String(60))
    payee_type: Mapped[PayeeType] = mapped_column(enum_column(PayeeType, "payee_type"))
    #: what the money buys, shown in public
    purpose: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[ExpenseStatus] = mapped_column(
        enum_column(ExpenseStatus, "expense_status"), default=ExpenseStatus.SUBMITTED
    )
    #: the secretary who submitted it (never one of its approvers)
    submitter_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    #: the fund's committee threshold when it was submitted
    threshold_fen: Mapped[int] = mapped_column(sa.BigInteger)
    #: at or above the threshold: only committee members decide, and a majority must approve
    needs_committee: Mapped[bool] = mapped_column(default=False)
    #: how many approvals make it approved (1, or a majority of the committee at submission)
    required_approvals: Mapped[int] = mapped_column(default=1)
    #: when the first decision was recorded (from then on it cannot change)
    first_decision_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: when it became approved, rejected or cancelled
    decided_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    rejection_reason: Mapped[str | None] = mapped_column(sa.Text)
    #: the foundation's payment voucher (凭证号)
    voucher_no: Mapped[str | None] = mapped_column(sa.String(64))
    disbursed_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    disbursed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: the balanced journal entry the disbursement wrote
    journal_entry_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("journal_entries.id"), unique=True
    )

    fund: Mapped[Fund] = relationship()
    need: Mapped[Need | None] = relationship()
    approvals: Mapped[list[Approval]] = relationship(
        back_populates="expense", order_by="Approval.id"
    )
    attachments: Mapped[list[ExpenseAttachment]] = relationship(
        back_populates="expense", order_by="ExpenseAttachment.id"
    )


class Approval(db.Model):
    """审批: one person's decision on an expense, in the role they decided in."""

    __tablename__ = "approvals"
    __table_args__ = (sa.UniqueConstraint("expense_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    expense_id: Mapped[int] = mapped_column(sa.ForeignKey("expenses.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    #: secretary or committee: the role the decision was made in (shown in public)
    role: Mapped[str] = mapped_column(sa.String(32))
    decision: Mapped[Decision] = mapped_column(enum_column(Decision, "approval_decision"))
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    expense: Mapped[Expense] = relationship(back_populates="approvals")


class ExpenseAttachment(db.Model):
    """A file of evidence: private until the expense is disbursed; then the redacted copy,
    when there is one, is what the public sees, and the original stays private."""

    __tablename__ = "expense_attachments"
    __table_args__ = (sa.UniqueConstraint("expense_id", "upload_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    expense_id: Mapped[int] = mapped_column(sa.ForeignKey("expenses.id"), index=True)
    stage: Mapped[AttachmentStage] = mapped_column(
        enum_column(AttachmentStage, "attachment_stage"), default=AttachmentStage.EVIDENCE
    )
    #: the original (an invoice may carry names and ID numbers)
    upload_id: Mapped[int] = mapped_column(sa.ForeignKey("uploads.id"))
    #: a copy with personal details covered, published instead of the original
    redacted_upload_id: Mapped[int | None] = mapped_column(sa.ForeignKey("uploads.id"))
    added_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    expense: Mapped[Expense] = relationship(back_populates="attachments")
    upload: Mapped[Upload] = relationship(foreign_keys=[upload_id])
    redacted: Mapped[Upload | None] = relationship(foreign_keys=[redacted_upload_id])

    @property
    def public_upload(self) -> Upload:
        """What the public sees once the expense is disbursed."""
        return self.redacted or self.upload


class Allocation(db.Model):
    """How much of one donation paid for one disbursed expense (see spending.allocation)."""

    __tablename__ = "allocations"
    __table_args__ = (
        sa.UniqueConstraint("donation_id", "expense_id"),
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    donation_id: Mapped[int] = mapped_column(sa.ForeignKey("donations.id"))
    expense_id: Mapped[int] = mapped_column(sa.ForeignKey("expenses.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)

    expense: Mapped[Expense] = relationship()
