"""Public answers served from each process's copy: no SQL while nothing changed, and never
an answer older than an edit or a payment committed by another process (another app here,
with its own copies, on the same PostgreSQL and Redis)."""

from __future__ import annotations

import pytest

from backend.api.public_cache import answer_cache
from tests.payments_support import notification, to_xml
from tests.permissions import Actors
from tests.spending_support import auth, fresh_need, spending_team
from tests.support import counting_queries

pytestmark = pytest.mark.usefixtures("demo", "live_server")


@pytest.fixture(scope="module")
def team(app) -> Actors:
    return spending_team(app, "PC")


@pytest.fixture(scope="module")
def donor(app) -> str:
    from tests.permissions import login

    return login(app.test_client(), "cache_donor")["token"]


@pytest.fixture
def other(make_app):
    """A second app: another process, with copies of its own."""
    return make_app()


def public_urls(need_id: int, fund_id: int, space: str) -> list[str]:
    return [
        f"/api/v1/needs/{need_id}",
        f"/api/v1/needs?fund_id={fund_id}",
        f"/api/v1/needs/{need_id}/ledger",
        f"/api/v1/funds/{fund_id}",
        f"/api/v1/funds/{fund_id}/ledger",
        f"/api/v1/spaces/{space}",
        "/api/v1/spaces",
        "/api/v1/regions",
    ]


def new_space(client, team: Actors, need_id: int) -> str:
    from backend.extensions import db
    from backend.funds.models import Fund

    with client.application.app_context():
        region_id = db.session.get(Fund, team.fund_id).region_id
    response = client.post(
        "/api/v1/spaces",
        json={"fund_id": team.fund_id, "name": "缓存测试驿站", "region_id": region_id,
              "address": "和园路 1 号", "need_ids": [need_id]},
        headers=auth(team.tokens["secretary"]),
    )  # fmt: skip
    assert response.status_code == 201, response.get_json()
    return response.get_json()["code"]


def test_a_second_read_runs_no_sql_and_revalidates_with_a_304(app, client, team) -> None:
    need_id = fresh_need(client, team)
    space = new_space(client, team, need_id)
    for url in public_urls(need_id, team.fund_id, space):
        client.get(url)  # a counter read the first time is made first (a new version)
        first = client.get(url)
        assert first.status_code == 200, (url, first.get_json())
        with counting_queries(app) as statements:
            again = client.get(url)
        assert statements == [], url
        assert again.get_data() == first.get_data()
        assert again.headers["ETag"] == first.headers["ETag"]
        assert again.headers["Cache-Control"] == "public, no-cache"
        assert client.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304


def test_an_edit_in_another_process_is_seen_at_the_next_read(app, client, team, other) -> None:
    need_id = fresh_need(client, team)
    space = new_space(client, team, need_id)
    url = f"/api/v1/spaces/{space}"
    assert client.get(url).get_json()["name"] == "缓存测试驿站"
    edited = other.test_client().patch(
        url, json={"name": "改名后的驿站"}, headers=auth(team.tokens["secretary"])
    )
    assert edited.status_code == 200, edited.get_json()
    assert client.get(url).get_json()["name"] == "改名后的驿站"


def test_a_payment_in_another_process_is_seen_at_the_next_read(
    app, client, team, donor, other
) -> None:
    need_id = fresh_need(client, team)
    urls = [f"/api/v1/needs/{need_id}", f"/api/v1/needs/{need_id}/ledger",
            f"/api/v1/funds/{team.fund_id}"]  # fmt: skip
    for url in urls:  # the need's counter is made at its first read
        client.get(url)
    before = {url: client.get(url).get_json() for url in urls}
    # The payment arrives at the other app, through the notification endpoint.
    theirs = other.test_client()
    order = theirs.post("/api/v1/donations", json={"amount_fen": 12_300, "need_id": need_id},
                        headers=auth(donor)).get_json()  # fmt: skip
    answer = theirs.post(
        "/api/v1/payments/wechat/notify",
        data=to_xml(notification(order["out_trade_no"], 12_300)),
        content_type="text/xml",
    )
    assert b"SUCCESS" in answer.get_data()
    detail = client.get(urls[0]).get_json()
    assert detail["raised_fen"] == before[urls[0]]["raised_fen"] + 12_300
    ledger = client.get(urls[1]).get_json()
    assert len(ledger["income"]["items"]) == len(before[urls[1]]["income"]["items"]) + 1
    fund = client.get(urls[2]).get_json()
    assert fund["raised_fen"] == before[urls[2]]["raised_fen"] + 12_300


def test_errors_are_not_kept_and_a_copy_does_not_outlive_max_age(app, client, team) -> None:
    from backend.api import public_cache

    assert client.get("/api/v1/needs/2147483647").status_code == 404
    with app.app_context():
        assert not any(key[0] == "/api/v1/needs/2147483647" for key in answer_cache()._copies)
    need_id = fresh_need(client, team)
    url = f"/api/v1/needs/{need_id}"
    client.get(url)
    with app.app_context():
        cache = answer_cache()
        for key, copy in list(cache._copies.items()):
            if key[0] == url:
                cache._copies[key] = public_cache.Copy(
                    copy.body, copy.headers, copy.etag, copy.versions,
                    copy.made_at - public_cache.MAX_AGE,
                )  # fmt: skip
    with counting_queries(app) as statements:
        assert client.get(url).status_code == 200
    assert statements, "an expired copy is made again"


def test_a_donors_own_list_is_kept_per_user_and_follows_their_orders(
    app, client, team, other
) -> None:
    from tests.permissions import login

    need_id = fresh_need(client, team)
    mine = login(client, "cache_own_a")["token"]
    theirs = login(client, "cache_own_b")["token"]
    url = "/api/v1/me/donations"
    assert client.get(url, headers=auth(mine)).get_json()["items"] == []
    first = client.get(url, headers=auth(mine))
    with counting_queries(app) as statements:
        again = client.get(url, headers=auth(mine))
    assert statements == []
    assert again.get_data() == first.get_data()
    assert again.headers["Cache-Control"] == "private, no-cache"
    assert "Authorization" in again.headers["Vary"]
    conditional = client.get(url, headers={**auth(mine), "If-None-Match": first.headers["ETag"]})
    assert conditional.status_code == 304
    assert conditional.headers["Cache-Control"] == "private, no-cache"
    # Another user never gets this copy; a bad token gets the 401, not a copy.
    assert client.get(url, headers=auth(theirs)).get_json()["items"] == []
    assert client.get(url, headers=auth(mine + "x")).status_code == 401
    # An order made in another process shows at the next read, then its payment, its close.
    order = other.test_client().post("/api/v1/donations", headers=auth(mine),
                                     json={"amount_fen": 800, "need_id": need_id}).get_json()  # fmt: skip
    items = client.get(url, headers=auth(mine)).get_json()["items"]
    assert [(i["id"], i["status"]) for i in items] == [(order["id"], "pending")]
    second = other.test_client().post("/api/v1/donations", headers=auth(mine),
                                      json={"amount_fen": 900, "need_id": need_id}).get_json()  # fmt: skip
    paid = other.test_client().post("/api/v1/payments/wechat/notify", content_type="text/xml",
                                    data=to_xml(notification(order["out_trade_no"], 800)))  # fmt: skip
    assert b"SUCCESS" in paid.get_data()
    items = client.get(url, headers=auth(mine)).get_json()["items"]
    assert [(i["id"], i["status"]) for i in items] == [
        (second["id"], "pending"), (order["id"], "paid")]  # fmt: skip
    from backend.donations.models import Donation
    from backend.donations.services import close_donation
    from backend.extensions import db

    with other.app_context():  # as the worker does once WeChat closed it
        close_donation(db.session.get(Donation, second["id"]))
        db.session.commit()
    items = client.get(url, headers=auth(mine)).get_json()["items"]
    assert items[0]["status"] == "closed"
    # A deleted account's copy is not served.
    assert client.delete("/api/v1/me", headers=auth(mine)).status_code == 204
    assert client.get(url, headers=auth(mine)).status_code == 401
