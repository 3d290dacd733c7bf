"""Version numbers of what public answers show, for caches that must not outlive a change.

Two numbers, each a Redis hash with one field: `PUBLIC` goes up after every commit that
changed anything a public answer shows (a need's text, a fund, a space, an expense, a
region, a target: the app tells `track_public_changes` which tables those are); `MONEY`
goes up whenever a counter changes (in the same round trip as the change, after it). A
cached answer keeps the numbers it was made under, plus the counters it read, and is
served only while all of them are still the same.

Reads go through a `NearCache`, so checking a version costs no round trip while it has not
changed, yet a change made by any process on any node is seen as soon as Redis's
invalidation arrives (and never later than the copy's maximum age).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import redis
import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from sqlalchemy.orm import Session

from backend.progress.near_cache import Fields, NearCache

log = logging.getLogger(__name__)

#: after any commit that changed what public answers show
PUBLIC = "lsv:{public}"
#: after any change of a progress counter
MONEY = "lsv:{money}"
FIELD = "v"

#: the session's note that this transaction changed a public table
_CHANGED = "public_changed"
#: the session's note of the users whose own donations this transaction changed
_USERS = "users_changed"


def user_version(user_id: int) -> str:
    """The version of what one user's own answers show (their donations), raised after a
    commit that made or closed one of their orders; anything else such an answer shows
    (a payment, a refund, an allocation) raises `PUBLIC`."""
    return f"lsv:{{u:{user_id}}}"


def _decode(fields: Fields) -> int:
    return int(fields[0] or 0)


class Versions:
    """Reading and raising the version numbers (one per app; thread-safe)."""

    def __init__(self, client: redis.Redis, max_age: float) -> None:
        self.client = client
        self.near: NearCache[int] = NearCache(client, max_age, (FIELD,), _decode)

    def read(self, keys: Sequence[str]) -> list[int]:
        """The current numbers (raises `redis.RedisError` when Redis cannot be reached)."""
        return [value or 0 for value in self.near.read_many(keys)]

    def bump(self, keys: Iterable[str]) -> None:
        """Raise these numbers: every copy of an answer made under the old ones is stale."""
        keys = list(keys)
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.hincrby(key, FIELD, 1)
        pipe.execute()
        self.near.forget(keys)


def versions() -> Versions:
    """The app's version numbers."""
    return current_app.extensions["public_versions"]


def mark_public_change(session: Session) -> None:
    """Note that this transaction changes what public answers show, for a change made by a
    bulk statement that the session's own bookkeeping does not see."""
    session.info[_CHANGED] = True


def mark_user_change(session: Session, user_id: int | None) -> None:
    """Note that this transaction changes what a user's own answers show (their orders)."""
    if user_id is not None:
        session.info.setdefault(_USERS, set()).add(user_id)


def install_versions(app: Flask, public_tables: Iterable[str]) -> None:
    """Give the app its version numbers, and raise `PUBLIC` after each commit (a request's,
    the worker's, a command's: any session used inside the app) that inserted, changed or
    deleted rows of `public_tables`. (A rolled-back change may raise it too: a copy made
    again for nothing, never a stale one kept.)"""
    app.extensions["public_versions"] = Versions(
        app.extensions["redis"], app.config["SETTINGS"].progress_cache_ms / 1000
    )
    app.extensions["public_tables"] = frozenset(public_tables)
    _listen_once()


def _after_flush(session: Session, _context: object) -> None:
    if not has_app_context() or session.info.get(_CHANGED):
        return
    watched = current_app.extensions.get("public_tables", frozenset())
    for obj in (*session.new, *session.dirty, *session.deleted):
        if getattr(obj, "__tablename__", None) in watched and (
            obj not in session.dirty or session.is_modified(obj)
        ):
            session.info[_CHANGED] = True
            return


def _after_commit(session: Session) -> None:
    keys = [PUBLIC] if session.info.pop(_CHANGED, False) else []
    keys += [user_version(u) for u in sorted(session.info.pop(_USERS, ()))]
    if not keys or not has_app_context():
        return
    found = current_app.extensions.get("public_versions")
    if found is None:
        return
    try:
        found.bump(keys)
    except redis.RedisError as exc:  # copies then live out their maximum age
        log.warning("versions %s not raised: %s", keys, exc)


def _listen_once() -> None:
    for name, listener in (("after_flush", _after_flush), ("after_commit", _after_commit)):
        if not sa.event.contains(Session, name, listener):
            sa.event.listen(Session, name, listener)
