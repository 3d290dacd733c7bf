"""Reconciliation runs (对账), the bill's lines and the differences found."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.models import enum_column
from backend.common.time import utcnow
from backend.donations.models import Donation
from backend.extensions import db


class ReconciliationRun(db.Model):
    """One reconciliation of a Beijing day's WeChat Pay bill against the books; a day may be
    run again, the newest run is the day's report."""

    __tablename__ = "reconciliation_runs"
    __table_args__ = (sa.Index("ix_reconciliation_runs_day", "day", sa.text("id DESC")),)

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    #: the Beijing business day reconciled
    day: Mapped[date] = mapped_column(sa.Date)
    #: when the run was made (UTC)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    #: whether WeChat had a bill for the day ("No Bill Exist" otherwise)
    bill_found: Mapped[bool]
    #: payments in the bill, and their order amounts summed
    payment_count: Mapped[int]
    payment_fen: Mapped[int] = mapped_column(sa.BigInteger)
    #: refunds in the bill, and their refunded amounts summed
    refund_count: Mapped[int]
    refund_fen: Mapped[int] = mapped_column(sa.BigInteger)
    #: WeChat's fees summed (signed: a refund gives its fee back)
    fee_fen: Mapped[int] = mapped_column(sa.BigInteger)
    #: what the day settles to the merchant: payments − refunds − fees
    net_fen: Mapped[int] = mapped_column(sa.BigInteger)
    #: our paid donations of the day, and their journal amounts summed
    our_payment_count: Mapped[int]
    our_payment_fen: Mapped[int] = mapped_column(sa.BigInteger)
    #: differences this run found, and how many of them it repaired itself
    difference_count: Mapped[int]
    repaired_count: Mapped[int]
    #: differences of the day still open after the run
    open_count: Mapped[int]


class BillLineKind(enum.StrEnum):
    """A payment or a refund line of the bill."""

    PAYMENT = "payment"
    REFUND = "refund"


class BillLine(db.Model):
    """One transaction of a day's bill as the newest run read it (what the accounting
    export lists); a new run of the day replaces them."""

    __tablename__ = "reconciliation_bill_lines"
    __table_args__ = (sa.UniqueConstraint("day", "line_no"),)

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    #: the Beijing day of the bill
    day: Mapped[date] = mapped_column(sa.Date)
    #: its place in the bill (1 for the first transaction)
    line_no: Mapped[int]
    #: payment or refund
    kind: Mapped[BillLineKind] = mapped_column(enum_column(BillLineKind, "bill_line_kind"))
    #: 交易时间 (a refund's: when it was asked), UTC
    traded_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    #: WeChat's transaction id and our order number
    transaction_id: Mapped[str] = mapped_column(sa.String(32))
    out_trade_no: Mapped[str] = mapped_column(sa.String(32))
    #: WeChat's refund id and our refund number (refunds only)
    refund_id: Mapped[str | None] = mapped_column(sa.String(32))
    out_refund_no: Mapped[str | None] = mapped_column(sa.String(64))
    #: WeChat's status: SUCCESS for a payment, the refund's status (SUCCESS, PROCESSING …)
    status: Mapped[str] = mapped_column(sa.String(32))
    #: the order amount (payment) or the refund asked for (refund), positive
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
    #: WeChat's fee, signed as billed (negative: given back on a refund)
    fee_fen: Mapped[int] = mapped_column(sa.BigInteger)
    #: our donation of that order, when we know it
    donation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("donations.id"))
    #: our refund of that refund number, when we know it
    our_refund_id: Mapped[int | None] = mapped_column(sa.ForeignKey("refunds.id"))


class DifferenceKind(enum.StrEnum):
    """What disagrees between the bill and the books."""

    PAYMENT_MISSING_HERE = "payment_missing_here"  # paid at WeChat, not here
    PAYMENT_MISSING_AT_WECHAT = "payment_missing_at_wechat"  # paid here, not in the bill
    PAYMENT_AMOUNT = "payment_amount"  # the amounts differ
    JOURNAL_MISSING = "journal_missing"  # paid here, without its journal entry
    REFUND_UNKNOWN_HERE = "refund_unknown_here"  # a refund in the bill we never asked for
    REFUND_NOT_SETTLED_HERE = "refund_not_settled_here"  # SUCCESS at WeChat, not here
    REFUND_MISSING_AT_WECHAT = "refund_missing_at_wechat"  # accepted here, not in the bill
    REFUND_AMOUNT = "refund_amount"  # the refunded amounts differ
    SUMMARY = "summary"  # the bill's summary line disagrees with its own rows


class DifferenceStatus(enum.StrEnum):
    """Where a difference is: open until the run repairs it, a later run no longer finds it
    (cleared), or a finance officer resolves it with a note."""

    OPEN = "open"
    REPAIRED = "repaired"
    CLEARED = "cleared"
    RESOLVED = "resolved"


class ReconciliationDifference(db.Model):
    """差异: one disagreement of a day's bill with the books, kept once per day, kind and
    order (a new run updates it rather than adding another)."""

    __tablename__ = "reconciliation_differences"
    __table_args__ = (
        # once per day, kind and order (a long constraint name would pass PostgreSQL's 63)
        sa.Index(
            "uq_reconciliation_differences_key",
            "day",
            "kind",
            "out_trade_no",
            "out_refund_no",
            unique=True,
        ),
        sa.Index(
            "ix_reconciliation_differences_open",
            "day",
            postgresql_where=sa.text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    #: the Beijing day of the bill
    day: Mapped[date] = mapped_column(sa.Date)
    #: what disagrees
    kind: Mapped[DifferenceKind] = mapped_column(enum_column(DifferenceKind, "difference_kind"))
    #: the order it concerns ('' for the summary)
    out_trade_no: Mapped[str] = mapped_column(sa.String(32), default="")
    #: the refund it concerns ('' for payments)
    out_refund_no: Mapped[str] = mapped_column(sa.String(64), default="")
    #: WeChat's amount and ours (NULL where one side has none)
    wechat_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    our_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: what was found, and what the run did about it, for people
    detail: Mapped[str] = mapped_column(sa.String(500))
    #: where it is
    status: Mapped[DifferenceStatus] = mapped_column(
        enum_column(DifferenceStatus, "difference_status"), default=DifferenceStatus.OPEN
    )
    #: the run that found it first, and the newest run that found it
    first_run_id: Mapped[int] = mapped_column(sa.ForeignKey("reconciliation_runs.id"))
    last_run_id: Mapped[int] = mapped_column(sa.ForeignKey("reconciliation_runs.id"))
    #: when it was found first (UTC)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    #: when it stopped being open (repaired, cleared or resolved)
    resolved_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: the finance officer who resolved it (NULL for the command line or the run itself)
    resolved_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    #: the officer's note on how it was settled
    note: Mapped[str | None] = mapped_column(sa.String(500))


#: a day's paid donations, read by every run (declared here, where it is needed)
sa.Index(
    "ix_donations_paid_at",
    Donation.paid_at,
    postgresql_where=Donation.paid_at.is_not(None),
)
