"""One clock for the app: UTC instants, Beijing business days; tests set it, never sleep."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")

_frozen: datetime | None = None


def utcnow() -> datetime:
    """The current instant, timezone-aware UTC (or the time tests set)."""
    return _frozen if _frozen is not None else datetime.now(UTC)


def beijing_today() -> date:
    """Today's business day in Beijing."""
    return utcnow().astimezone(BEIJING).date()


def set_clock(instant: datetime | None) -> None:
    """Freeze the clock at `instant` (aware), or release it with None. For tests and tools."""
    global _frozen
    if instant is not None and instant.tzinfo is None:
        raise ValueError("the clock takes timezone-aware instants")
    _frozen = instant.astimezone(UTC) if instant is not None else None


def frozen_at() -> datetime | None:
    """The instant the clock is frozen at, or None while it runs."""
    return _frozen
