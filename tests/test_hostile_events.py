"""The message push URL under attack: replayed, stale and malformed signed queries.

WeChat's push signature covers only token, timestamp and nonce, not the body: a signed
query seen once (in a log, a proxy) must not be good for another request.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any
from urllib.parse import urlencode

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from backend.api import wechat_events
from backend.common.time import utcnow
from backend.wechat_sandbox.config import DEFAULT_MESSAGE_TOKEN
from tests.conftest import Clock, free_port
from tests.support import assert_error_shape

pytestmark = pytest.mark.usefixtures("clean")

EVENTS = "/api/v1/wechat/events"
#: an event the app answers without touching the database
USER_ENTER = {"MsgType": "event", "Event": "user_enter_tempsession"}
#: 2001-09-09, a valid Unix time long past
YEAR_2001 = 1_000_000_000


def new_nonce() -> str:
    """A nonce as WeChat makes them: ten random digits."""
    return str(1_000_000_000 + secrets.randbelow(9_000_000_000))


def signed(timestamp: int | str | None = None, nonce: str | None = None, **extra: str) -> str:
    """The events path correctly signed with our token, at the app's present unless told."""
    when = str(int(utcnow().timestamp()) if timestamp is None else timestamp)
    nonce = nonce or new_nonce()
    joined = "".join(sorted([DEFAULT_MESSAGE_TOKEN, when, nonce]))
    signature = hashlib.sha1(joined.encode()).hexdigest()  # noqa: S324 - WeChat's algorithm
    query = {"signature": signature, "timestamp": when, "nonce": nonce, **extra}
    return f"{EVENTS}?{urlencode(query)}"


def post(client: FlaskClient, path: str, body: Any = None) -> Any:
    """POST an event to a signed path."""
    return client.post(path, json=USER_ENTER if body is None else body)


def assert_refused(response: Any, code: int, error: str) -> None:
    """The push was refused in the contract's JSON shape."""
    assert response.status_code == code, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert_error_shape(response.get_json(), code, error)


def test_a_correct_signature_on_a_2001_timestamp_is_refused(client: FlaskClient) -> None:
    assert_refused(post(client, signed(YEAR_2001)), 403, "stale_request")
    echo = client.get(signed(YEAR_2001, echostr="4711"))
    assert_refused(echo, 403, "stale_request")


def test_timestamps_more_than_five_minutes_away_are_refused(
    client: FlaskClient, clock: Clock
) -> None:
    now = int(clock.now.timestamp())
    for timestamp in (now - 301, now + 301, "0", "99999999999999999999"):
        assert_refused(post(client, signed(timestamp)), 403, "stale_request")
    for timestamp in (now - 299, now + 299):
        assert post(client, signed(timestamp)).get_data(as_text=True) == "success"


def test_freshness_is_judged_by_the_apps_clock(client: FlaskClient, clock: Clock) -> None:
    path = signed()  # signed at the clock's present
    clock.advance(minutes=6)
    assert_refused(post(client, path), 403, "stale_request")


def test_a_fresh_push_is_accepted_once_and_its_nonce_never_again(client: FlaskClient) -> None:
    nonce = new_nonce()
    path = signed(nonce=nonce)
    accepted = post(client, path)
    assert accepted.status_code == 200
    assert accepted.get_data(as_text=True) == "success"
    # The very same query, and the same nonce under a new timestamp, are replays.
    assert_refused(post(client, path), 403, "replayed_request")
    later = int(utcnow().timestamp()) + 1
    assert_refused(post(client, signed(later, nonce=nonce)), 403, "replayed_request")
    # The URL check (GET) shares the rule.
    echo_path = signed(echostr="abc")
    assert client.get(echo_path).get_data(as_text=True) == "abc"
    assert_refused(client.get(echo_path), 403, "replayed_request")


def test_the_nonce_is_remembered_in_redis_for_longer_than_the_window(
    app: Flask, client: FlaskClient
) -> None:
    nonce = new_nonce()
    assert post(client, signed(nonce=nonce)).status_code == 200
    ttl = app.extensions["redis"].ttl(wechat_events.nonce_key(nonce))
    assert 2 * wechat_events.REPLAY_WINDOW_SECONDS < ttl <= 2 * 3600


def test_a_push_that_was_not_handled_gives_its_nonce_back(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # WeChat retries a push that failed: the retry must not be taken for a replay.
    path = signed()
    garbled = client.post(path, data=b"<xml>not json</xml>")
    assert_refused(garbled, 400, "bad_event")
    assert post(client, path).get_data(as_text=True) == "success"
    assert_refused(post(client, path), 403, "replayed_request")

    def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("database gone")

    monkeypatch.setattr(wechat_events, "handle_media_check", broken)
    monkeypatch.setitem(app.config, "PROPAGATE_UNEXPECTED", False)
    event = {"Event": "wxa_media_check", "trace_id": "t1", "result": {"suggest": "pass"}}
    path = signed()
    assert_refused(post(client, path, event), 500, "internal_error")
    monkeypatch.undo()
    assert post(client, path, event).get_data(as_text=True) == "success"


@pytest.mark.parametrize(
    "signature",
    [
        "签名" * 20,  # non-ASCII: compare_digest on str raised TypeError (500)
        "é" * 40,
        "\x00" * 40,  # NUL
        "0" * 39 + "\x00",
        "z" * 40,  # not hex
        "%FF%FE",  # not UTF-8 once decoded
        "0" * 400,  # too long
        "",
    ],
)
def test_malformed_signatures_are_4xx_in_the_contracts_shape(
    client: FlaskClient, signature: str
) -> None:
    query = urlencode(
        {"signature": signature, "timestamp": int(utcnow().timestamp()), "nonce": new_nonce()}
    )
    if signature == "%FF%FE":
        query = query.replace("%25FF%25FE", "%FF%FE")  # raw bytes, not an encoded "%"
    for response in (
        post(client, f"{EVENTS}?{query}"),
        client.get(f"{EVENTS}?{query}&echostr=1"),
    ):
        body = response.get_json()
        # A NUL may be refused before the view, by the app-wide check of the request's URL.
        if "\x00" in signature and response.status_code == 400:
            assert_refused(response, 400, body["error"])
        else:
            assert_refused(response, 403, "invalid_signature")


def test_a_signed_non_ascii_timestamp_is_refused_not_a_500(client: FlaskClient) -> None:
    # Arabic-Indic digits pass str.isdigit(); int() would even read them.
    arabic = "".join(chr(0x0660 + int(d)) for d in str(int(utcnow().timestamp())))
    assert_refused(post(client, signed(arabic)), 403, "stale_request")


def test_without_redis_pushes_are_refused_with_a_503_for_wechat_to_retry(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    down = redis.Redis(port=free_port(), socket_connect_timeout=0.5, socket_timeout=0.5)
    with monkeypatch.context() as patch:
        patch.setitem(app.extensions, "redis", down)
        response = post(client, signed())
        assert_refused(response, 503, "service_unavailable")
        assert response.headers["Retry-After"]
    down.close()
