"""Disclosure duties (信息公开) of a need.

A project running over 6 months discloses at least every 3 months; a finished project
publishes a final report within 3 months of its end. Deadlines are Beijing days.
"""

from __future__ import annotations

import calendar
import enum
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, load_only
from sqlalchemy.orm.attributes import set_committed_value

from backend.common.errors import DomainError, Kind
from backend.common.paging import Page
from backend.common.time import BEIJING, beijing_today
from backend.extensions import db
from backend.needs.models import Need, NeedStatus, ProgressUpdate, ProgressUpdateImage, UpdateKind

DUE_SOON_DAYS = 14
ONGOING = (NeedStatus.FUNDRAISING, NeedStatus.FUNDED, NeedStatus.IN_PROGRESS)
ENDED = (NeedStatus.COMPLETED, NeedStatus.CLOSED)


class DisclosureState(enum.StrEnum):
    """How a need stands with its disclosure duty."""

    NOT_REQUIRED = "not_required"
    OK = "ok"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    FINAL_PUBLISHED = "final_published"


@dataclass(frozen=True)
class Disclosure:
    """The state, the next deadline and the last report of a need."""

    state: DisclosureState
    next_due: date | None
    last_disclosed_on: date | None


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _beijing_day(instant: datetime) -> date:
    return instant.astimezone(BEIJING).date()


def disclosure_of(need: Need, today: date | None = None) -> Disclosure:
    """Work out the disclosure duty of `need` as of `today` (Beijing)."""
    today = today or beijing_today()
    reports = [u for u in need.updates]
    last = max((_beijing_day(u.created_at) for u in reports), default=None)
    if need.status in ENDED and need.ended_at is not None:
        if any(u.kind == UpdateKind.FINAL for u in reports):
            return Disclosure(DisclosureState.FINAL_PUBLISHED, None, last)
        due = add_months(_beijing_day(need.ended_at), 3)
        return Disclosure(_state_for(due, today), due, last)
    if need.status in ONGOING and need.published_at is not None:
        started = _beijing_day(need.published_at)
        due = max(add_months(started, 6), add_months(last or started, 3))
        return Disclosure(_state_for(due, today), due, last)
    return Disclosure(DisclosureState.NOT_REQUIRED, None, last)


def _state_for(due: date, today: date) -> DisclosureState:
    if today > due:
        return DisclosureState.OVERDUE
    if (due - today).days <= DUE_SOON_DAYS:
        return DisclosureState.DUE_SOON
    return DisclosureState.OK


def require_current_disclosure(need: Need, today: date | None = None) -> None:
    """Refuse new spending on a need whose disclosure is overdue, saying what to post."""
    disclosure = disclosure_of(need, today)
    if disclosure.state == DisclosureState.OVERDUE:
        due = disclosure.next_due
        report = "结项报告" if need.status in ENDED else "项目进展公开"
        raise DomainError(
            Kind.CONFLICT,
            "disclosure_overdue",
            f"该项目的{report}已逾期（应于{due:%Y年%m月%d日}前发布），请先发布后再提交支出",
        )


#: what the secretary's list shows unless asked for another state
NEEDING_ATTENTION = (DisclosureState.OVERDUE, DisclosureState.DUE_SOON)


def load_reports(needs: Iterable[Need], *, photos: bool = False) -> None:
    """Load the updates of all these needs at once (and, with `photos`, their images and
    files), so that `disclosure_of` and the pages that show them query nothing per need.
    Without `photos` an update's text is left unloaded: only its kind and date count."""
    needs = list(needs)
    pending = [n for n in needs if "updates" in sa.inspect(n).unloaded]
    if pending:
        stmt = (
            sa.select(ProgressUpdate)
            .where(ProgressUpdate.need_id.in_([n.id for n in pending]))
            .order_by(ProgressUpdate.created_at.desc(), ProgressUpdate.id.desc())
        )
        if not photos:
            stmt = stmt.options(
                load_only(ProgressUpdate.need_id, ProgressUpdate.kind, ProgressUpdate.created_at)
            )
        by_need: dict[int, list[ProgressUpdate]] = defaultdict(list)
        for update in db.session.scalars(stmt):
            by_need[update.need_id].append(update)
        for need in pending:
            set_committed_value(need, "updates", by_need[need.id])
    if not photos:
        return
    bare = [u for n in needs for u in n.updates if "images" in sa.inspect(u).unloaded]
    if not bare:
        return
    images: dict[int, list[ProgressUpdateImage]] = defaultdict(list)
    for image in db.session.scalars(
        sa.select(ProgressUpdateImage)
        .where(ProgressUpdateImage.update_id.in_([u.id for u in bare]))
        .options(joinedload(ProgressUpdateImage.upload))
        .order_by(ProgressUpdateImage.update_id, ProgressUpdateImage.position)
    ):
        images[image.update_id].append(image)
    for update in bare:
        set_committed_value(update, "images", images[update.id])


@dataclass(frozen=True)
class DisclosureDuty:
    """A public need and how it stands with its disclosure duty on `today`."""

    need: Need
    disclosure: Disclosure
    today: date

    @property
    def days_overdue(self) -> int:
        """Whole Beijing days past the deadline (0 unless overdue)."""
        due = self.disclosure.next_due
        if self.disclosure.state != DisclosureState.OVERDUE or due is None:
            return 0
        return (self.today - due).days

    @property
    def sort_key(self) -> tuple[date, int]:
        """Most urgent first: the earliest deadline (none last), then the need's id."""
        return (self.disclosure.next_due or date.max, self.need.id)


def fund_duties(fund_id: int, today: date | None = None) -> list[DisclosureDuty]:
    """Every public need of the fund with its duty, most urgent first (two queries)."""
    today = today or beijing_today()
    needs = db.session.scalars(
        sa.select(Need)
        .where(Need.fund_id == fund_id, Need.public())
        .options(load_only(Need.title, Need.status, Need.published_at, Need.ended_at))
    ).all()
    load_reports(needs)
    duties = [DisclosureDuty(n, disclosure_of(n, today), today) for n in needs]
    return sorted(duties, key=lambda duty: duty.sort_key)


def overdue_count(needs: Iterable[Need], today: date | None = None) -> int:
    """How many of these needs are overdue with their disclosure (updates loaded at once)."""
    needs = list(needs)
    load_reports(needs)
    today = today or beijing_today()
    return sum(disclosure_of(n, today).state == DisclosureState.OVERDUE for n in needs)


def duties_page(
    fund_id: int,
    states: Collection[DisclosureState],
    limit: int,
    after: tuple[date, int] | None,
    today: date | None = None,
) -> Page[DisclosureDuty]:
    """The fund's public needs whose duty is in one of `states`, most urgent first, after the
    sort key `after` (see `DisclosureDuty.sort_key`)."""
    duties = [d for d in fund_duties(fund_id, today) if d.disclosure.state in states]
    if after is not None:
        duties = [d for d in duties if d.sort_key > after]
    return Page(duties[:limit], len(duties) > limit)
