"""AuditEvent: append-only (the database refuses UPDATE and DELETE)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.time import utcnow
from backend.extensions import db


class AuditEvent(db.Model):
    """One back-office action: need edits and transitions, grants, settings, expenses, refunds."""

    __tablename__ = "audit_events"
    __table_args__ = (sa.Index("ix_audit_events_fund_order", "fund_id", sa.text("id DESC")),)

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    #: when it happened (UTC)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    #: who did it (NULL for the command line or the system)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    #: the fund the object belongs to, for the fund's readers
    fund_id: Mapped[int | None] = mapped_column(sa.ForeignKey("funds.id"))
    #: what was done, e.g. need.create, need.publish, role.grant, fund.update
    action: Mapped[str] = mapped_column(sa.String(64))
    #: the kind of object acted on, e.g. need, fund, role_grant
    object_type: Mapped[str] = mapped_column(sa.String(32))
    #: its id
    object_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: field → [before, after] for edits; other details of the action
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    #: the reason given, where the action takes one
    reason: Mapped[str | None] = mapped_column(sa.Text)
    #: the client's address (behind TRUSTED_PROXY_COUNT proxies)
    ip_address: Mapped[str | None] = mapped_column(sa.String(45))
    #: the request id, to find the log lines
    request_id: Mapped[str | None] = mapped_column(sa.String(64))
