"""Donation and the raw payment notifications."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.common.models import TimestampMixin, enum_column
from backend.common.time import utcnow
from backend.extensions import db
from backend.funds.models import Fund
from backend.needs.models import Need


class DonationStatus(enum.StrEnum):
    """Where a payment order is."""

    PENDING = "pending"
    PAID = "paid"
    CLOSED = "closed"
    REFUNDING = "refunding"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


#: money that arrived (refunds included: they are subtracted separately)
RECEIVED_STATUSES = (
    DonationStatus.PAID,
    DonationStatus.REFUNDING,
    DonationStatus.PARTIALLY_REFUNDED,
    DonationStatus.REFUNDED,
)

#: money that still counts toward a need's or fund's progress (one donation each)
COUNTED_STATUSES = (
    DonationStatus.PAID,
    DonationStatus.REFUNDING,
    DonationStatus.PARTIALLY_REFUNDED,
)

#: statuses a donation can be refunded from (money arrived, not all of it back)
REFUNDABLE_STATUSES = (
    DonationStatus.PAID,
    DonationStatus.PARTIALLY_REFUNDED,
    DonationStatus.REFUNDING,
)

#: the moves an order can make; a payment that arrives after a close is still kept
DONATION_TRANSITIONS: dict[DonationStatus, frozenset[DonationStatus]] = {
    DonationStatus.PENDING: frozenset({DonationStatus.PAID, DonationStatus.CLOSED}),
    DonationStatus.CLOSED: frozenset({DonationStatus.PAID}),
    DonationStatus.PAID: frozenset({DonationStatus.REFUNDING}),
    DonationStatus.REFUNDING: frozenset(
        {DonationStatus.PARTIALLY_REFUNDED, DonationStatus.REFUNDED, DonationStatus.PAID}
    ),
    DonationStatus.PARTIALLY_REFUNDED: frozenset({DonationStatus.REFUNDING}),
    DonationStatus.REFUNDED: frozenset(),
}


class Donation(TimestampMixin, db.Model):
    """捐赠: one payment order to a need or to a fund's general pool."""

    __tablename__ = "donations"
    __table_args__ = (
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint(
            "refunded_fen >= 0 AND refunded_fen <= amount_fen", name="refund_within_amount"
        ),
        sa.CheckConstraint(
            "status NOT IN ('paid', 'refunding', 'partially_refunded', 'refunded')"
            " OR (transaction_id IS NOT NULL AND paid_at IS NOT NULL)",
            name="paid_has_transaction",
        ),
        sa.CheckConstraint(
            "allocated_fen >= 0 AND refunding_fen >= 0"
            " AND allocated_fen + refunded_fen + refunding_fen <= amount_fen",
            name="allocation_within_amount",
        ),
        # the donations whose money is not yet all spent, oldest first (spending.allocation)
        sa.Index(
            "ix_donations_unallocated",
            "fund_id",
            "need_id",
            "paid_at",
            "id",
            postgresql_where=sa.text(
                "paid_at IS NOT NULL AND allocated_fen + refunded_fen < amount_fen"
            ),
        ),
        # the same for a fund's pool: donations to the pool and those of needs whose money
        # left over was moved to the pool (`pooled`)
        sa.Index(
            "ix_donations_pool_unallocated",
            "fund_id",
            "paid_at",
            "id",
            postgresql_where=sa.text(
                "(need_id IS NULL OR pooled) AND paid_at IS NOT NULL"
                " AND allocated_fen + refunded_fen < amount_fen"
            ),
        ),
        # a region's raised figures (stats): the received donations of its needs, read from
        # the index alone (an index-only scan per need instead of a heap fetch per donation)
        sa.Index(
            "ix_donations_need_received",
            "need_id",
            postgresql_include=["paid_at", "amount_fen", "refunded_fen", "status"],
            postgresql_where=sa.text("paid_at IS NOT NULL"),
        ),
        # a charity space's received donations (its figures and its district ranking)
        sa.Index(
            "ix_donations_space_paid",
            "space_id",
            postgresql_where=sa.text("space_id IS NOT NULL AND paid_at IS NOT NULL"),
        ),
        # a need's and a fund's received donations in id order (the public ledgers' pages)
        sa.Index(
            "ix_donations_need_paid",
            "need_id",
            "id",
            postgresql_where=sa.text("paid_at IS NOT NULL"),
        ),
        sa.Index(
            "ix_donations_fund_paid",
            "fund_id",
            "id",
            postgresql_where=sa.text("paid_at IS NOT NULL"),
        ),
        sa.Index(
            "ix_donations_pending", "created_at", postgresql_where=sa.text("status = 'pending'")
        ),
        sa.Index("ix_donations_user_newest", "user_id", sa.text("id DESC")),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    #: our order number sent to WeChat Pay (secrets-made, unique)
    out_trade_no: Mapped[str] = mapped_column(sa.String(32), unique=True)
    #: the donor; NULL once the account is deleted (the donation stays, pseudonymous)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    #: the need given to; NULL for the fund's general pool
    need_id: Mapped[int | None] = mapped_column(sa.ForeignKey("needs.id"))
    #: the fund that receives the money (the need's fund, or the pool's)
    fund_id: Mapped[int] = mapped_column(sa.ForeignKey("funds.id"), index=True)
    #: the charity space whose QR code led here, for attribution
    space_id: Mapped[int | None] = mapped_column(sa.ForeignKey("charity_spaces.id"))
    #: the amount ordered
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
    #: refunded so far
    refunded_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: refunds asked for and not yet settled: held back from spending and from other refunds
    refunding_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    #: its need closed and the money left moved to the fund's pool: what is left of it is
    #: the pool's now (spent and refunded from there)
    pooled: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    #: how much of it disbursed expenses have spent (spending.allocation)
    allocated_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    #: hide the donor's name in public (爱心人士)
    anonymous: Mapped[bool] = mapped_column(default=False)
    #: the donor's message, shown with the masked name
    message: Mapped[str] = mapped_column(sa.String(200), default="")
    #: the masked name shown in public, fixed when the order is made (张** / 爱心人士)
    public_name: Mapped[str] = mapped_column(sa.String(32))
    #: where the order is
    status: Mapped[DonationStatus] = mapped_column(
        enum_column(DonationStatus, "donation_status"), default=DonationStatus.PENDING
    )
    #: WeChat's prepay_id from the unified order
    prepay_id: Mapped[str | None] = mapped_column(sa.String(64))
    #: WeChat's transaction id once paid
    transaction_id: Mapped[str | None] = mapped_column(sa.String(32), unique=True)
    #: the payer's address, sent to WeChat as spbill_create_ip
    client_ip: Mapped[str | None] = mapped_column(sa.String(45))
    #: after this the order can no longer be paid (about 15 minutes)
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    #: when WeChat says it was paid
    paid_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: when we closed it unpaid
    closed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    need: Mapped[Need | None] = relationship()
    fund: Mapped[Fund] = relationship()

    @hybrid_property
    def left_fen(self) -> int:
        """What is left of it in its account: not refunded, not being refunded, not spent
        (the same in Python and SQL)."""
        return self.amount_fen - self.refunded_fen - self.refunding_fen - self.allocated_fen

    @property
    def refundable_fen(self) -> int:
        """What can still be refunded: what is left of a paid donation."""
        if self.paid_at is None or self.status not in REFUNDABLE_STATUSES:
            return 0
        return self.left_fen

    @hybrid_property
    def net_fen(self) -> int:
        """What the donation still contributes: paid minus refunded (the one statement of
        this rule, in Python and in SQL)."""
        return self.amount_fen - self.refunded_fen if self.paid_at else 0

    @net_fen.inplace.expression
    @classmethod
    def _net_fen_expression(cls) -> sa.ColumnElement[int]:
        return sa.case((cls.paid_at.is_not(None), cls.amount_fen - cls.refunded_fen), else_=0)


class PaymentNotification(db.Model):
    """Every payment or refund notification as it arrived, with what became of it."""

    __tablename__ = "payment_notifications"

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    #: payment or refund
    kind: Mapped[str] = mapped_column(sa.String(16))
    #: when it arrived (UTC)
    received_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    #: the order it names, if it could be read
    out_trade_no: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    #: applied, duplicate, or rejected: <reason>
    outcome: Mapped[str] = mapped_column(sa.String(64))
    #: the sender's address
    remote_addr: Mapped[str | None] = mapped_column(sa.String(45))
    #: the body exactly as received (bounded by the size limit)
    body: Mapped[str] = mapped_column(sa.Text)


#: how much of a rejected notification's body is kept (characters of the decoded body)
REJECTED_EXCERPT_CHARS = 512


class RejectedNotification(db.Model):
    """Notifications refused before their signature was verified, tallied rather than kept:
    one row per Beijing day, kind, reason and sender (an IPv6 sender by its /64), with a
    count and the start of the first body, so an anonymous sender grows it only boundedly."""

    __tablename__ = "rejected_notifications"
    __table_args__ = (
        sa.UniqueConstraint("day", "kind", "reason", "remote_addr"),
        sa.CheckConstraint(
            f"char_length(excerpt) <= {REJECTED_EXCERPT_CHARS}", name="excerpt_bounded"
        ),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    #: the Beijing business day it arrived on
    day: Mapped[date] = mapped_column(sa.Date)
    #: payment or refund
    kind: Mapped[str] = mapped_column(sa.String(16))
    #: why it was refused (one of the adapter's fixed reasons, never the sender's text)
    reason: Mapped[str] = mapped_column(sa.String(64))
    #: the sender's address (an IPv6 sender's /64 network), or "unknown"
    remote_addr: Mapped[str] = mapped_column(sa.String(45))
    #: how many arrived that day
    count: Mapped[int] = mapped_column(sa.BigInteger)
    #: the first and the latest arrival (UTC)
    first_seen: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    #: the start of the first body, decoded (invalid bytes and NULs as U+FFFD)
    excerpt: Mapped[str] = mapped_column(sa.Text)


#: spreads one need's month over a few rows, so that concurrent payments to a busy need do
#: not queue behind one row's lock (`pg_backend_pid() % MONTH_TOTAL_SLOTS`)
MONTH_TOTAL_SLOTS = 8


class NeedMonthTotal(db.Model):
    """What a need received in a Beijing month: `Donation.net_fen` summed and the
    `COUNTED_STATUSES` donations counted, by the month each was paid in (a refund lowers
    the month the money arrived in). Kept by triggers on `donations` (migration 0009), in
    the transaction that changes a donation; the stats roll-ups read it instead of every
    donation. `donations.totals.month_total_differences` checks it, `rebuild_month_totals`
    rewrites it."""

    __tablename__ = "need_month_totals"

    need_id: Mapped[int] = mapped_column(
        sa.ForeignKey("needs.id", ondelete="CASCADE"), primary_key=True
    )
    #: the first day of the Beijing month
    month: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    slot: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    net_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    counted: Mapped[int] = mapped_column(default=0)
