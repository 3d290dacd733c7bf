"""Money figures of needs and funds for display.

Donations, the journal and the Redis progress counter arrive with the payments work; until
a need has received money its figures are zero, and these functions are where the counter
will be read (all counters of a page in one round trip).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Figures:
    """What a need (or fund) has raised."""

    raised_fen: int
    donation_count: int

    def percent_of(self, goal_fen: int) -> int:
        """Whole percent of `goal_fen` raised (may exceed 100 when a need is over-funded)."""
        return self.raised_fen * 100 // goal_fen if goal_fen > 0 else 0

    def excess_over(self, goal_fen: int) -> int:
        """What was raised beyond the goal, shown openly."""
        return max(0, self.raised_fen - goal_fen)


NOTHING_RAISED = Figures(raised_fen=0, donation_count=0)


def need_figures(need_ids: Iterable[int]) -> dict[int, Figures]:
    """Figures for each need id (no donations are recorded yet: all zero)."""
    return dict.fromkeys(need_ids, NOTHING_RAISED)
