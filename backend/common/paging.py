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
    key: sa.ColumnElement[Any] | tuple[sa.ColumnElement[Any], ...],
    limit: int,
    after: Any,
    *,
    descending: bool = True,
) -> Page[Any]:
    """`limit` rows of `stmt` ordered by `key` (newest first by default) after `after`.

    `key` is a unique column (an id) or a tuple of columns ending in one, such as
    `(published_at, id)`; `after` is the last row's value of it (a tuple for a tuple).
    """
    columns = key if isinstance(key, tuple) else (key,)
    stmt = stmt.order_by(*(c.desc() if descending else c.asc() for c in columns))
    stmt = stmt.limit(limit + 1)
    if after is not None:
        column = sa.tuple_(*columns) if isinstance(key, tuple) else key
        value = sa.tuple_(*after) if isinstance(key, tuple) else after
        stmt = stmt.where(column < value if descending else column > value)
    rows = list(db.session.scalars(stmt).unique())
    return Page(rows[:limit], len(rows) > limit)
