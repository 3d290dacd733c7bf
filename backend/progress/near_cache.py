"""A process's own copy of the counters it reads, kept current by Redis itself.

Redis's server-assisted client-side caching (`CLIENT TRACKING`, Redis 6 and later): Redis
remembers which counters this process has read and, when one of them changes (a payment,
a rebuild, a repair by hand, a flush), sends the key's name on a second connection that
listens to `__redis__:invalidate`. A read first takes in whatever invalidations have
arrived, a non-blocking look at that socket with no round trip, then answers from the
copy if it still has one. A progress bar read thousands of times a second thus costs no
Redis round trip, yet shows a payment as soon as Redis has counted it.

Belt and braces: a copy is never older than `max_age`, whatever the invalidations say;
this process's own writes drop its copies at once (`forget`); if either connection fails,
every copy is dropped and the read goes to Redis, whose errors the caller handles as it
would without the cache (PostgreSQL, marked stale). A server that refuses tracking (an
old Redis, a proxy, an ACL) turns the cache off with one warning.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Generic, TypeVar

import redis

log = logging.getLogger(__name__)

INVALIDATE_CHANNEL = b"__redis__:invalidate"
#: more distinct counters than this in one process's copy: start again (bounded memory)
MAX_COPIES = 50_000

Fields = list[bytes | None]
T = TypeVar("T")


class TrackingRefused(redis.RedisError):
    """The server will not track this client's reads."""


class NearCache(Generic[T]):
    """Tracked copies of some fields of Redis hashes, decoded, for one process (thread-safe).

    `decode` turns a hash's HMGET answer into the value callers want, or None when the hash
    is missing (never copied: a missing counter is rebuilt, which invalidates it anyway).
    """

    def __init__(
        self,
        client: redis.Redis,
        max_age: float,
        fields: Sequence[str],
        decode: Callable[[Fields], T | None],
    ) -> None:
        self._client = client
        self.fields = tuple(fields)
        self.decode = decode
        pool = client.connection_pool
        self._connection_class = pool.connection_class
        # Our own two connections, outside the pool: the listener is subscribed and the
        # reader is tracked, so neither may serve other commands. RESP2, where tracking
        # redirects invalidations to a subscribed connection as plain pub/sub messages.
        self._kwargs = {**pool.connection_kwargs, "health_check_interval": 0, "protocol": 2}
        self.max_age = max_age
        self.enabled = max_age > 0
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._reader: redis.Connection | None = None
        self._listener: redis.Connection | None = None
        self._copies: dict[str, tuple[float, T]] = {}
        self.hits = self.misses = self.invalidations = 0

    # -- reading ----------------------------------------------------------------------------
    def read_many(self, keys: Sequence[str]) -> list[T | None]:
        """Each key's value: from the copy where it is current, else from Redis (decoded).

        Raises `redis.RedisError` when Redis cannot be reached, as a direct read would.
        """
        if not self.enabled:
            return self._direct(keys)
        with self._lock:
            if os.getpid() != self._pid:  # a forked child must not share the parent's sockets
                self._drop_connections(close=False)
                self._pid = os.getpid()
            try:
                self._ensure_connected()
                self._take_invalidations()
                now = time.monotonic()
                answers: dict[str, T | None] = {}
                wanted = []
                for key in keys:
                    copy = self._copies.get(key)
                    if copy is not None and now - copy[0] < self.max_age:
                        answers[key] = copy[1]
                    else:
                        wanted.append(key)
                self.hits += len(keys) - len(wanted)
                if wanted:
                    self.misses += len(wanted)
                    for key, fields in zip(wanted, self._fetch(wanted), strict=True):
                        value = answers[key] = self.decode(fields)
                        if value is not None:
                            self._copies[key] = (now, value)
                return [answers[key] for key in keys]
            except TrackingRefused:
                pass  # off from now on: read directly, below
            except redis.RedisError:
                self._drop_connections()
                raise
            except OSError as exc:
                self._drop_connections()
                raise redis.ConnectionError(str(exc)) from exc
        return self._direct(keys)

    def _direct(self, keys: Sequence[str]) -> list[T | None]:
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            pipe.hmget(key, *self.fields)
        return [self.decode(fields) for fields in pipe.execute()]

    def forget(self, keys: Iterable[str]) -> None:
        """Drop the copies of keys this process has just written."""
        with self._lock:
            for key in keys:
                self._copies.pop(key, None)

    def close(self) -> None:
        """Close both connections (the next read opens them again)."""
        with self._lock:
            self._drop_connections()

    # -- inside the lock ----------------------------------------------------------------------
    def _ensure_connected(self) -> None:
        if self._reader is not None:
            return
        listener = self._connection_class(**self._kwargs)
        reader = self._connection_class(**self._kwargs)
        try:
            listener.connect()
            listener.send_command("CLIENT", "ID")
            listener_id = listener.read_response()
            listener.send_command("SUBSCRIBE", INVALIDATE_CHANNEL)
            listener.read_response()
            reader.connect()
            reader.send_command("CLIENT", "TRACKING", "ON", "REDIRECT", listener_id)
            reader.read_response()
        except redis.ResponseError as exc:
            listener.disconnect()
            reader.disconnect()
            self.enabled = False
            log.warning("progress cache off: Redis refuses client tracking (%s)", exc)
            raise TrackingRefused(str(exc)) from exc
        except BaseException:
            listener.disconnect()
            reader.disconnect()
            raise
        self._listener, self._reader = listener, reader
        # Copies made before these connections were tracked are of unknown freshness.
        self._copies.clear()

    def _take_invalidations(self) -> None:
        listener = self._listener
        assert listener is not None
        while listener.can_read(timeout=0):
            message = listener.read_response()
            if not isinstance(message, list) or len(message) != 3 or message[0] != b"message":
                continue
            keys = message[2]
            self.invalidations += 1
            if keys is None:  # FLUSHDB, FLUSHALL, or the tracking table overflowed
                self._copies.clear()
                continue
            for key in keys:
                self._copies.pop(key.decode() if isinstance(key, bytes) else key, None)
        if len(self._copies) > MAX_COPIES:
            self._copies.clear()

    def _fetch(self, keys: Sequence[str]) -> list[Fields]:
        reader = self._reader
        assert reader is not None
        commands = [("HMGET", key, *self.fields) for key in keys]
        reader.send_packed_command(reader.pack_commands(commands))
        return [reader.read_response() for _ in keys]

    def _drop_connections(self, close: bool = True) -> None:
        for connection in (self._reader, self._listener):
            if connection is not None and close:
                connection.disconnect()
        self._reader = self._listener = None
        self._copies.clear()
