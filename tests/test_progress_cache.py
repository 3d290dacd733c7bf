"""The progress counters' tracked copies: served without a round trip, never out of date.

Every test here talks to a real Redis server: the shared one (its test database) or a
private one it can stop, or restrict with an ACL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from backend.progress.counter import FIELDS, CounterValue, ProgressCounter, need_key
from backend.progress.near_cache import NearCache
from tests.support import PrivateRedis

KEY = need_key(424242)


def decode(fields: list[bytes | None]) -> int | None:
    return int(fields[0]) if fields[0] is not None else None


@pytest.fixture
def shared(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.delete(KEY)
    yield client
    client.delete(KEY)
    client.close()


def cache_on(client: redis.Redis, max_age: float = 60) -> NearCache[int]:
    return NearCache(client, max_age, ("raised_fen",), decode)


def test_a_second_read_is_served_from_the_copy(shared: redis.Redis) -> None:
    shared.hset(KEY, "raised_fen", 100)
    cache = cache_on(shared)
    assert cache.read_many([KEY]) == [100]
    assert cache.read_many([KEY]) == [100]
    assert (cache.hits, cache.misses) == (1, 1)
    cache.close()


def test_a_write_by_another_client_is_seen_at_the_next_read(
    shared: redis.Redis, redis_url: str
) -> None:
    shared.hset(KEY, "raised_fen", 100)
    cache = cache_on(shared)
    assert cache.read_many([KEY]) == [100]
    other = redis.Redis.from_url(redis_url)  # another process, as far as Redis can tell
    for expected in (150, 175, 176):
        other.hincrby(KEY, "raised_fen", expected - int(shared.hget(KEY, "raised_fen")))
        assert cache.read_many([KEY]) == [expected]
    assert cache.invalidations == 3
    other.close()
    cache.close()


def test_a_write_inside_a_lua_script_invalidates_too(shared: redis.Redis) -> None:
    shared.hset(KEY, "raised_fen", 1)
    cache = cache_on(shared)
    assert cache.read_many([KEY]) == [1]
    shared.eval("redis.call('HINCRBY', KEYS[1], 'raised_fen', 41)", 1, KEY)
    assert cache.read_many([KEY]) == [42]
    cache.close()


def test_flush_and_delete_drop_copies_and_a_missing_hash_is_not_copied(
    shared: redis.Redis,
) -> None:
    shared.hset(KEY, "raised_fen", 7)
    cache = cache_on(shared)
    assert cache.read_many([KEY]) == [7]
    shared.delete(KEY)
    assert cache.read_many([KEY]) == [None]
    assert cache.read_many([KEY]) == [None]
    assert cache.hits == 0  # both reads of the missing hash went to Redis
    shared.hset(KEY, "raised_fen", 8)
    assert cache.read_many([KEY]) == [8]
    shared.flushdb()
    assert cache.read_many([KEY]) == [None]
    cache.close()


def test_a_copy_is_never_older_than_its_max_age(shared: redis.Redis) -> None:
    shared.hset(KEY, "raised_fen", 5)
    cache = cache_on(shared, max_age=0.05)
    assert cache.read_many([KEY]) == [5]
    assert cache.read_many([KEY]) == [5]
    time.sleep(0.06)
    assert cache.read_many([KEY]) == [5]
    assert (cache.hits, cache.misses) == (1, 2)
    cache.close()


def test_many_keys_in_one_read_mix_copies_and_fetches(shared: redis.Redis) -> None:
    keys = [need_key(424242 + i) for i in range(5)]
    for i, key in enumerate(keys):
        shared.hset(key, "raised_fen", i)
    cache = cache_on(shared)
    assert cache.read_many(keys[:2]) == [0, 1]
    assert cache.read_many(list(reversed(keys))) == [4, 3, 2, 1, 0]
    assert (cache.hits, cache.misses) == (2, 5)
    shared.delete(*keys)
    cache.close()


def test_the_process_own_writes_are_read_back_at_once(shared: redis.Redis) -> None:
    counter = ProgressCounter(shared, cache_max_age=60)
    counter.rebuild(KEY, 1000, 1, [])
    assert counter.read_many([KEY], cached=True)[0].raised_fen == 1000
    counter.apply_many([KEY], 987654, 500, 1)
    value = counter.read_many([KEY], cached=True)[0]
    assert isinstance(value, CounterValue)
    assert (value.raised_fen, value.donation_count) == (1500, 2)
    shared.delete(KEY + ":applied")
    assert counter.near is not None
    counter.near.close()


def test_redis_stopping_is_an_error_not_an_old_copy(private_redis: PrivateRedis) -> None:
    client = redis.Redis.from_url(private_redis.url, socket_timeout=1, socket_connect_timeout=1)
    client.hset(KEY, "raised_fen", 9)
    cache = cache_on(client)
    assert cache.read_many([KEY]) == [9]
    private_redis.stop()
    with pytest.raises(redis.ConnectionError):
        cache.read_many([KEY])
    private_redis.start()  # back, empty
    assert cache.read_many([KEY]) == [None]
    client.hset(KEY, "raised_fen", 10)
    assert cache.read_many([KEY]) == [10]
    cache.close()
    client.close()


def test_a_server_that_refuses_tracking_turns_the_cache_off(
    private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    admin = redis.Redis.from_url(private_redis.url)
    admin.acl_setuser(
        "reader", enabled=True, passwords=["+reader-password"], keys=["*"],
        commands=["+@all", "-client"],
    )  # fmt: skip
    admin.hset(KEY, "raised_fen", 3)
    client = redis.Redis(
        unix_socket_path=str(private_redis.socket), username="reader", password="reader-password"
    )
    cache = cache_on(client)
    assert cache.read_many([KEY]) == [3]
    assert cache.enabled is False
    assert "progress cache off" in caplog.text
    admin.hset(KEY, "raised_fen", 4)
    assert cache.read_many([KEY]) == [4]  # read directly from Redis
    client.close()
    admin.close()


def test_fields_come_back_in_the_order_asked(shared: redis.Redis) -> None:
    shared.hset(KEY, mapping={"raised_fen": 12, "donation_count": 3, "goal_fen": 100})
    cache = NearCache(shared, 60, FIELDS, list)
    assert cache.read_many([KEY]) == [[b"12", b"3", None, b"100"]]
    cache.close()


def test_an_event_is_counted_once_after_redis_forgot_the_scripts(shared: redis.Redis) -> None:
    counter = ProgressCounter(shared)
    counter.rebuild(KEY, 0, 0, [])
    shared.script_flush()
    assert counter.apply_many([KEY], 31337, 700, 1) == [(1, 700, None)]
    shared.script_flush()
    assert counter.apply_many([KEY], 31337, 700, 1) == [(0, 700, None)]  # a repeat
    assert shared.hmget(KEY, "raised_fen", "donation_count") == [b"700", b"1"]
    shared.delete(KEY + ":applied")


def test_a_forked_child_opens_its_own_connections(
    shared: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    import backend.progress.near_cache as near_cache

    shared.hset(KEY, "raised_fen", 1)
    cache = cache_on(shared)
    assert cache.read_many([KEY]) == [1]
    parents = cache._reader
    real_pid = near_cache.os.getpid()
    monkeypatch.setattr(near_cache.os, "getpid", lambda: real_pid + 1)  # as after a fork
    assert cache.read_many([KEY]) == [1]
    assert (cache.hits, cache.misses) == (0, 2)  # the parent's copies are not the child's
    assert cache._reader is not parents
    assert parents is not None and parents._sock is not None  # left open for the parent
    monkeypatch.undo()
    parents.disconnect()
    cache.close()
