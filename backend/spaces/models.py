"""CharitySpace."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.common.models import TimestampMixin
from backend.extensions import db
from backend.funds.models import Fund
from backend.regions.models import Region


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

    region: Mapped[Region] = relationship()
    fund: Mapped[Fund] = relationship()
