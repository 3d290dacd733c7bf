"""journal_entries and journal_lines (read by outside auditors under these names)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.common.time import utcnow
from backend.extensions import db


class JournalEntry(db.Model):
    """One movement of money; its lines sum to zero (checked by the database at commit).

    Entries and lines are never changed or removed (triggers refuse UPDATE and DELETE);
    the worker seals them in commit order (JournalSeal)."""

    __tablename__ = "journal_entries"
    __table_args__ = (
        # A donation is credited once and only once, whatever arrives how often.
        sa.Index(
            "uq_journal_entries_donation_payment",
            "donation_id",
            unique=True,
            postgresql_where=sa.text("kind = 'donation'"),
        ),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    #: donation, refund, disbursement, adjustment
    kind: Mapped[str] = mapped_column(sa.String(32))
    #: the donation it belongs to (donations and refunds)
    donation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("donations.id"), index=True)
    #: a line of text for people reading the journal
    memo: Mapped[str] = mapped_column(sa.String(200))
    #: when the entry was written (UTC)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    lines: Mapped[list[JournalLine]] = relationship(
        back_populates="entry", cascade="all, delete-orphan", order_by="JournalLine.id"
    )


class JournalLine(db.Model):
    """One side of an entry: an account and a signed amount."""

    __tablename__ = "journal_lines"
    __table_args__ = (
        sa.CheckConstraint("amount_fen <> 0", name="amount_not_zero"),
        sa.Index("ix_journal_lines_account", "account"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    #: the entry the line belongs to
    entry_id: Mapped[int] = mapped_column(
        sa.ForeignKey("journal_entries.id", ondelete="CASCADE"), index=True
    )
    #: e.g. need:12, fund:3 (a fund's general pool), clearing:wechat
    account: Mapped[str] = mapped_column(sa.String(64))
    #: signed: earmarked accounts (need, fund) grow with positive lines
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)

    entry: Mapped[JournalEntry] = relationship(back_populates="lines")


class JournalSeal(db.Model):
    """The seal of one journal entry: its place in the chain and a hash over the entry, its
    lines and the previous seal's hash. Append-only like the journal itself."""

    __tablename__ = "journal_seals"

    #: position in the chain, 1, 2, 3 … in the order entries were sealed (commit order)
    seq: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    #: the sealed entry
    entry_id: Mapped[int] = mapped_column(sa.ForeignKey("journal_entries.id"), unique=True)
    #: SHA-256 (hex) over the previous hash and the entry's canonical form
    hash: Mapped[str] = mapped_column(sa.String(64))
    #: when it was sealed (UTC)
    sealed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class JournalPending(db.Model):
    """An entry not yet sealed: a trigger adds every new entry here, and the sealer removes
    it in the same transaction that seals it and adds its lines to the accounts' totals. So
    every committed entry is counted exactly once, here or in `JournalAccountTotal`."""

    __tablename__ = "journal_pending"

    entry_id: Mapped[int] = mapped_column(
        sa.ForeignKey("journal_entries.id"), primary_key=True, autoincrement=False
    )


class JournalAccountTotal(db.Model):
    """The sum of an account's lines over every sealed entry (kept by the sealer; derived,
    checked by `ledger verify`)."""

    __tablename__ = "journal_account_totals"

    account: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    balance_fen: Mapped[int] = mapped_column(sa.BigInteger)
