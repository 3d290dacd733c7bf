"""Reading charity spaces."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from backend.extensions import db
from backend.needs.models import Need, NeedStatus
from backend.regions.models import Region
from backend.regions.services import in_subtree
from backend.spaces.models import CharitySpace


def spaces_page(
    region: Region | None, limit: int, after_id: int | None
) -> tuple[list[CharitySpace], bool]:
    """Spaces in `region` and below, by id; also whether more follow."""
    stmt = (
        sa.select(CharitySpace)
        .options(joinedload(CharitySpace.region), joinedload(CharitySpace.fund))
        .order_by(CharitySpace.id)
        .limit(limit + 1)
    )
    if region is not None:
        stmt = stmt.join(Region, CharitySpace.region_id == Region.id).where(in_subtree(region))
    if after_id is not None:
        stmt = stmt.where(CharitySpace.id > after_id)
    rows = list(db.session.scalars(stmt).unique())
    return rows[:limit], len(rows) > limit


def get_space(code: str) -> CharitySpace | None:
    """A space by its public code."""
    return db.session.scalar(
        sa.select(CharitySpace)
        .where(CharitySpace.code == code)
        .options(joinedload(CharitySpace.region), joinedload(CharitySpace.fund))
    )


def open_needs_of(space: CharitySpace) -> list[Need]:
    """Needs of the space's fund still raising money, newest first."""
    return list(
        db.session.scalars(
            sa.select(Need)
            .where(Need.fund_id == space.fund_id, Need.status == NeedStatus.FUNDRAISING)
            .options(joinedload(Need.fund), joinedload(Need.region))
            .order_by(Need.published_at.desc(), Need.id.desc())
        )
    )
