"""Reading needs for the public."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from backend.common.errors import DomainError, not_found
from backend.common.paging import Page, keyset_page
from backend.extensions import db
from backend.funds.models import Fund
from backend.needs.disclosure import Disclosure, disclosure_of, load_reports
from backend.needs.figures import Figures, need_figures
from backend.needs.models import Need, NeedCategory, NeedStatus
from backend.progress.service import published_progress, read_needs, rebuild_need
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


def with_figures(needs: list[Need], *, photos: bool = False) -> list[NeedCard]:
    """Attach figures to each need and load the updates its disclosure duty is read from
    (with their photos when `photos`), for all of them at once."""
    load_reports(needs, photos=photos)
    figures = need_figures(n.id for n in needs)
    return [NeedCard(n, figures[n.id]) for n in needs]


#: the public lists' key, newest first: publication time, id breaking ties
PUBLIC_KEY = (Need.published_at, Need.id)


def public_needs_page(
    filters: NeedFilters, limit: int, after: tuple[datetime, int] | None
) -> Page[Need]:
    """One page of published needs, newest first, after the key `after`."""
    stmt = (
        sa.select(Need).where(Need.public()).options(joinedload(Need.fund), joinedload(Need.region))
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
    return keyset_page(stmt, PUBLIC_KEY, limit, after)


def need_not_found() -> DomainError:
    """The one answer for a need that does not exist or that the caller may not see."""
    return not_found("need_not_found", "该项目不存在或尚未公开")


def public_need(need_id: int, *, page: bool = False) -> Need:
    """A published need (with everything its page shows when `page`); else not found."""
    stmt = sa.select(Need).where(Need.id == need_id, Need.public())
    if page:
        stmt = stmt.options(
            joinedload(Need.fund).joinedload(Fund.foundation),
            joinedload(Need.region),
            selectinload(Need.budget_lines),
            selectinload(Need.images),
            selectinload(Need.updates),
        )
    need = db.session.scalar(stmt)
    if need is None:
        raise need_not_found()
    return need


@dataclass(frozen=True)
class NeedProgress:
    """A need's live progress, as `GET /needs/{id}/progress` shows it."""

    need_id: int
    goal_fen: int
    raised_fen: int
    donation_count: int
    updated_at: datetime | None
    stale: bool

    @property
    def percent(self) -> int:
        """Whole percent of the goal raised."""
        return Figures(self.raised_fen, self.donation_count).percent_of(self.goal_fen)

    @property
    def excess_fen(self) -> int:
        """Raised beyond the goal."""
        return Figures(self.raised_fen, self.donation_count).excess_over(self.goal_fen)


def need_progress(need_id: int) -> NeedProgress:
    """Live progress of a published need: Redis alone on the hot path (no SQL); PostgreSQL,
    marked stale, when Redis is down."""
    fast = published_progress(need_id)
    if fast is not None:
        goal, value = fast
        return NeedProgress(need_id, goal, value.raised_fen, value.donation_count,
                            value.updated_at, stale=False)  # fmt: skip
    need = public_need(need_id)
    progress = read_needs([need.id])[need.id]
    if not progress.stale:
        # A counter started before publication lacks the goal: add it, once.
        rebuild_need(need.id, wait=False)
    return NeedProgress(need.id, need.goal_fen, progress.raised_fen, progress.donation_count,
                        progress.updated_at, progress.stale)  # fmt: skip
