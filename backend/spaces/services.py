"""Reading charity spaces."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from backend.common.errors import not_found
from backend.common.paging import Page, keyset_page
from backend.extensions import db
from backend.needs.models import Need, NeedStatus
from backend.needs.services import PUBLIC_KEY, NeedCard, with_figures
from backend.regions.models import Region
from backend.regions.services import in_subtree
from backend.spaces.models import CharitySpace


def spaces_page(region: Region | None, limit: int, after: int | None) -> Page[CharitySpace]:
    """Spaces in `region` and below, in the order they were opened."""
    stmt = sa.select(CharitySpace).options(
        joinedload(CharitySpace.region), joinedload(CharitySpace.fund)
    )
    if region is not None:
        stmt = stmt.join(Region, CharitySpace.region_id == Region.id).where(in_subtree(region))
    return keyset_page(stmt, CharitySpace.id, limit, after, descending=False)


def get_space(code: str) -> CharitySpace:
    """A space by its public code; not found otherwise."""
    space = db.session.scalar(
        sa.select(CharitySpace)
        .where(CharitySpace.code == code)
        .options(joinedload(CharitySpace.region), joinedload(CharitySpace.fund))
    )
    if space is None:
        raise not_found("space_not_found", "该慈善空间不存在")
    return space


def open_needs_of(space: CharitySpace) -> list[Need]:
    """Needs of the space's fund still raising money, newest first."""
    return list(
        db.session.scalars(
            sa.select(Need)
            .where(Need.fund_id == space.fund_id, Need.status == NeedStatus.FUNDRAISING)
            .options(joinedload(Need.fund), joinedload(Need.region))
            .order_by(*(column.desc() for column in PUBLIC_KEY))
        )
    )


@dataclass(frozen=True)
class SpaceDetail:
    """A space with the needs it collects for, as its scan page shows it."""

    space: CharitySpace
    needs: list[NeedCard]

    def __getattr__(self, name: str) -> object:
        return getattr(self.space, name)


def space_detail(code: str) -> SpaceDetail:
    """The space with this code and its open needs with their figures; not found otherwise."""
    space = get_space(code)
    return SpaceDetail(space, with_figures(open_needs_of(space)))
