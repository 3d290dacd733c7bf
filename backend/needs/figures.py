"""Money figures of needs for display, read from the progress counters."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Figures:
    """What a need has raised."""

    raised_fen: int
    donation_count: int

    def percent_of(self, goal_fen: int) -> int:
        """Whole percent of `goal_fen` raised (may exceed 100 when a need is over-funded)."""
        return self.raised_fen * 100 // goal_fen if goal_fen > 0 else 0

    def excess_over(self, goal_fen: int) -> int:
        """What was raised beyond the goal, shown openly."""
        return max(0, self.raised_fen - goal_fen)


def need_figures(need_ids: Iterable[int]) -> dict[int, Figures]:
    """Figures for each need id: every counter of a page in one Redis round trip."""
    from backend.progress.service import read_needs

    progress = read_needs(list(need_ids))
    return {i: Figures(p.raised_fen, p.donation_count) for i, p in progress.items()}
