"""The outbox: effects to apply to Redis after a commit, each exactly once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.time import utcnow
from backend.extensions import db


class OutboxEvent(db.Model):
    """A counter change committed with the payment, applied to Redis afterwards."""

    __tablename__ = "outbox_events"
    __table_args__ = (
        sa.Index(
            "ix_outbox_events_unapplied", "id", postgresql_where=sa.text("applied_at IS NULL")
        ),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    #: progress.delta
    kind: Mapped[str] = mapped_column(sa.String(32))
    #: {"need_id", "fund_id", "raised_fen", "donation_count"} (signed deltas)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    #: when it was committed (UTC)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    #: when Redis took it; NULL until then
    applied_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), index=True)
