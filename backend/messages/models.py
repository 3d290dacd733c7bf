"""Consents to subscribe messages and the messages made from them.

WeChat's rule: each template a user accepts in `wx.requestSubscribeMessage` allows one
message of that template. A consent row is one such acceptance; a message takes one when
it is made (`used_at`), keeps it while it is retried, and gives it back only when WeChat
never delivered it (failed); sent and refused (skipped) messages have spent it.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.models import TimestampMixin, enum_column
from backend.common.time import utcnow
from backend.extensions import db


class MessageKind(enum.StrEnum):
    """What a message tells the donor; each kind has its own template."""

    DONATION_PAID = "donation_paid"  # 捐赠成功通知
    MONEY_SPENT = "money_spent"  # 善款使用通知


class MessageStatus(enum.StrEnum):
    """Where a message is: pending → sending → sent, or skipped / failed."""

    PENDING = "pending"
    #: handed to WeChat by a worker; if the worker dies now the outcome is unknown
    SENDING = "sending"
    SENT = "sent"
    #: never sent: the user refused (43101) or has no openid any more
    SKIPPED = "skipped"
    FAILED = "failed"


class SubscriptionConsent(db.Model):
    """One acceptance of one template by one user: allows one message of that template."""

    __tablename__ = "subscription_consents"
    __table_args__ = (
        # the user's remaining consents per template, and the job's scan for unused ones
        sa.Index(
            "ix_subscription_consents_unused",
            "template_id",
            "user_id",
            "id",
            postgresql_where=sa.text("used_at IS NULL"),
        ),
        sa.Index("ix_subscription_consents_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    #: who accepted
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    #: the template accepted (one of the configured ones when recorded)
    template_id: Mapped[str] = mapped_column(sa.String(64))
    #: when the mini-program reported the acceptance (UTC)
    granted_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    #: when a message took it; NULL while it is unused
    used_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class SubscribeMessage(TimestampMixin, db.Model):
    """One subscribe message to one donor about one donation or one expense."""

    __tablename__ = "subscribe_messages"
    __table_args__ = (
        # nothing is told twice: one message per donation paid, one per (donation, expense)
        sa.UniqueConstraint(
            "kind", "donation_id", "expense_id", postgresql_nulls_not_distinct=True
        ),
        # ...and one per donor and expense, whichever of their donations paid for it
        sa.Index(
            "uq_subscribe_messages_spent_user",
            "expense_id",
            "user_id",
            unique=True,
            postgresql_where=sa.text("kind = 'money_spent'"),
        ),
        # the worker's queue: messages due, and sends whose worker may have died
        sa.Index(
            "ix_subscribe_messages_due",
            "next_attempt_at",
            postgresql_where=sa.text("status IN ('pending', 'sending')"),
        ),
        sa.Index("ix_subscribe_messages_user_id", "user_id"),
        sa.CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        sa.CheckConstraint(
            "(kind = 'money_spent') = (expense_id IS NOT NULL)", name="expense_for_spent"
        ),
        sa.CheckConstraint("status <> 'sent' OR sent_at IS NOT NULL", name="sent_has_time"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    #: the donor told
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[MessageKind] = mapped_column(enum_column(MessageKind, "message_kind"))
    #: the template it is sent with (the configured one when it was made)
    template_id: Mapped[str] = mapped_column(sa.String(64))
    #: the donation it is about (for money spent: the donor's first donation it used)
    donation_id: Mapped[int] = mapped_column(sa.ForeignKey("donations.id"))
    #: the disbursed expense it is about (money spent only)
    expense_id: Mapped[int | None] = mapped_column(sa.ForeignKey("expenses.id"))
    #: the template's fields, `{key: {"value": text}}`, within WeChat's limits
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    #: the mini-program page the message opens, with its query
    page: Mapped[str] = mapped_column(sa.String(128))
    status: Mapped[MessageStatus] = mapped_column(
        enum_column(MessageStatus, "message_status"), default=MessageStatus.PENDING
    )
    #: sends tried so far
    attempts: Mapped[int] = mapped_column(default=0)
    #: pending: when to try (again); sending: when a worker that has not answered is
    #: taken for dead
    next_attempt_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    #: WeChat's errcode and errmsg, or the network error, of the last failed try
    last_error: Mapped[str | None] = mapped_column(sa.String(200))
    #: the consent it takes (given back, and NULL, when it failed)
    consent_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("subscription_consents.id", ondelete="SET NULL"), unique=True
    )
    #: WeChat's msgid once sent
    msgid: Mapped[str | None] = mapped_column(sa.String(32))
    #: when WeChat accepted it
    sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
