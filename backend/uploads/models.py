"""Upload."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.models import enum_column
from backend.common.time import utcnow
from backend.extensions import db


class MediaCheck(enum.StrEnum):
    """WeChat's content check of an upload: images are checked asynchronously."""

    PENDING = "pending"
    PASS = "pass"  # noqa: S105 - a status, not a password
    RISKY = "risky"
    REVIEW = "review"
    NOT_REQUIRED = "not_required"  # PDFs: read by people before they are shown


class Upload(db.Model):
    """A stored file: an image (JPEG, PNG, WebP) or a PDF, up to 10 MB."""

    __tablename__ = "uploads"
    __table_args__ = (
        sa.CheckConstraint("size > 0", name="size_positive"),
        sa.CheckConstraint(
            "content_type IN ('image/jpeg', 'image/png', 'image/webp', 'application/pdf')",
            name="content_type_allowed",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: who uploaded it; NULL once their account is deleted
    owner_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    #: the type found in the content (never the file name's)
    content_type: Mapped[str] = mapped_column(sa.String(32))
    #: bytes stored (after location metadata was stripped)
    size: Mapped[int]
    #: SHA-256 of the stored bytes, hex
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    #: where the storage keeps the file
    storage_key: Mapped[str] = mapped_column(sa.String(255), unique=True)
    #: where the storage keeps the thumbnail (images only)
    thumbnail_key: Mapped[str | None] = mapped_column(sa.String(255))
    #: image size in pixels (images only)
    width: Mapped[int | None]
    height: Mapped[int | None]
    #: the name the user's device gave (shown to the back office only)
    original_name: Mapped[str | None] = mapped_column(sa.String(255))
    #: WeChat's content check of the image
    media_check: Mapped[MediaCheck] = mapped_column(
        enum_column(MediaCheck, "media_check"), default=MediaCheck.PENDING
    )
    #: trace id of the asynchronous check, to match WeChat's result event
    media_trace_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    #: served to anyone: set when the file is used where the public sees it (a need's
    #: images, a progress update, disbursed evidence); otherwise only through a signed link
    public: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    #: when it was uploaded (UTC)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
