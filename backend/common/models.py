"""Column helpers shared by models, and the idempotency keys of creating requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.time import utcnow
from backend.extensions import db


class TimestampMixin:
    """`created_at`/`updated_at`, set by the app's clock."""

    #: when the row was created (UTC)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    #: when the row last changed (UTC)
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


def enum_column(enum_cls: type, name: str) -> sa.Enum:
    """A PostgreSQL enum stored by the members' values (the API's spelling)."""
    return sa.Enum(
        enum_cls,
        name=name,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class IdempotencyKey(db.Model):
    """The first answer to a creating request, replayed for retries with the same key."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("user_id", "scope", "key"),)

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    #: whose request it was
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    #: the endpoint, e.g. POST /api/v1/donations
    scope: Mapped[str] = mapped_column(sa.String(64))
    #: the client's Idempotency-Key header
    key: Mapped[str] = mapped_column(sa.String(128))
    #: SHA-256 of the request body, to refuse the same key with another body
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    #: the first answer's status and body
    response_status: Mapped[int]
    response_body: Mapped[Any] = mapped_column(JSONB)
    #: when it was first used (UTC)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
