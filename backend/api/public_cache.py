"""Public answers served from each process's copy while nothing they show has changed.

A need shared into a few WeChat groups, or a poster at a busy space, turns into bursts of
reads of the same few answers. Each process keeps the answers it made (body, ETag), with the
version numbers they were made under (`progress.versions`: `PUBLIC` for anything a public
answer shows, `MONEY` for any counter), and serves a copy only while both numbers are still
the same and the copy is younger than `MAX_AGE`. Checking the numbers costs no round trip
while they are unchanged (Redis tells every process when they change), so a copy is never
older than the counter's figures, nor than an edit once its commit is done.

Only answers that are the same for every caller use this (public needs, funds, ledgers,
spaces, statistics, the web pages), and only 200s are kept. Without Redis the answer is
made afresh, as without the cache.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

import redis
from flask import Response, current_app, request

from backend.auth import token_user_id
from backend.common.time import beijing_today
from backend.progress.versions import MONEY, PUBLIC, user_version, versions

#: public answers may be kept by any cache, which must ask again (If-None-Match) before
#: reusing one: money figures move with every donation
CACHE_CONTROL = "public, no-cache"
#: a user's own answers: their browser may keep them, asking again before reuse
PRIVATE_CACHE_CONTROL = "private, no-cache"
#: a copy is made again after this long, whatever the versions say (belt and braces)
MAX_AGE = 60.0
#: the most bytes of answers one process keeps (least recently used go first)
MAX_BYTES = 32 * 1024 * 1024
#: the tables public answers show: a commit that touches one raises `PUBLIC` (donations are
#: not among them: their money moves the counters, which raise `MONEY`; a donor's name
#: removed by a bulk statement marks the session itself)
PUBLIC_TABLES = (
    "regions", "programme_targets", "foundations", "funds", "role_grants",
    "needs", "need_budget_lines", "need_images", "progress_updates", "progress_update_images",
    "expenses", "expense_attachments", "approvals", "allocations",
    "charity_spaces", "space_needs", "uploads", "journal_seals",
)  # fmt: skip
NOT_MODIFIED_DOC = {"304": {"description": "unchanged since the ETag sent in If-None-Match"}}
_KEPT_HEADERS = (
    "Content-Type", "Content-Disposition", "Content-Security-Policy", "Link",
    "X-Content-Type-Options", "Referrer-Policy",
)  # fmt: skip


@dataclass(frozen=True)
class Copy:
    """An answer as it was made, and under which versions."""

    body: bytes
    headers: tuple[tuple[str, str], ...]
    etag: str
    versions: tuple[int, ...]
    made_at: float


class AnswerCache:
    """One process's copies, least recently used first (thread-safe)."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self._copies: OrderedDict[tuple, Copy] = OrderedDict()
        self._bytes = 0
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: tuple, current: tuple[int, ...], now: float) -> Copy | None:
        with self._lock:
            copy = self._copies.get(key)
            if copy is None or copy.versions != current or now - copy.made_at >= MAX_AGE:
                self.misses += 1
                return None
            self._copies.move_to_end(key)
            self.hits += 1
            return copy

    def put(self, key: tuple, copy: Copy) -> None:
        with self._lock:
            old = self._copies.pop(key, None)
            if old is not None:
                self._bytes -= len(old.body)
            self._copies[key] = copy
            self._bytes += len(copy.body)
            while self._bytes > self._max_bytes and self._copies:
                _, dropped = self._copies.popitem(last=False)
                self._bytes -= len(dropped.body)

    def clear(self) -> None:
        with self._lock:
            self._copies.clear()
            self._bytes = 0


def answer_cache() -> AnswerCache:
    """This process's copies of the app's public answers."""
    found = current_app.extensions.get("answer_cache")
    if found is None:
        found = current_app.extensions["answer_cache"] = AnswerCache()
    return found


def _serve(copy: Copy) -> Response:
    response = Response(copy.body, status=200, headers=list(copy.headers))
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.set_etag(copy.etag)
    return response.make_conditional(request)


def public_answer(view: Callable[..., Response]) -> Callable[..., Response]:
    """Serve the view's answer from this process's copy while it is current; keep every 200
    it makes; `Cache-Control` and an ETag on it, 304 to a caller that holds it already.

    Put it right under the route, above argument parsing, which a copy skips too."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        if current_app.config["SETTINGS"].progress_cache_ms > 0:
            key = (request.path, request.query_string, beijing_today())
            answer = _from_copy(key, [PUBLIC, MONEY], lambda: view(*args, **kwargs))
            if answer is not None:
                return answer
        return _headers(view(*args, **kwargs))

    return wrapper


def _from_copy(
    key: tuple, version_keys: list[str], make: Callable[[], Response]
) -> Response | None:
    """The answer from this process's copy under `key` while the versions `version_keys`
    are the ones it was made under, else made by `make` and kept if it is a 200 (either
    way served with its ETag, a 304 to a caller holding it); None when Redis cannot tell
    the versions, for the caller to make the answer afresh without a copy."""
    try:
        current = tuple(versions().read(version_keys))
    except redis.RedisError:
        return None
    cache = answer_cache()
    now = time.monotonic()
    copy = cache.get(key, current, now)
    if copy is None:
        response = make()
        if response.status_code != 200 or response.is_streamed:
            return response
        body = response.get_data()
        etag = hashlib.blake2b(body, digest_size=16).hexdigest()
        headers = tuple((k, v) for k, v in response.headers.items() if k in _KEPT_HEADERS)
        copy = Copy(body, headers, etag, current, now)
        cache.put(key, copy)
    return _serve(copy)


def own_answer(view: Callable[..., Response]) -> Callable[..., Response]:
    """`public_answer` for an answer only its user sees (their own donations): copies kept
    per user, checked against `PUBLIC` and the user's own version (`user_version`, raised
    when one of their orders is made or closed), served to a valid token of that user
    (a deleted account's copies went stale with the `PUBLIC` its deletion raised), and
    marked private."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        user_id = token_user_id()
        if user_id is not None and current_app.config["SETTINGS"].progress_cache_ms > 0:
            key = ("own", user_id, request.path, request.query_string, beijing_today())
            versions_of = [PUBLIC, user_version(user_id)]
            answer = _from_copy(key, versions_of, lambda: view(*args, **kwargs))
            if answer is not None:
                return _private(answer)
        return _private(view(*args, **kwargs))

    return wrapper


def _private(response: Response) -> Response:
    """A user's own answer: no shared cache may keep it."""
    if response.status_code in (200, 304):
        response.headers["Cache-Control"] = PRIVATE_CACHE_CONTROL
        response.vary.add("Authorization")
    return response


def _headers(response: Response) -> Response:
    """Caching headers on an answer made afresh (no copy kept)."""
    if response.status_code != 200 or response.is_streamed:
        return response
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.add_etag()
    return response.make_conditional(request)
