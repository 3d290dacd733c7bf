"""Reading charity spaces."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from backend.common.errors import not_found
from backend.common.paging import Page, keyset_page
from backend.extensions import db
from backend.needs.models import Need, NeedStatus
from backend.needs.services import PUBLIC_KEY
from backend.regions.models import Region
from backend.regions.services import in_subtree
from backend.spaces.models import CharitySpace, SpaceNeed

#: what a space is shown with, loaded in the same query
_SHOWN_WITH = (
    joinedload(CharitySpace.region),
    joinedload(CharitySpace.fund),
    joinedload(CharitySpace.photo),
)


def spaces_page(
    region: Region | None, fund_id: int | None, limit: int, after: int | None
) -> Page[CharitySpace]:
    """Spaces in `region` and below (of the fund `fund_id`, when given), in the order they
    were opened."""
    stmt = sa.select(CharitySpace).options(*_SHOWN_WITH)
    if region is not None:
        stmt = stmt.join(Region, CharitySpace.region_id == Region.id).where(in_subtree(region))
    if fund_id is not None:
        stmt = stmt.where(CharitySpace.fund_id == fund_id)
    return keyset_page(stmt, CharitySpace.id, limit, after, descending=False)


def get_space(code: str, *, lock: bool = False) -> CharitySpace:
    """A space by its public code (row-locked when `lock`); not found otherwise."""
    stmt = sa.select(CharitySpace).where(CharitySpace.code == code)
    if lock:
        stmt = stmt.with_for_update(of=CharitySpace)
    space = db.session.scalar(stmt.options(*_SHOWN_WITH))
    if space is None:
        raise not_found("space_not_found", "该慈善空间不存在")
    return space


def open_needs_of(space: CharitySpace) -> list[Need]:
    """The needs the space shows: those it chose, in its order, while they are public; when
    it chose none, its fund's needs still raising money, newest first."""
    if space.needs_chosen:
        stmt = (
            sa.select(Need)
            .join(SpaceNeed, SpaceNeed.need_id == Need.id)
            .where(SpaceNeed.space_id == space.id, Need.public())
            .order_by(SpaceNeed.position)
        )
    else:
        stmt = (
            sa.select(Need)
            .where(Need.fund_id == space.fund_id, Need.status == NeedStatus.FUNDRAISING)
            .order_by(*(column.desc() for column in PUBLIC_KEY))
        )
    return list(db.session.scalars(stmt.options(joinedload(Need.fund), joinedload(Need.region))))
