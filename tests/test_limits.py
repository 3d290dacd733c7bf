"""Limits every request meets: body size, per-caller rates that hold for residents behind
one shared address, the pages' security headers, and no CORS."""

from __future__ import annotations

import io
import secrets

import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from backend.config import ConfigError, Settings
from backend.limits import MAX_BODY_BYTES
from backend.web.assets import asset_url
from tests.payments_support import notification, to_xml
from tests.permissions import login
from tests.support import assert_error_shape

SHARED_WIFI = {"REMOTE_ADDR": "198.51.100.7"}
ELSEWHERE = {"REMOTE_ADDR": "198.51.100.99"}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def clear_rate_limits(app) -> None:
    redis = app.extensions["redis"]
    for key in redis.scan_iter("lsr:*"):
        redis.delete(key)


# --- body size ---------------------------------------------------------------------------------


def test_a_json_body_over_the_limit_is_a_413_in_the_contracts_shape(client, app) -> None:
    token = login(client, "big_body")["token"]
    body = b'{"need_id": 1, "amount_fen": 100, "message": "' + b"x" * MAX_BODY_BYTES + b'"}'
    response = client.post(
        "/api/v1/donations", data=body, content_type="application/json", headers=auth(token)
    )
    assert response.status_code == 413
    assert_error_shape(response.get_json(), 413, "payload_too_large")
    assert response.get_json()["message"] == "请求内容过大"
    # Anonymous, on any route, even one that would not read the body: refused as well.
    response = client.patch("/api/v1/me", data=body, content_type="application/json")
    assert_error_shape(response.get_json(), 413, "payload_too_large")


def test_a_chunked_body_over_the_limit_is_refused_as_it_is_read(client) -> None:
    token = login(client, "chunked_body")["token"]
    body = b'{"nickname": "' + b"x" * MAX_BODY_BYTES + b'"}'
    response = client.patch(
        "/api/v1/me", input_stream=io.BytesIO(body), content_type="application/json",
        headers={**auth(token), "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},  # as gunicorn says of a chunked body
    )  # fmt: skip
    assert response.status_code == 413
    assert_error_shape(response.get_json(), 413, "payload_too_large")
    # Within the limit, the body read here is the one the view parses.
    small = io.BytesIO(b'{"nickname": "' + "分块".encode() + b'"}')
    response = client.patch(
        "/api/v1/me", input_stream=small, content_type="application/json",
        headers={**auth(token), "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )  # fmt: skip
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["nickname"] == "分块"


def test_a_body_just_under_the_limit_reaches_the_view(client) -> None:
    token = login(client, "big_enough")["token"]
    body = b'{"nickname": "' + b"x" * (MAX_BODY_BYTES - 100) + b'"}'
    response = client.patch("/api/v1/me", data=body, content_type="application/json",
                            headers=auth(token))  # fmt: skip
    assert response.status_code == 422  # the schema's own limit on a nickname, not 413


def test_an_upload_may_be_larger_than_any_json_body(client, app, clean) -> None:
    token = login(client, "big_photo")["token"]
    image = Image.frombytes("RGB", (700, 700), secrets.token_bytes(700 * 700 * 3))
    data = io.BytesIO()
    image.save(data, "PNG")
    assert data.tell() > MAX_BODY_BYTES * 2
    data.seek(0)
    # Encoded here in memory (the test client would spool a large body to a file it never
    # closes).
    boundary, body = encode_multipart({"file": FileStorage(data, "photo.png", "file")})
    response = client.post("/api/v1/uploads", data=body, headers=auth(token),
                           content_type=f"multipart/form-data; boundary={boundary}")  # fmt: skip
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["size"] > 0


def test_a_notification_over_its_bound_is_still_answered_in_xml(client) -> None:
    body = to_xml(notification("LS" + "0" * 30, 100, attach="x" * (MAX_BODY_BYTES + 10)))
    response = client.post("/api/v1/payments/wechat/notify", data=body)
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    assert "FAIL" in response.get_data(as_text=True)


# --- rates -------------------------------------------------------------------------------------


@pytest.fixture
def limited(make_app, app, clock):
    """An app allowing 5 calls a minute per user and 8 per anonymous address."""
    clear_rate_limits(app)
    yield make_app(
        {"RATE_LIMIT_USER_PER_MINUTE": "5", "RATE_LIMIT_ADDRESS_PER_MINUTE": "8"}
    ).test_client()
    clear_rate_limits(app)


def test_one_heavy_anonymous_client_does_not_lock_out_residents_on_the_same_wifi(
    limited, client, clock
) -> None:
    residents = [login(client, f"wifi_resident_{i}")["token"] for i in range(3)]
    heavy = [limited.get("/api/v1/regions", environ_base=SHARED_WIFI) for _ in range(9)]
    assert [r.status_code for r in heavy] == [200] * 8 + [429]
    refused = heavy[-1]
    assert_error_shape(refused.get_json(), 429, "rate_limited")
    assert refused.headers["Retry-After"] == "8"  # 60 s / 8 calls, rounded up
    # Logged in, each resident has a bucket of their own, wherever they call from.
    for token in residents:
        answers = [limited.get("/api/v1/me", headers=auth(token), environ_base=SHARED_WIFI)
                   for _ in range(5)]  # fmt: skip
        assert [r.status_code for r in answers] == [200] * 5
    # Another address is not touched by the shared one's cap.
    assert limited.get("/api/v1/regions", environ_base=ELSEWHERE).status_code == 200


def test_a_heavy_user_is_limited_wherever_they_call_from(limited, client, clock) -> None:
    heavy, neighbour = login(client, "heavy_user")["token"], login(client, "neighbour")["token"]
    codes = [
        limited.get("/api/v1/me", headers=auth(heavy), environ_base=where).status_code
        for where in (SHARED_WIFI, ELSEWHERE) * 3
    ]
    assert codes == [200] * 5 + [429]
    answer = limited.get("/api/v1/me", headers=auth(neighbour), environ_base=SHARED_WIFI)
    assert answer.status_code == 200
    # The bucket refills at the rate (one call every 12 s), and a refused call spends nothing.
    refused = limited.get("/api/v1/me", headers=auth(heavy))
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "12"
    clock.advance(seconds=11)
    assert limited.get("/api/v1/me", headers=auth(heavy)).status_code == 429
    clock.advance(seconds=1)
    assert limited.get("/api/v1/me", headers=auth(heavy)).status_code == 200
    assert limited.get("/api/v1/me", headers=auth(heavy)).status_code == 429


def test_a_bad_token_counts_against_the_address(limited, clock) -> None:
    forged = {"Authorization": "Bearer not-a-token"}
    codes = [limited.get("/api/v1/regions", headers=forged, environ_base=SHARED_WIFI).status_code
             for _ in range(9)]  # fmt: skip
    assert codes[-1] == 429 and codes.count(429) == 1


def test_a_clock_gone_back_does_not_lock_a_caller_out(limited, clock) -> None:
    for _ in range(8):
        limited.get("/api/v1/regions", environ_base=SHARED_WIFI)
    clock.advance(days=1)
    assert limited.get("/api/v1/regions", environ_base=SHARED_WIFI).status_code == 200
    clock.advance(days=-2)  # e.g. another node's clock behind: the bucket starts over
    assert limited.get("/api/v1/regions", environ_base=SHARED_WIFI).status_code == 200


def test_wechats_calls_and_the_ops_endpoints_are_never_limited(limited, clock) -> None:
    for _ in range(9):
        limited.get("/api/v1/regions", environ_base=SHARED_WIFI)
    assert limited.get("/api/v1/regions", environ_base=SHARED_WIFI).status_code == 429
    body = to_xml(notification("LS" + "1" * 30, 100), sign="0" * 32)
    for _ in range(3):
        answer = limited.post("/api/v1/payments/wechat/notify", data=body,
                              environ_base=SHARED_WIFI)  # fmt: skip
        assert answer.status_code == 200 and "FAIL" in answer.get_data(as_text=True)
    assert limited.get("/healthz", environ_base=SHARED_WIFI).status_code == 200


def test_the_public_pages_share_the_anonymous_cap(limited, clock) -> None:
    codes = [limited.get("/p/regions/987654", environ_base=SHARED_WIFI).status_code
             for _ in range(9)]  # fmt: skip
    assert codes == [404] * 8 + [429]


@pytest.mark.parametrize("name", ["RATE_LIMIT_USER_PER_MINUTE", "RATE_LIMIT_ADDRESS_PER_MINUTE"])
@pytest.mark.parametrize("raw", ["0", "-1", "many"])
def test_rate_settings_are_checked(name: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: raw})


# --- headers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/p/regions/987654", asset_url("site.css")])
def test_pages_and_assets_carry_the_security_headers(client, path: str) -> None:
    response = client.get(path)
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert "geolocation=()" in response.headers["Permissions-Policy"]
    assert "Strict-Transport-Security" not in response.headers  # plain http: not promised
    secure = client.get(path, base_url="https://linshan.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_a_page_forbids_framing_in_its_policy_too(client) -> None:
    policy = client.get("/p/regions/987654").headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v1/regions"), ("OPTIONS", "/api/v1/regions"), ("OPTIONS", "/api/v1/donations"),
     ("GET", "/p/regions/987654")],
)  # fmt: skip
def test_no_response_grants_cors(client, method: str, path: str) -> None:
    response = client.open(path, method=method, headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})  # fmt: skip
    names = [name for name, _ in response.headers.items()]
    assert names and not any(name.lower().startswith("access-control-") for name in names)


def test_a_busy_bucket_is_leased_yet_exact_at_its_limit(app) -> None:
    """A bucket called often takes its calls from Redis several at a time (far fewer round
    trips), still refuses the first call past its allowance, and a quiet bucket is asked
    every time."""
    from backend.common.ratelimit import take

    def evals() -> int:
        stats = app.extensions["redis"].info("commandstats")
        return sum(v["calls"] for k, v in stats.items() if k in ("cmdstat_evalsha", "cmdstat_eval"))

    with app.test_request_context():
        busy = f"test:busy:{secrets.token_hex(4)}"
        before = evals()
        answers = [take(busy, 120) for _ in range(120)]
        used = evals() - before
        assert answers == [0] * 120
        assert take(busy, 120) > 0  # the 121st within the minute: refused
        assert used < 40, used  # leases: a round trip for many calls, not one each
        quiet = f"test:quiet:{secrets.token_hex(4)}"
        before = evals()
        assert [take(quiet, 3) for _ in range(4)][:3] == [0, 0, 0]
        assert evals() - before >= 3  # a burst of three: one call at a time
        assert take(quiet, 3) > 0
