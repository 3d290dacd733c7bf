"""Charts as inline SVG, drawn on the server: no script, no font, no request of their own.

Every chart is decorative beside text that says the same (an `aria-hidden` bar next to
"已筹 ¥… / 目标 ¥…", a bar chart next to a table), so a screen reader reads the text once and
a page without styles still makes sense. Only presentation *attributes* are used (no
`style=`), which the pages' Content-Security-Policy allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from backend.common.money import yuan

#: colours with at least 3:1 contrast against the white page (WCAG non-text contrast)
RAISED_COLOUR = "#b42318"
SPENT_COLOUR = "#1f5f8b"
TRACK_COLOUR = "#e7e1dc"


def clamp_percent(percent: int) -> int:
    """0–100: an over-funded need fills its bar, never overflows it."""
    return max(0, min(100, percent))


def progress_bar(percent: int, *, colour: str = RAISED_COLOUR, css_class: str = "bar") -> Markup:
    """A horizontal bar filled to `percent` (clamped to 0–100), hidden from screen readers:
    the page says the figures in words next to it. The fill is `<rect class="fill">`, whose
    width the live-progress script may change."""
    filled = clamp_percent(percent)
    return Markup(  # noqa: S704 - numbers and escaped values only
        f'<svg class="{escape(css_class)}" viewBox="0 0 100 6" preserveAspectRatio="none" '
        f'aria-hidden="true" focusable="false">'
        f'<rect width="100" height="6" rx="3" fill="{TRACK_COLOUR}"/>'
        f'<rect class="fill" width="{filled}" height="6" rx="3" fill="{escape(colour)}"/>'
        f"</svg>"
    )


@dataclass(frozen=True)
class MonthBar:
    """One month of the money chart."""

    label: str  # e.g. "2025-03" or "3月"
    raised_fen: int
    spent_fen: int


def _short_label(label: str) -> str:
    """ "2025-03" → "3月"; anything else as it is."""
    year, _, month = label.partition("-")
    if year.isdigit() and month.isdigit():
        return f"{int(month)}月"
    return label


def monthly_bars(months: Sequence[MonthBar], *, title: str = "每月筹款与支出") -> Markup:
    """Paired bars per month (raised, spent) on a shared scale, with month labels below.
    Decorative beside the table the page prints with the same figures (`aria-hidden`)."""
    if not months:
        return Markup("")
    width, height, top, bottom = 320, 160, 8, 24
    plot = height - top - bottom
    slot = width / len(months)
    bar = max(1.0, slot * 0.34)
    peak = max(max(m.raised_fen, m.spent_fen) for m in months) or 1
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" aria-hidden="true" '
        f'focusable="false"><title>{escape(title)}</title>',
        f'<line x1="0" y1="{top + plot}" x2="{width}" y2="{top + plot}" '
        f'stroke="#8a817c" stroke-width="1"/>',
    ]
    for index, month in enumerate(months):
        x = index * slot + (slot - 2 * bar) / 2
        for offset, value, colour in (
            (0.0, month.raised_fen, RAISED_COLOUR),
            (bar, month.spent_fen, SPENT_COLOUR),
        ):
            h = plot * value / peak
            if value > 0:
                h = max(h, 1.0)  # a month with money always shows a sliver
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{top + plot - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{escape(month.label)} '
                f"{'筹款' if offset == 0 else '支出'} {escape(yuan(value))}</title></rect>"
            )
        if len(months) <= 12 or index % 2 == 0:
            parts.append(
                f'<text x="{index * slot + slot / 2:.1f}" y="{height - 8}" font-size="10" '
                f'text-anchor="middle" fill="#4a4340">{escape(_short_label(month.label))}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers and escaped values only
