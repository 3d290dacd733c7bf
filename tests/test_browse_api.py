"""The public browse endpoints over the demo data: answers and errors."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from backend.demo import data
from backend.needs.models import PUBLIC_STATUSES
from tests.support import assert_error_shape

pytestmark = pytest.mark.usefixtures("demo")

PUBLIC = {s.value for s in PUBLIC_STATUSES}
PUBLIC_DEMO_NEEDS = [n for n in data.NEEDS if n["status"] in PUBLIC]


def all_items(client, url: str) -> list[dict]:
    """Follow `next_cursor` to the end."""
    items, cursor = [], None
    while True:
        sep = "&" if "?" in url else "?"
        page = client.get(url + (f"{sep}cursor={cursor}" if cursor else "")).get_json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def region_id(client, name: str) -> int:
    def walk(nodes):
        for node in nodes:
            if node["name"] == name:
                return node["id"]
            found = walk(node["children"])
            if found:
                return found
        return None

    return walk(client.get("/api/v1/regions").get_json())


def test_region_tree_has_four_levels_in_order(client) -> None:
    roots = client.get("/api/v1/regions").get_json()
    assert [r["name"] for r in roots] == [data.CITY["name"]]
    city = roots[0]
    assert city["level"] == "city"
    assert city["parent_id"] is None
    districts = city["children"]
    assert [d["name"] for d in districts] == [d["name"] for d in data.CITY["children"]]
    streets = [s for d in districts for s in d["children"]]
    communities = [c for s in streets for c in s["children"]]
    assert {s["level"] for s in streets} == {"street"}
    assert {c["level"] for c in communities} == {"community"}
    assert len(communities) == 8
    assert all(c["parent_id"] in {s["id"] for s in streets} for c in communities)


def test_need_list_shows_only_public_needs_newest_first(client) -> None:
    items = all_items(client, "/api/v1/needs?limit=7")
    assert len(items) == len(PUBLIC_DEMO_NEEDS)
    assert {i["title"] for i in items} == {n["title"] for n in PUBLIC_DEMO_NEEDS}
    assert {i["status"] for i in items} <= PUBLIC
    keys = [(i["published_at"], i["id"]) for i in items]
    assert keys == sorted(keys, reverse=True)
    first = items[0]
    expected_fields = {"id", "title", "category", "status", "region", "fund", "cover_url",
                       "goal_fen", "raised_fen", "donation_count", "percent",
                       "deadline"}  # fmt: skip
    assert expected_fields <= set(first)
    assert isinstance(first["goal_fen"], int)
    assert first["raised_fen"] == 0
    assert first["percent"] == 0


def test_drafts_and_submitted_needs_are_never_public(client, app) -> None:
    from backend.extensions import db
    from backend.needs.models import Need, NeedStatus

    with app.app_context():
        hidden = db.session.query(Need).filter(
            Need.status.in_([NeedStatus.DRAFT, NeedStatus.SUBMITTED])
        )
        hidden_ids = [n.id for n in hidden]
    assert len(hidden_ids) == 5
    listed = {i["id"] for i in all_items(client, "/api/v1/needs?limit=100")}
    assert not listed & set(hidden_ids)
    for need_id in hidden_ids:
        response = client.get(f"/api/v1/needs/{need_id}")
        assert response.status_code == 404
        assert_error_shape(response.get_json(), 404, "need_not_found")


def test_region_filter_includes_everything_below(client) -> None:
    district = data.CITY["children"][0]
    district_communities = {c["key"] for street in district["children"] for c in street["children"]}
    fund_keys = {f["key"] for f in data.FUNDS if f["community"] in district_communities}
    expected = {n["title"] for n in PUBLIC_DEMO_NEEDS if n["fund"] in fund_keys}
    rid = region_id(client, district["name"])
    got = {i["title"] for i in all_items(client, f"/api/v1/needs?region_id={rid}&limit=100")}
    assert got == expected
    assert 0 < len(got) < len(PUBLIC_DEMO_NEEDS)


@pytest.mark.parametrize(
    ("query", "predicate"),
    [
        ("category=elderly", lambda n: n["category"] == "elderly"),
        ("status=completed", lambda n: n["status"] == "completed"),
        ("category=education&status=fundraising",
         lambda n: n["category"] == "education" and n["status"] == "fundraising"),
    ],
)  # fmt: skip
def test_category_and_status_filters(client, query: str, predicate) -> None:
    expected = {n["title"] for n in PUBLIC_DEMO_NEEDS if predicate(n)}
    got = {i["title"] for i in all_items(client, f"/api/v1/needs?{query}&limit=3")}
    assert got == expected
    assert got


def test_fund_filter_and_title_search(client) -> None:
    fund_id = client.get("/api/v1/needs?limit=1").get_json()["items"][0]["fund"]["id"]
    by_fund = all_items(client, f"/api/v1/needs?fund_id={fund_id}")
    assert by_fund
    assert {i["fund"]["id"] for i in by_fund} == {fund_id}
    title = PUBLIC_DEMO_NEEDS[0]["title"]
    word = title[:3]
    found = all_items(client, f"/api/v1/needs?q={word}")
    assert title in {i["title"] for i in found}
    assert all(word in i["title"] for i in found)
    assert client.get("/api/v1/needs?q=%25%25").get_json()["items"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("region_id=abc", "region_id"),
        ("category=pets", "category"),
        ("status=draft", "status"),
        ("status=submitted", "status"),
        ("q=" + "长" * 51, "q"),
    ],
)
def test_bad_filters_are_422_naming_the_field(client, query: str, field: str) -> None:
    response = client.get(f"/api/v1/needs?{query}")
    assert response.status_code == 422
    body = response.get_json()
    assert_error_shape(body, 422, "validation_failed")
    assert field in body["errors"]


def test_unknown_region_filter_is_a_404(client) -> None:
    for url in ("/api/v1/needs?region_id=999999", "/api/v1/stats?region_id=999999",
                "/api/v1/spaces?region_id=999999"):  # fmt: skip
        response = client.get(url)
        assert response.status_code == 404
        assert_error_shape(response.get_json(), 404, "region_not_found")


def test_forged_and_foreign_cursors_are_400(client) -> None:
    page = client.get("/api/v1/needs?limit=2").get_json()
    cursor = page["next_cursor"]
    assert cursor
    tampered = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
    response = client.get(f"/api/v1/needs?limit=2&cursor={tampered}")
    assert response.status_code == 400
    assert_error_shape(response.get_json(), 400, "invalid_cursor")
    response = client.get("/api/v1/needs?cursor=not-a-cursor")
    assert_error_shape(response.get_json(), 400, "invalid_cursor")
    # A cursor from one filter is no good for another.
    response = client.get(f"/api/v1/needs?limit=2&category=elderly&cursor={cursor}")
    assert response.status_code == 400
    assert_error_shape(response.get_json(), 400, "cursor_mismatch")
    # A spaces cursor is not a needs cursor.
    spaces = client.get("/api/v1/spaces?limit=1").get_json()
    response = client.get(f"/api/v1/needs?cursor={spaces['next_cursor']}")
    assert_error_shape(response.get_json(), 400, "invalid_cursor")


def test_stale_cursor_is_400(client, clock) -> None:
    page = client.get("/api/v1/needs?limit=2").get_json()
    clock.advance(days=2)
    response = client.get(f"/api/v1/needs?limit=2&cursor={page['next_cursor']}")
    assert response.status_code == 400
    assert_error_shape(response.get_json(), 400, "cursor_expired")


def test_need_detail_shows_the_whole_need(client) -> None:
    item = next(
        i
        for i in all_items(client, "/api/v1/needs?status=fundraising")
        if i["title"]
        == next(n["title"] for n in PUBLIC_DEMO_NEEDS if n["filing_number"] and n["updates"])
    )
    spec = next(n for n in data.NEEDS if n["title"] == item["title"])
    need = client.get(f"/api/v1/needs/{item['id']}").get_json()
    assert need["story"] == spec["story"]
    assert [(b["item"], b["amount_fen"]) for b in need["budget_lines"]] == [
        tuple(line) for line in spec["budget_lines"]
    ]
    assert sum(b["amount_fen"] for b in need["budget_lines"]) == need["goal_fen"]
    assert need["beneficiary_count"] == spec["beneficiary_count"]
    assert need["foundation"]["name"] == data.FOUNDATION["name"]
    assert need["foundation_name"] == data.FOUNDATION["name"]
    assert need["filing_number"] == spec["filing_number"]
    assert len(need["updates"]) == len(spec["updates"])
    assert need["disclosure"]["state"] in ("ok", "due_soon")
    assert need["published_at"].endswith("+08:00")
    # Nothing personal is ever in the public page.
    assert "openid" not in str(need)
    assert "phone" not in str(need)


def test_unknown_need_and_fund_are_404(client) -> None:
    for url, error in (("/api/v1/needs/999999", "need_not_found"),
                       ("/api/v1/funds/999999", "fund_not_found"),
                       ("/api/v1/spaces/no-such-space", "space_not_found")):  # fmt: skip
        response = client.get(url)
        assert response.status_code == 404
        assert_error_shape(response.get_json(), 404, error)
    assert client.get("/api/v1/needs/abc").status_code == 404


def demo_money(app, fund_id: int | None = None) -> tuple[int, int, int]:
    """(raised net of refunds, disbursed, donations) in PostgreSQL: for a fund (its needs and
    pool), or for every public need of the city."""
    from backend.donations.models import Donation
    from backend.extensions import db
    from backend.needs.models import Need
    from backend.spending.models import Expense, ExpenseStatus

    with app.app_context():
        given = sa.select(sa.func.coalesce(sa.func.sum(Donation.net_fen), 0),
                          sa.func.count().filter(Donation.paid_at.is_not(None)))  # fmt: skip
        spent = sa.select(sa.func.coalesce(sa.func.sum(Expense.amount_fen), 0)).where(
            Expense.status == ExpenseStatus.DISBURSED
        )
        if fund_id is not None:
            given = given.where(Donation.fund_id == fund_id)
            spent = spent.where(Expense.fund_id == fund_id)
        else:
            public_needs = sa.select(Need.id).where(Need.public())
            given = given.where(Donation.need_id.in_(public_needs))
        raised, count = db.session.execute(given).one()
        return int(raised), int(db.session.scalar(spent)), int(count)


def test_fund_detail(client, app) -> None:
    items = all_items(client, "/api/v1/needs?limit=100")
    fund_id = items[0]["fund"]["id"]
    fund = client.get(f"/api/v1/funds/{fund_id}").get_json()
    spec = next(f for f in data.FUNDS if f["name"] == fund["name"])
    assert fund["foundation"]["name"] == data.FOUNDATION["name"]
    assert fund["committee_threshold_fen"] == spec["committee_threshold_fen"]
    assert fund["committee_threshold_fen"] >= 100000
    assert fund["need_count"] == sum(1 for i in items if i["fund"]["id"] == fund_id)
    raised, spent, _ = demo_money(app, fund_id)
    assert (fund["raised_fen"], fund["spent_fen"]) == (raised, spent)
    assert fund["balance_fen"] == raised - spent > 0


def test_spaces_list_and_detail(client) -> None:
    spaces = all_items(client, "/api/v1/spaces?limit=1")
    assert {s["code"] for s in spaces} == {s["code"] for s in data.SPACES}
    space = client.get(f"/api/v1/spaces/{spaces[0]['code']}").get_json()
    assert space["name"] == spaces[0]["name"]
    assert {n["status"] for n in space["needs"]} <= {"fundraising"}
    assert {n["fund"]["id"] for n in space["needs"]} <= {space["fund"]["id"]}
    district = data.CITY["children"][1]
    rid = region_id(client, district["name"])
    in_district = all_items(client, f"/api/v1/spaces?region_id={rid}")
    communities = {c["name"] for s in district["children"] for c in s["children"]}
    assert {s["region"]["name"] for s in in_district} <= communities


def test_stats_roll_up(client, app) -> None:
    stats = client.get("/api/v1/stats").get_json()
    assert stats["fund_count"] == len(data.FUNDS)
    assert stats["need_count"] == len(PUBLIC_DEMO_NEEDS)
    assert stats["space_count"] == len(data.SPACES)
    assert stats["beneficiary_count"] == sum(n["beneficiary_count"] for n in PUBLIC_DEMO_NEEDS)
    for status in PUBLIC:
        assert stats["needs_by_status"][status] == sum(
            1 for n in PUBLIC_DEMO_NEEDS if n["status"] == status
        )
    raised, spent, count = demo_money(app)
    assert (stats["raised_fen"], stats["spent_fen"], stats["donation_count"]) == (
        raised, spent, count)  # fmt: skip
    assert raised > spent > 0
    metrics = {t["metric"]: t for t in stats["targets"]}
    assert metrics["fund_count"]["actual"] == len(data.FUNDS)
    assert (
        metrics["fund_count"]["percent"] == len(data.FUNDS) * 100 // metrics["fund_count"]["target"]
    )
    community = data.CITY["children"][0]["children"][0]["children"][0]
    one = client.get(f"/api/v1/stats?region_id={region_id(client, community['name'])}").get_json()
    assert one["fund_count"] == 1
    assert one["region"]["name"] == community["name"]
    assert one["need_count"] < stats["need_count"]


def test_openapi_documents_every_endpoint(client) -> None:
    spec = client.get("/api/openapi.json").get_json()
    paths = set(spec["paths"])
    assert {"/api/v1/regions", "/api/v1/needs", "/api/v1/needs/{need_id}",
            "/api/v1/funds/{fund_id}", "/api/v1/spaces", "/api/v1/spaces/{code}",
            "/api/v1/stats"} <= paths  # fmt: skip
    error = spec["components"]["schemas"]["Error"]["properties"]
    assert {"code", "status", "error", "message", "errors"} <= set(error)
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    page = docs.get_data(as_text=True)
    assert "/api/docs-assets/swagger-ui-bundle.js" in page
    assets = client.get("/api/docs-assets/swagger-ui-bundle.js")
    assert assets.status_code == 200
    assert b"SwaggerUIBundle" in assets.get_data()
    assets.close()
