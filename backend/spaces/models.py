"""CharitySpace."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.common.models import TimestampMixin
from backend.extensions import db
from backend.funds.models import Fund
from backend.regions.models import Region
from backend.uploads.models import Upload


class CharitySpace(TimestampMixin, db.Model):
    """A charity space (慈善空间): a place in a community whose QR codes lead to its needs."""

    __tablename__ = "charity_spaces"
    __table_args__ = (
        # The code goes into a mini-program scene ("s=<code>&n=<id>", 32 characters at most).
        sa.CheckConstraint("code ~ '^[a-z0-9][a-z0-9-]{1,15}$'", name="code_format"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: short public code used in URLs and QR scenes, e.g. jz-hy-01
    code: Mapped[str] = mapped_column(sa.String(16), unique=True)
    #: public name, e.g. 和园社区爱心驿站
    name: Mapped[str] = mapped_column(sa.String(64))
    #: the region the space is in
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    #: the fund the space collects for
    fund_id: Mapped[int] = mapped_column(sa.ForeignKey("funds.id"), index=True)
    #: street address
    address: Mapped[str] = mapped_column(sa.String(200))
    #: opening hours as shown to visitors
    opening_hours: Mapped[str | None] = mapped_column(sa.String(100))
    #: a sentence or two about the place
    description: Mapped[str | None] = mapped_column(sa.Text)
    #: a photo of the place (a public upload)
    photo_upload_id: Mapped[int | None] = mapped_column(sa.ForeignKey("uploads.id"))

    region: Mapped[Region] = relationship()
    fund: Mapped[Fund] = relationship()
    photo: Mapped[Upload | None] = relationship()
    #: the needs the space shows, in its chosen order (none chosen: the fund's open needs)
    shown: Mapped[list[SpaceNeed]] = relationship(
        order_by="SpaceNeed.position", cascade="all, delete-orphan"
    )

    @property
    def needs_chosen(self) -> bool:
        """Whether the space chose the needs it shows (else: its fund's open needs)."""
        return bool(self.shown)


class SpaceNeed(db.Model):
    """A need a charity space shows on its page and posters, in the space's order."""

    __tablename__ = "space_needs"

    space_id: Mapped[int] = mapped_column(
        sa.ForeignKey("charity_spaces.id", ondelete="CASCADE"), primary_key=True
    )
    need_id: Mapped[int] = mapped_column(sa.ForeignKey("needs.id"), primary_key=True, index=True)
    #: place in the space's list, from 0
    position: Mapped[int] = mapped_column(sa.SmallInteger)


class SpaceCode(db.Model):
    """A mini-program code WeChat drew for a space (and one of its needs), kept once fetched.

    WeChat limits how many codes an account may request; a code never changes for the same
    scene, so it is asked for once and served from here ever after.
    """

    __tablename__ = "space_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    space_id: Mapped[int] = mapped_column(
        sa.ForeignKey("charity_spaces.id", ondelete="CASCADE"), index=True
    )
    need_id: Mapped[int | None] = mapped_column(sa.ForeignKey("needs.id"))
    #: the scene WeChat hands the page: "s=<code>" or "s=<code>&n=<need id>"
    scene: Mapped[str] = mapped_column(sa.String(32), unique=True)
    #: the PNG WeChat returned
    png: Mapped[bytes] = mapped_column(sa.LargeBinary)
    fetched_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
