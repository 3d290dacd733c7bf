"""Disclosure deadlines (信息公开) flagged everywhere: on the need's page and in lists, on the
fund's page, and in the back office's list of duties, on Beijing days."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from backend.api.public_cache import answer_cache
from backend.needs.models import NeedStatus
from tests.permissions import Actors, check_matrix
from tests.support import assert_error_shape, counting_queries
from tests.test_update_photos import add_need, make_world, renew_tokens

pytestmark = pytest.mark.usefixtures("clean")

#: 10:00 on 5 January 2026 in Beijing
START = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
ALL_FUND_ROLES = {"secretary", "committee", "supervisor", "foundation_admin", "platform_admin"}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def world(app: Flask, client: FlaskClient, clock) -> Actors:
    clock.set(START)
    return make_world(app, client)


def move_to(app: Flask, clock, actors: Actors, instant: datetime) -> None:
    """Stand the clock at `instant`, with tokens valid then."""
    clock.set(instant)
    renew_tokens(app, actors)


def disclosure(client: FlaskClient, need_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/needs/{need_id}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["disclosure"]


def listed(client: FlaskClient, fund_id: int) -> dict[int, dict[str, Any]]:
    response = client.get(f"/api/v1/needs?fund_id={fund_id}&limit=100")
    assert response.status_code == 200, response.get_json()
    return {item["id"]: item for item in response.get_json()["items"]}


def overdue_count(client: FlaskClient, fund_id: int) -> int:
    response = client.get(f"/api/v1/funds/{fund_id}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["overdue_disclosure_count"]


def duties(client: FlaskClient, actors: Actors, query: str = "", actor: str = "secretary") -> list:
    response = client.get(f"/api/v1/funds/{actors.fund_id}/disclosures{query}",
                          headers=actors.headers(actor))  # fmt: skip
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["next_cursor"] is None
    return body["items"]


def post(client: FlaskClient, actors: Actors, need_id: int, kind: str) -> None:
    response = client.post(f"/api/v1/needs/{need_id}/updates",
                           json={"text": "本季度项目执行情况与资金使用情况公开。", "kind": kind},
                           headers=actors.headers("secretary"))  # fmt: skip
    assert response.status_code == 201, response.get_json()


def test_a_deadline_passes_at_beijing_midnight_everywhere(
    app: Flask, client: FlaskClient, world: Actors, clock
) -> None:
    nid = add_need(app, world.fund_id, "长期助餐项目", published_at=START)
    # Six months after publication; 23:59:59 on 5 July in Beijing is still in time.
    move_to(app, clock, world, utc("2026-07-05T15:59:59"))
    due_soon = {"state": "due_soon", "next_due": "2026-07-05", "last_disclosed_on": None}
    assert disclosure(client, nid) == due_soon
    item = listed(client, world.fund_id)[nid]
    assert item["disclosure"] == due_soon and item["disclosure_overdue"] is False
    assert overdue_count(client, world.fund_id) == 0
    assert duties(client, world) == [
        {"need_id": nid, "title": "长期助餐项目", "status": "fundraising", "state": "due_soon",
         "next_due": "2026-07-05", "last_disclosed_on": None, "days_overdue": 0},
    ]  # fmt: skip

    # Midnight in Beijing (16:00 UTC): overdue on every answer at once.
    clock.advance(seconds=1)
    assert disclosure(client, nid)["state"] == "overdue"
    assert listed(client, world.fund_id)[nid]["disclosure_overdue"] is True
    assert overdue_count(client, world.fund_id) == 1
    (duty,) = duties(client, world)
    assert (duty["state"], duty["days_overdue"]) == ("overdue", 1)
    clock.advance(days=2)
    assert duties(client, world)[0]["days_overdue"] == 3

    # Posted at 00:30 on 8 July in Beijing (still 7 July in UTC): disclosed on the 8th, the
    # next one due three months later.
    clock.set(utc("2026-07-07T16:30:00"))
    post(client, world, nid, "disclosure")
    assert disclosure(client, nid) == {
        "state": "ok", "next_due": "2026-10-08", "last_disclosed_on": "2026-07-08",
    }  # fmt: skip
    assert listed(client, world.fund_id)[nid]["disclosure_overdue"] is False
    assert overdue_count(client, world.fund_id) == 0
    assert duties(client, world) == []
    assert [d["need_id"] for d in duties(client, world, "?state=ok")] == [nid]


def test_six_months_then_every_three(app: Flask, client: FlaskClient, world: Actors, clock) -> None:
    nid = add_need(app, world.fund_id, "半年以上项目", published_at=START)
    # An early report does not bring the first deadline forward: six months first.
    move_to(app, clock, world, utc("2026-02-01T02:00:00"))
    post(client, world, nid, "progress")
    assert disclosure(client, nid)["next_due"] == "2026-07-05"
    # Beyond six months, every three months from the last report.
    move_to(app, clock, world, utc("2026-06-01T02:00:00"))
    post(client, world, nid, "disclosure")
    assert disclosure(client, nid) == {
        "state": "ok", "next_due": "2026-09-01", "last_disclosed_on": "2026-06-01",
    }  # fmt: skip
    move_to(app, clock, world, utc("2026-08-17T04:00:00"))  # 15 days left
    assert disclosure(client, nid)["state"] == "ok"
    clock.advance(days=1)  # 14 days left: due soon
    assert disclosure(client, nid)["state"] == "due_soon"
    assert [d["need_id"] for d in duties(client, world)] == [nid]
    move_to(app, clock, world, utc("2026-09-01T15:59:59"))
    assert disclosure(client, nid)["state"] == "due_soon"
    clock.advance(seconds=1)
    assert disclosure(client, nid)["state"] == "overdue"
    assert overdue_count(client, world.fund_id) == 1


def test_a_final_report_clears_the_duty_of_an_ended_need(
    app: Flask, client: FlaskClient, world: Actors, clock
) -> None:
    nid = add_need(app, world.fund_id, "已完成项目", published_at=START,
                   status=NeedStatus.COMPLETED, ended_at=utc("2026-07-20T02:00:00"))  # fmt: skip
    move_to(app, clock, world, utc("2026-10-20T15:59:59"))
    assert disclosure(client, nid) == {
        "state": "due_soon", "next_due": "2026-10-20", "last_disclosed_on": None,
    }  # fmt: skip
    clock.advance(seconds=1)
    assert disclosure(client, nid)["state"] == "overdue"
    assert overdue_count(client, world.fund_id) == 1
    # A progress note is no final report.
    post(client, world, nid, "progress")
    assert disclosure(client, nid)["state"] == "overdue"
    (duty,) = duties(client, world)
    assert (duty["status"], duty["days_overdue"], duty["last_disclosed_on"]) == (
        "completed", 1, "2026-10-21",
    )  # fmt: skip

    post(client, world, nid, "final")
    assert disclosure(client, nid) == {
        "state": "final_published", "next_due": None, "last_disclosed_on": "2026-10-21",
    }  # fmt: skip
    assert listed(client, world.fund_id)[nid]["disclosure_overdue"] is False
    assert overdue_count(client, world.fund_id) == 0
    assert duties(client, world) == []
    (done,) = duties(client, world, "?state=final_published")
    assert (done["need_id"], done["next_due"], done["days_overdue"]) == (nid, None, 0)


def test_the_duty_list_is_most_urgent_first_for_the_fund_public_needs_only(
    app: Flask, client: FlaskClient, world: Actors, clock
) -> None:
    # Published on different days of January: deadlines in July, in the same order.
    late = add_need(app, world.fund_id, "逾期十天", published_at=utc("2026-01-01T02:00:00"))
    later = add_need(app, world.fund_id, "逾期两天", published_at=utc("2026-01-09T02:00:00"))
    soon = add_need(app, world.fund_id, "即将到期", published_at=utc("2026-01-20T02:00:00"))
    add_need(app, world.fund_id, "期限尚远", published_at=utc("2026-03-01T02:00:00"))
    add_need(app, world.fund_id, "草稿不计", status=NeedStatus.DRAFT)
    add_need(app, world.other_fund_id, "别家逾期", published_at=utc("2026-01-01T02:00:00"))
    move_to(app, clock, world, utc("2026-07-11T04:00:00"))  # 11 July in Beijing

    items = duties(client, world)
    assert [(d["need_id"], d["state"], d["days_overdue"]) for d in items] == [
        (late, "overdue", 10), (later, "overdue", 2), (soon, "due_soon", 0),
    ]  # fmt: skip
    assert [d["need_id"] for d in duties(client, world, "?state=overdue")] == [late, later]
    assert overdue_count(client, world.fund_id) == 2
    assert overdue_count(client, world.other_fund_id) == 1

    # Paged one by one: the same order, nothing repeated.
    seen, cursor = [], None
    while True:
        query = f"?limit=1&cursor={cursor}" if cursor else "?limit=1"
        body = client.get(f"/api/v1/funds/{world.fund_id}/disclosures{query}",
                          headers=world.headers("committee")).get_json()  # fmt: skip
        seen += [d["need_id"] for d in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == [late, later, soon]

    first = client.get(f"/api/v1/funds/{world.fund_id}/disclosures?limit=1",
                       headers=world.headers("secretary")).get_json()  # fmt: skip
    other_state = client.get(
        f"/api/v1/funds/{world.fund_id}/disclosures?state=ok&cursor={first['next_cursor']}",
        headers=world.headers("secretary"),
    )
    assert_error_shape(other_state.get_json(), 400, "cursor_mismatch")
    bad_state = client.get(f"/api/v1/funds/{world.fund_id}/disclosures?state=late",
                           headers=world.headers("secretary"))  # fmt: skip
    assert bad_state.status_code == 422
    assert "state" in bad_state.get_json()["errors"]


def test_only_the_fund_roles_read_the_duty_list(client: FlaskClient, world: Actors) -> None:
    check_matrix(client, world, "GET", f"/api/v1/funds/{world.fund_id}/disclosures",
                 ALL_FUND_ROLES)  # fmt: skip
    missing = client.get("/api/v1/funds/999999/disclosures", headers=world.headers("secretary"))
    assert_error_shape(missing.get_json(), 404, "fund_not_found")


def test_flags_cost_no_query_per_need(
    app: Flask, client: FlaskClient, world: Actors, clock
) -> None:
    few = [add_need(app, world.fund_id, f"少量{i}", published_at=START) for i in range(2)]
    move_to(app, clock, world, utc("2026-03-01T02:00:00"))
    post(client, world, few[0], "progress")

    def queries(url: str) -> int:
        client.get(url)  # the first read of new needs' counters goes to PostgreSQL
        with app.app_context():
            answer_cache().clear()  # the answer made afresh, not this process's copy
        with counting_queries(app) as statements:
            assert client.get(url).status_code == 200
        return len(statements)

    urls = (f"/api/v1/needs?fund_id={world.fund_id}", f"/api/v1/funds/{world.fund_id}")
    before = [queries(url) for url in urls]
    for i in range(6):
        nid = add_need(app, world.fund_id, f"更多{i}", published_at=START)
        post(client, world, nid, "progress")
    assert len(listed(client, world.fund_id)) == 8
    assert [queries(url) for url in urls] == before


def test_the_openapi_document_shows_the_flags(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    assert "overdue_disclosure_count" in schemas["Fund"]["properties"]
    assert {"disclosure", "disclosure_overdue"} <= set(schemas["NeedItem"]["properties"])
    assert "disclosure" in schemas["NeedDetail"]["properties"]
    assert "/api/v1/funds/{fund_id}/disclosures" in spec["paths"]
