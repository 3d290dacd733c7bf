"""Refunds (退款) and leftover decisions (项目结余处置)."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.common.models import TimestampMixin, enum_column
from backend.donations.models import Donation
from backend.extensions import db


class RefundStatus(enum.StrEnum):
    """Where a refund is.

    requested: recorded here, the money held back from spending, not yet accepted by WeChat
    (the worker sends it again until WeChat answers); processing: WeChat accepted it and the
    money is on its way back; succeeded and failed are final.
    """

    REQUESTED = "requested"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


#: refunds still moving (their money is held back on the donation as `refunding_fen`)
OPEN_REFUND_STATUSES = (RefundStatus.REQUESTED, RefundStatus.PROCESSING)


class Refund(TimestampMixin, db.Model):
    """退款: part or all of a paid donation returned to its payer through WeChat Pay."""

    __tablename__ = "refunds"
    __table_args__ = (
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint(
            "status <> 'succeeded' OR (journal_entry_id IS NOT NULL AND settled_at IS NOT NULL)",
            name="succeeded_has_entry",
        ),
        sa.Index(
            "ix_refunds_open",
            "created_at",
            postgresql_where=sa.text("status IN ('requested', 'processing')"),
        ),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    #: the donation refunded
    donation_id: Mapped[int] = mapped_column(sa.ForeignKey("donations.id"), index=True)
    #: our refund number sent to WeChat Pay (secrets-made, unique)
    out_refund_no: Mapped[str] = mapped_column(sa.String(64), unique=True)
    #: how much goes back
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
    #: why (shown to the donor; WeChat gets its first 80 bytes as refund_desc)
    reason: Mapped[str] = mapped_column(sa.String(200))
    #: where it is
    status: Mapped[RefundStatus] = mapped_column(
        enum_column(RefundStatus, "refund_status"), default=RefundStatus.REQUESTED
    )
    #: WeChat's refund id, once it accepted the refund
    refund_id: Mapped[str | None] = mapped_column(sa.String(32))
    #: who asked for it (NULL once that account is deleted)
    requested_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    #: the leftover decision it is part of (a closed need's bulk refunds)
    leftover_id: Mapped[int | None] = mapped_column(sa.ForeignKey("need_leftovers.id"), index=True)
    #: why it failed (WeChat's words, or ours)
    failure: Mapped[str | None] = mapped_column(sa.String(200))
    #: times it was sent to WeChat
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    #: when it was last sent to WeChat
    sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: when it succeeded or failed
    settled_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: the reversing journal entry, written when it succeeded
    journal_entry_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("journal_entries.id"), unique=True
    )

    donation: Mapped[Donation] = relationship()


class LeftoverAction(enum.StrEnum):
    """What a closed need's money left over becomes."""

    REFUND = "refund"
    TO_POOL = "to_pool"


class NeedLeftover(db.Model):
    """项目结余处置: the decision on the money a completed or closed need has left, once."""

    __tablename__ = "need_leftovers"
    __table_args__ = (sa.CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    #: the need (one decision each)
    need_id: Mapped[int] = mapped_column(sa.ForeignKey("needs.id"), unique=True)
    #: refund the donors, or move the money to the fund's pool
    action: Mapped[LeftoverAction] = mapped_column(enum_column(LeftoverAction, "leftover_action"))
    #: the money left when decided
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
    #: the committee's decision (e.g. the minutes' reference and what was resolved)
    decision: Mapped[str] = mapped_column(sa.String(500))
    #: who recorded it
    decided_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    #: the transfer's journal entry (to_pool)
    journal_entry_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("journal_entries.id"), unique=True
    )
    #: when (UTC)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
