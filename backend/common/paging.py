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


class KeysetList:
    """`keyset_page` for a hot list of columns (not models): the statement of each direction,
    with and without a key to continue after, is built once, its values (the owner's id in
    `stmt`'s own `bindparam`s, the limit, the key) bound at each call. Building a select
    costs more than running a cached one; the items are the statement's rows. Read on the
    session's connection, without the ORM's autoflush: for lists that requests only read
    (pending changes of the session are not flushed first)."""

    def __init__(
        self,
        stmt: sa.Select[Any],
        key: sa.ColumnElement[Any] | tuple[sa.ColumnElement[Any], ...],
    ) -> None:
        self.stmt = stmt
        self.columns = key if isinstance(key, tuple) else (key,)
        self.built: dict[tuple[bool, bool], sa.Select[Any]] = {}

    def statement(self, descending: bool, continued: bool) -> sa.Select[Any]:
        """The select ordered by the key, limited, and after a key when `continued`."""
        built = self.built.get((descending, continued))
        if built is None:
            columns = self.columns
            stmt = self.stmt.order_by(*(c.desc() if descending else c.asc() for c in columns))
            stmt = stmt.limit(sa.bindparam("page_limit"))
            if continued:
                after = [
                    sa.bindparam(f"page_after_{i}", type_=c.type) for i, c in enumerate(columns)
                ]
                column = sa.tuple_(*columns) if len(columns) > 1 else columns[0]
                value = sa.tuple_(*after) if len(columns) > 1 else after[0]
                stmt = stmt.where(column < value if descending else column > value)
            built = self.built[(descending, continued)] = stmt
        return built

    def page(self, values: dict[str, Any], limit: int, after: Any, *,
             descending: bool = True) -> Page[Any]:  # fmt: skip
        """`limit` rows after `after` (a tuple for a tuple key), `values` bound to `stmt`."""
        bound = {**values, "page_limit": limit + 1}
        if after is not None:
            keys = after if len(self.columns) > 1 else (after,)
            bound.update((f"page_after_{i}", v) for i, v in enumerate(keys))
        stmt = self.statement(descending, after is not None)
        rows = db.session.connection().execute(stmt, bound).all()
        return Page(rows[:limit], len(rows) > limit)
