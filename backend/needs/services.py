"""Reading needs for the public."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from backend.extensions import db
from backend.funds.models import Fund
from backend.needs.disclosure import Disclosure, disclosure_of
from backend.needs.figures import Figures, need_figures
from backend.needs.models import Need, NeedCategory, NeedStatus
from backend.regions.models import Region
from backend.regions.services import in_subtree


@dataclass(frozen=True)
class NeedFilters:
    """Filters of the public need list."""

    region: Region | None = None
    fund_id: int | None = None
    category: NeedCategory | None = None
    status: NeedStatus | None = None
    q: str | None = None

    def as_key(self) -> dict[str, object]:
        """The filters as plain values, to tie a cursor to them."""
        return {
            "region_id": self.region.id if self.region else None,
            "fund_id": self.fund_id,
            "category": self.category,
            "status": self.status,
            "q": self.q,
        }


@dataclass(frozen=True)
class NeedCard:
    """A need together with its money figures, as lists and pages show it."""

    need: Need
    figures: Figures

    def __getattr__(self, name: str) -> object:
        return getattr(self.need, name)

    @property
    def raised_fen(self) -> int:
        """Raised so far."""
        return self.figures.raised_fen

    @property
    def donation_count(self) -> int:
        """Paid donations so far."""
        return self.figures.donation_count

    @property
    def percent(self) -> int:
        """Whole percent of the goal raised."""
        return self.figures.percent_of(self.need.goal_fen)

    @property
    def disclosure(self) -> Disclosure:
        """The need's disclosure duty as of today."""
        return disclosure_of(self.need)

    @property
    def excess_fen(self) -> int:
        """Raised beyond the goal."""
        return self.figures.excess_over(self.need.goal_fen)


def with_figures(needs: list[Need]) -> list[NeedCard]:
    """Attach figures to each need, fetched for all of them at once."""
    figures = need_figures(n.id for n in needs)
    return [NeedCard(n, figures[n.id]) for n in needs]


#: the public list's order: newest publication first, id breaking ties
PUBLIC_ORDER = (Need.published_at.desc(), Need.id.desc())


def public_needs_page(
    filters: NeedFilters, limit: int, after: tuple[datetime, int] | None
) -> tuple[list[Need], bool]:
    """One page of published needs after the key `after`; also whether more follow."""
    stmt = (
        sa.select(Need)
        .where(Need.public())
        .options(joinedload(Need.fund), joinedload(Need.region))
        .order_by(*PUBLIC_ORDER)
        .limit(limit + 1)
    )
    if filters.region is not None:
        stmt = stmt.join(Region, Need.region_id == Region.id).where(in_subtree(filters.region))
    if filters.fund_id is not None:
        stmt = stmt.where(Need.fund_id == filters.fund_id)
    if filters.category is not None:
        stmt = stmt.where(Need.category == filters.category)
    if filters.status is not None:
        stmt = stmt.where(Need.status == filters.status)
    if filters.q:
        stmt = stmt.where(Need.title.icontains(filters.q, autoescape=True))
    if after is not None:
        # Keyset: rows inserted meanwhile neither repeat nor push rows off the next page.
        stmt = stmt.where(sa.tuple_(Need.published_at, Need.id) < sa.tuple_(*after))
    rows = list(db.session.scalars(stmt).unique())
    return rows[:limit], len(rows) > limit


def get_public_need(need_id: int) -> Need | None:
    """A published need with everything its page shows, or None."""
    return db.session.scalar(
        sa.select(Need)
        .where(Need.id == need_id, Need.public())
        .options(
            joinedload(Need.fund).joinedload(Fund.foundation),
            joinedload(Need.region),
            selectinload(Need.budget_lines),
            selectinload(Need.images),
            selectinload(Need.updates),
        )
    )
