"""Keyset pages: every list is read by its key, never by offset, so rows inserted meanwhile
neither repeat nor shift a page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from backend.extensions import db

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """Rows of one page, and whether more follow."""

    items: list[T]
    more: bool


def keyset_page(
    stmt: sa.Select[Any],
    key: sa.ColumnElement[int],
    limit: int,
    after: int | None,
    *,
    descending: bool = True,
) -> Page[Any]:
    """`limit` rows of `stmt` ordered by `key` (newest first by default) after `after`."""
    stmt = stmt.order_by(key.desc() if descending else key.asc()).limit(limit + 1)
    if after is not None:
        stmt = stmt.where(key < after if descending else key > after)
    rows = list(db.session.scalars(stmt).unique())
    return Page(rows[:limit], len(rows) > limit)
