"""Amounts in fen written as yuan for people: exact integer arithmetic, never a float."""

from __future__ import annotations


def yuan(fen: int, *, symbol: str = "¥", grouping: bool = True) -> str:
    """`fen` as yuan: 123456 → "¥1,234.56"; -5 → "-¥0.05"; `symbol=""` and
    `grouping=False` give the plain "1234.56" spreadsheets read."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    digits = f"{whole:,}" if grouping else str(whole)
    return f"{sign}{symbol}{digits}.{cents:02d}"
