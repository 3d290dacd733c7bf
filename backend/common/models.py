"""Column helpers shared by models."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.time import utcnow


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
