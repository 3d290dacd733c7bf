"""Disclosure duties of a need, on a controlled calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from backend.needs.disclosure import DisclosureState, add_months, disclosure_of
from backend.needs.models import Need, NeedStatus, ProgressUpdate, UpdateKind


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2026, 5, 15), 6, date(2026, 11, 15)),
    ],
)
def test_add_months_clamps_to_the_month_end(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


def need(status: NeedStatus, published: str, ended: str | None = None, updates=()) -> Need:
    n = Need(status=status, published_at=at(published), ended_at=at(ended) if ended else None)
    n.updates = [ProgressUpdate(kind=kind, text="x", created_at=at(day)) for kind, day in updates]
    return n


def test_a_young_project_owes_nothing_until_six_months() -> None:
    n = need(NeedStatus.FUNDRAISING, "2026-05-10")
    result = disclosure_of(n, today=date(2026, 9, 1))
    assert result.state == DisclosureState.OK
    assert result.next_due == date(2026, 11, 10)


def test_a_long_project_must_disclose_every_three_months() -> None:
    n = need(NeedStatus.IN_PROGRESS, "2026-01-05", updates=[(UpdateKind.DISCLOSURE, "2026-06-01")])
    assert disclosure_of(n, today=date(2026, 8, 1)).next_due == date(2026, 9, 1)
    assert disclosure_of(n, today=date(2026, 8, 25)).state == DisclosureState.DUE_SOON
    assert disclosure_of(n, today=date(2026, 9, 2)).state == DisclosureState.OVERDUE


def test_a_finished_project_owes_a_final_report_within_three_months() -> None:
    n = need(NeedStatus.COMPLETED, "2026-01-05", ended="2026-07-20")
    assert disclosure_of(n, today=date(2026, 8, 1)).next_due == date(2026, 10, 20)
    assert disclosure_of(n, today=date(2026, 10, 21)).state == DisclosureState.OVERDUE
    n.updates.append(
        ProgressUpdate(kind=UpdateKind.FINAL, text="结项", created_at=at("2026-08-01"))
    )
    assert disclosure_of(n, today=date(2026, 12, 1)).state == DisclosureState.FINAL_PUBLISHED


def test_drafts_owe_nothing() -> None:
    n = Need(status=NeedStatus.DRAFT)
    n.updates = []
    assert disclosure_of(n, today=date(2026, 1, 1)).state == DisclosureState.NOT_REQUIRED
