"""A charity space's own figures: what donations started from its codes brought in, and
its place among the spaces of its district (the spaces package knows nothing of donations;
this roll-up sits above both)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from backend.donations.models import COUNTED_STATUSES, Donation
from backend.extensions import db
from backend.needs.services import NeedCard, with_figures
from backend.regions.models import Region, RegionLevel
from backend.spaces.models import CharitySpace
from backend.spaces.services import get_space, open_needs_of


@dataclass(frozen=True)
class SpaceFigures:
    """What donations started from a space's codes brought in (refunds subtracted)."""

    donation_count: int
    raised_fen: int
    donor_count: int


@dataclass(frozen=True)
class DistrictRank:
    """Where a space stands among the spaces of its district, by money raised (1 = most;
    equal amounts share a place)."""

    district: Region
    rank: int
    of: int


def _district_path(region: Region) -> str:
    """The path of the district a region is in (or of the region itself above that level)."""
    parts = region.path.strip("/").split("/")
    return "/" + "/".join(parts[:2]) + "/"


def space_figures_and_rank(space: CharitySpace) -> tuple[SpaceFigures, DistrictRank | None]:
    """The space's figures and its place among the spaces of its district, in one query."""
    district_path = _district_path(space.region)
    per_space = (
        sa.select(
            CharitySpace.id.label("space_id"),
            sa.func.count(Donation.id).label("donations"),
            sa.func.coalesce(sa.func.sum(Donation.net_fen), 0).label("raised"),
            sa.func.count(sa.distinct(Donation.user_id)).label("donors"),
        )
        .join(Region, Region.id == CharitySpace.region_id)
        .outerjoin(
            Donation,
            sa.and_(
                Donation.space_id == CharitySpace.id,
                Donation.paid_at.is_not(None),
                Donation.status.in_(COUNTED_STATUSES),
            ),
        )
        .where(Region.path.startswith(district_path, autoescape=True))
        .group_by(CharitySpace.id)
        .subquery()
    )
    ranked = sa.select(
        per_space,
        sa.func.rank().over(order_by=per_space.c.raised.desc()).label("rank"),
        sa.func.count().over().label("of"),
    ).subquery()
    row = db.session.execute(sa.select(ranked).where(ranked.c.space_id == space.id)).one()
    figures = SpaceFigures(int(row.donations), int(row.raised), int(row.donors))
    district = db.session.scalar(sa.select(Region).where(Region.path == district_path))
    if district is None or district.level != RegionLevel.DISTRICT:
        return figures, None
    return figures, DistrictRank(district, int(row.rank), int(row.of))


@dataclass(frozen=True)
class SpaceDetail:
    """A space with the needs it collects for, as its scan page shows it."""

    space: CharitySpace
    needs: list[NeedCard]
    figures: SpaceFigures
    district_rank: DistrictRank | None

    def __getattr__(self, name: str) -> object:
        return getattr(self.space, name)


def space_detail(code: str) -> SpaceDetail:
    """The space with this code, the needs it shows with their figures, what its codes
    brought in and its place in its district; not found otherwise."""
    space = get_space(code)
    figures, rank = space_figures_and_rank(space)
    return SpaceDetail(space, with_figures(open_needs_of(space)), figures, rank)
