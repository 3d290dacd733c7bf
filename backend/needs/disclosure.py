"""Disclosure duties (信息公开) of a need.

A project running over 6 months discloses at least every 3 months; a finished project
publishes a final report within 3 months of its end. Deadlines are Beijing days.
"""

from __future__ import annotations

import calendar
import enum
from dataclasses import dataclass
from datetime import date, datetime

from backend.common.time import BEIJING, beijing_today
from backend.needs.models import Need, NeedStatus, UpdateKind

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
