"""Whatever a caller sends, the answer is a 4xx in the contract's shape and nothing is
logged as a failure: ids past a column's range, NUL characters, JSON that is too deep or
holds too long a number, bodies that are not JSON, over-long URLs, foreign field messages."""

from __future__ import annotations

import logging

import pytest
from flask.testing import FlaskClient

from tests.permissions import login
from tests.support import assert_error_shape

pytestmark = pytest.mark.usefixtures("demo")

BIG = 2**31  # one past PostgreSQL's integer
HUGE = 2**63  # one past bigint


@pytest.fixture(scope="module")
def user(app) -> dict[str, str]:
    """A logged-in resident's headers."""
    return {"Authorization": f"Bearer {login(app.test_client(), 'hostile_user')['token']}"}


def no_failure_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing at ERROR or above, and no traceback."""
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [r.getMessage() for r in bad]


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/funds/{BIG}",
        f"/api/v1/funds/{HUGE}",
        "/api/v1/funds/102205627644",
        f"/api/v1/needs/{BIG}",
        f"/api/v1/needs/{BIG}/progress",
        f"/api/v1/needs/{BIG}/ledger",
        f"/api/v1/funds/{BIG}/ledger",
        "/api/v1/funds/0",
        f"/api/v1/donations/{HUGE}",
    ],
)
def test_an_id_past_the_column_is_a_404(client: FlaskClient, url: str, caplog) -> None:
    response = client.get(url)
    assert response.status_code == 404, response.get_data(as_text=True)
    assert_error_shape(response.get_json(), 404, "not_found")
    no_failure_logged(caplog)


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/needs?region_id=288230376151711744", "region_id"),
        (f"/api/v1/needs?fund_id={BIG}", "fund_id"),
        (f"/api/v1/spaces?region_id={BIG}", "region_id"),
        (f"/api/v1/stats?region_id={BIG}", "region_id"),
    ],
)
def test_a_query_id_past_the_column_is_a_422(client: FlaskClient, url, field, caplog) -> None:
    response = client.get(url)
    assert response.status_code == 422
    body = response.get_json()
    assert_error_shape(body, 422, "validation_failed")
    assert field in body["errors"]
    # Field messages are Chinese too: the mini-program shows them beside the field.
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["errors"][field][0])
    no_failure_logged(caplog)


@pytest.mark.parametrize("body", [{"need_id": BIG, "amount_fen": 100},
                                  {"fund_id": HUGE, "amount_fen": 100},
                                  {"fund_id": 1, "amount_fen": HUGE}])  # fmt: skip
def test_a_body_id_or_amount_past_the_column_is_a_422(client, user, body, caplog) -> None:
    response = client.post("/api/v1/donations", json=body, headers=user)
    assert response.status_code == 422, response.get_json()
    assert_error_shape(response.get_json(), 422, "validation_failed")
    no_failure_logged(caplog)


@pytest.mark.parametrize(
    "url", ["/api/v1/needs?q=%00", "/api/v1/needs?q=a%00b", "/api/v1/spaces/%00",
            "/api/v1/spaces/a%00", "/api/v1/needs?%00=1"],
)  # fmt: skip
def test_a_nul_in_the_url_is_a_400(client: FlaskClient, url: str, caplog) -> None:
    response = client.get(url)
    assert response.status_code == 400
    assert_error_shape(response.get_json(), 400, "invalid_characters")
    no_failure_logged(caplog)


def test_a_nul_in_a_json_string_is_a_400(client, user, caplog) -> None:
    response = client.patch("/api/v1/me", json={"nickname": "a\x00b"}, headers=user)
    assert response.status_code == 400
    assert_error_shape(response.get_json(), 400, "invalid_characters")
    no_failure_logged(caplog)


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"need_id": 1, "amount_fen": ' + b"9" * 5000 + b"}",
        b"not json at all",
        b'{"amount_fen": 100',
        b"\xff\xfe\x00",
    ],
    ids=["deep", "long-integer", "text", "truncated", "not-utf8"],
)
def test_a_body_that_is_not_usable_json_is_a_400(client, user, raw: bytes, caplog) -> None:
    response = client.post("/api/v1/donations", data=raw, headers=user,
                           content_type="application/json")  # fmt: skip
    assert response.status_code == 400, response.get_data(as_text=True)[:200]
    body = response.get_json()
    assert_error_shape(body, 400, "invalid_json")
    assert isinstance(body["errors"], dict)  # the schema says object, never a list
    no_failure_logged(caplog)


def test_an_over_long_url_is_a_414_in_the_contract_shape(client: FlaskClient) -> None:
    response = client.get("/api/v1/needs?q=" + "a" * 5000)
    assert response.status_code == 414
    assert response.content_type == "application/json"
    assert_error_shape(response.get_json(), 414, "uri_too_long")


def test_an_unknown_field_is_named_in_chinese(client, user) -> None:
    response = client.post("/api/v1/donations", json={"fund_id": 1, "amount_fen": "x", "zz": 1},
                           headers=user)  # fmt: skip
    body = response.get_json()
    assert response.status_code == 422
    assert body["errors"]["zz"] == ["不支持的字段"]
    assert body["errors"]["amount_fen"] == ["须为整数"]
