"""The sandbox's clock: real time plus an offset that control calls move."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

# China has no daylight saving time: Beijing time is UTC+8 all year.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


class SandboxClock:
    """Every expiry, the five-minute close rule and bill days read this clock."""

    def __init__(self) -> None:
        """Start at real time."""
        self._lock = threading.Lock()
        self._offset = timedelta()

    def now(self) -> datetime:
        """The sandbox's current time, timezone-aware (UTC)."""
        with self._lock:
            return datetime.now(UTC) + self._offset

    def beijing_now(self) -> datetime:
        """The sandbox's current time in Beijing."""
        return self.now().astimezone(BEIJING)

    @property
    def offset_seconds(self) -> float:
        """How far the clock is from real time."""
        with self._lock:
            return self._offset.total_seconds()

    def advance(self, seconds: float) -> datetime:
        """Move the clock by `seconds` (negative goes back)."""
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()

    def set(self, moment: datetime) -> datetime:
        """Make the clock read `moment` now (naive means Beijing time)."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=BEIJING)
        with self._lock:
            self._offset = moment - datetime.now(UTC)
        return self.now()

    def reset(self) -> None:
        """Back to real time."""
        with self._lock:
            self._offset = timedelta()


def wechat_time(moment: datetime) -> str:
    """`yyyyMMddHHmmss` in Beijing time, WeChat Pay's time format."""
    return moment.astimezone(BEIJING).strftime("%Y%m%d%H%M%S")


def parse_wechat_time(text: str) -> datetime:
    """Parse `yyyyMMddHHmmss` (Beijing time); ValueError when malformed."""
    if len(text) != 14 or not (text.isascii() and text.isdigit()):
        raise ValueError(f"not yyyyMMddHHmmss: {text!r}")
    return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=BEIJING)


def readable_time(moment: datetime) -> str:
    """`yyyy-MM-dd HH:mm:ss` in Beijing time (refund notices and bills)."""
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
