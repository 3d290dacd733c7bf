"""Region tree and programme targets."""

from __future__ import annotations

import enum
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.common.models import TimestampMixin, enum_column
from backend.extensions import db


class RegionLevel(enum.StrEnum):
    """城市 → 区 → 街道(镇) → 社区(村)."""

    CITY = "city"
    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"


#: the level a child of each level has
CHILD_LEVEL = {
    RegionLevel.CITY: RegionLevel.DISTRICT,
    RegionLevel.DISTRICT: RegionLevel.STREET,
    RegionLevel.STREET: RegionLevel.COMMUNITY,
}


class Region(TimestampMixin, db.Model):
    """A region (行政区域) of the service system, kept as an adjacency list plus a path."""

    __tablename__ = "regions"
    __table_args__ = (
        sa.UniqueConstraint("parent_id", "name"),
        sa.CheckConstraint("(level = 'city') = (parent_id IS NULL)", name="root_is_city"),
        sa.Index("ix_regions_path_prefix", "path", postgresql_ops={"path": "text_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the enclosing region; NULL only for a city
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    #: city, district, street or community
    level: Mapped[RegionLevel] = mapped_column(enum_column(RegionLevel, "region_level"))
    #: official name, e.g. 幸福社区
    name: Mapped[str] = mapped_column(sa.String(64))
    #: ids from the root down, "/1/4/9/": `path LIKE '/1/4/%'` selects a subtree
    path: Mapped[str] = mapped_column(sa.String(255), unique=True)
    #: position among siblings
    sort_order: Mapped[int] = mapped_column(default=0)

    parent: Mapped[Region | None] = relationship(remote_side=[id])

    def __repr__(self) -> str:
        return f"<Region {self.id} {self.level} {self.name}>"


class ProgrammeTarget(TimestampMixin, db.Model):
    """A planned figure of the programme for a region and year (e.g. 300 funds in the city)."""

    __tablename__ = "programme_targets"
    __table_args__ = (
        sa.UniqueConstraint("region_id", "year", "metric"),
        sa.CheckConstraint("target > 0", name="target_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the region the target is set for
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("regions.id", ondelete="CASCADE"))
    #: the calendar year of the plan
    year: Mapped[int]
    #: fund_count, need_count, space_count, raised_fen or beneficiary_count
    metric: Mapped[str] = mapped_column(sa.String(32))
    #: the planned value (fen for money metrics)
    target: Mapped[int] = mapped_column(sa.BigInteger)
    #: the day by which the target is to be reached (the plan's deadline)
    due_on: Mapped[date] = mapped_column(sa.Date)
