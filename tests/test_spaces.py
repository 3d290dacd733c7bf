"""Charity spaces: opening and editing them (who may, what is checked, the audit log), the
needs a space shows, and what donations started from its codes brought in: its figures and
its place among its district's spaces."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from backend.audit.models import AuditEvent
from backend.extensions import db
from backend.funds.models import Fund
from backend.regions.models import Region
from backend.spaces.models import CharitySpace
from tests.permissions import Actors, check_matrix
from tests.spending_support import auth, evidence, fresh_need, give, spending_team
from tests.support import assert_error_shape

pytestmark = pytest.mark.usefixtures("demo", "live_server")


@pytest.fixture(scope="module")
def team(app) -> Actors:
    return spending_team(app, "SP")


@pytest.fixture(scope="module")
def donors(app) -> list[str]:
    from tests.permissions import login

    return [login(app.test_client(), f"space_donor{i}")["token"] for i in range(3)]


def fund_region(app, fund_id: int) -> Region:
    with app.app_context():
        region = db.session.get(Fund, fund_id).region
        db.session.expunge(region)
        return region


def new_space(client, team: Actors, who: str = "secretary", **body) -> dict:
    payload = {
        "fund_id": team.fund_id,
        "name": "和园社区爱心驿站",
        "region_id": fund_region(client.application, team.fund_id).id,
        "address": "和园路 18 号社区服务中心一楼",
        "opening_hours": "周一至周六 9:00–17:00",
        **body,
    }
    response = client.post("/api/v1/spaces", json=payload, headers=auth(team.tokens[who]))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_who_may_open_and_edit_a_space(app, client, team: Actors) -> None:
    region_id = fund_region(app, team.fund_id).id
    body = {"fund_id": team.fund_id, "name": "驿站", "region_id": region_id, "address": "某路 1 号"}
    statuses = check_matrix(
        client, team, "POST", "/api/v1/spaces", {"secretary", "foundation_admin"}, json=body
    )
    assert statuses["secretary"] == statuses["foundation_admin"] == 201
    code = new_space(client, team)["code"]
    check_matrix(client, team, "PATCH", f"/api/v1/spaces/{code}",
                 {"secretary", "foundation_admin"}, json={"name": "和园爱心驿站"})  # fmt: skip


def test_a_space_is_opened_with_a_photo_and_chosen_needs(app, client, team: Actors) -> None:
    first, second = fresh_need(client, team), fresh_need(client, team)
    (photo,) = evidence(client, team.tokens["secretary"])
    space = new_space(client, team, code="hy-test-01", photo_upload_id=photo,
                      need_ids=[second, first])  # fmt: skip
    assert space["code"] == "hy-test-01"
    assert [n["id"] for n in space["needs"]] == [second, first]
    assert space["figures"] == {"donation_count": 0, "raised_fen": 0, "donor_count": 0}
    # The photo is public now: anyone can open it.
    assert client.get(space["photo_url"]).status_code == 200
    scanned = client.get("/api/v1/spaces/hy-test-01").get_json()
    assert [n["id"] for n in scanned["needs"]] == [second, first]
    with app.app_context():
        events = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "space.create")
        ).all()
        created = next(e for e in events if e.changes["name"][1] == "和园社区爱心驿站")
        assert created.fund_id == team.fund_id


def test_a_generated_code_fits_a_scene(client, team: Actors) -> None:
    code = new_space(client, team)["code"]
    assert len(f"s={code}&n=2147483647") <= 32
    assert client.get(f"/api/v1/spaces/{code}").status_code == 200


def test_edits_change_what_is_named_and_are_audited(app, client, team: Actors) -> None:
    space = new_space(client, team)
    need = fresh_need(client, team)
    response = client.patch(
        f"/api/v1/spaces/{space['code']}",
        json={"opening_hours": "每天 8:00–20:00", "need_ids": [need]},
        headers=auth(team.tokens["foundation_admin"]),
    )
    assert response.status_code == 200, response.get_json()
    edited = response.get_json()
    assert edited["opening_hours"] == "每天 8:00–20:00"
    assert edited["name"] == space["name"]
    assert [n["id"] for n in edited["needs"]] == [need]
    with app.app_context():
        event = db.session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.action == "space.update")
            .order_by(AuditEvent.id.desc())
        ).first()
        assert set(event.changes) == {"opening_hours", "need_ids"}


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"code": "Bad Code"}, 422, "validation_failed"),
        ({"need_ids": [2147483647]}, 422, "invalid_need_ids"),
        ({"photo_upload_id": 2147483647}, 422, "invalid_photo_upload_id"),
    ],
)
def test_bad_spaces_are_refused_and_change_nothing(app, client, team: Actors, body, status,
                                                    error) -> None:  # fmt: skip
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count()).select_from(CharitySpace))
    response = client.post(
        "/api/v1/spaces",
        json={
            "fund_id": team.fund_id,
            "name": "驿站",
            "address": "某路 1 号",
            "region_id": fund_region(app, team.fund_id).id,
            **body,
        },
        headers=auth(team.tokens["secretary"]),
    )
    assert response.status_code == status, response.get_json()
    assert_error_shape(response.get_json(), status, error)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CharitySpace)) == before


def test_a_space_lies_in_its_funds_region_and_shows_its_funds_needs(app, client, team) -> None:
    with app.app_context():
        fund = db.session.get(Fund, team.fund_id)
        elsewhere = db.session.scalar(
            sa.select(Region.id).where(~Region.path.startswith(fund.region.path))
        )
        other_need = db.session.scalar(
            sa.text("SELECT id FROM needs WHERE fund_id = :f AND status = 'fundraising' LIMIT 1"),
            {"f": team.other_fund_id},
        )
    base = {"fund_id": team.fund_id, "name": "驿站", "address": "某路 1 号"}
    headers = auth(team.tokens["secretary"])
    outside = client.post("/api/v1/spaces", json={**base, "region_id": elsewhere}, headers=headers)
    assert_error_shape(outside.get_json(), 422, "invalid_region")
    if other_need is not None:
        foreign = client.post(
            "/api/v1/spaces",
            json={**base, "region_id": fund_region(app, team.fund_id).id, "need_ids": [other_need]},
            headers=headers,
        )
        assert_error_shape(foreign.get_json(), 422, "invalid_need_ids")


def test_a_taken_code_is_a_conflict_and_the_code_never_changes(client, team: Actors) -> None:
    code = new_space(client, team)["code"]
    again = client.post(
        "/api/v1/spaces",
        json={
            "fund_id": team.fund_id,
            "code": code,
            "name": "另一个驿站",
            "address": "某路 2 号",
            "region_id": fund_region(client.application, team.fund_id).id,
        },
        headers=auth(team.tokens["secretary"]),
    )
    assert_error_shape(again.get_json(), 409, "space_code_taken")
    renamed = client.patch(f"/api/v1/spaces/{code}", json={"code": "x-new"},
                           headers=auth(team.tokens["secretary"]))  # fmt: skip
    assert renamed.status_code == 422, renamed.get_json()


def test_donations_from_a_scan_count_for_the_space_and_rank_it(app, client, team, donors) -> None:
    need = fresh_need(client, team)
    busy = new_space(client, team, need_ids=[need])["code"]
    quiet = new_space(client, team, need_ids=[need])["code"]
    give(app, client, donors[0], 5_000, need_id=need, space_code=busy)
    give(app, client, donors[0], 1_000, need_id=need, space_code=busy)
    give(app, client, donors[1], 2_500, need_id=need, space_code=busy)
    give(app, client, donors[2], 300, need_id=need, space_code=quiet)
    give(app, client, donors[2], 700, need_id=need)  # not from a scan
    first = client.get(f"/api/v1/spaces/{busy}").get_json()
    second = client.get(f"/api/v1/spaces/{quiet}").get_json()
    assert first["figures"] == {"donation_count": 3, "raised_fen": 8_500, "donor_count": 2}
    assert second["figures"] == {"donation_count": 1, "raised_fen": 300, "donor_count": 1}
    # Ranked among every space of the district, computed here another way.
    with app.app_context():
        district_path = (
            "/".join(
                db.session.scalar(
                    sa.select(Region.path).join(CharitySpace).where(CharitySpace.code == busy)
                ).split("/")[:3]
            )
            + "/"
        )
        raised = dict(
            db.session.execute(
                sa.text(
                    "SELECT s.code, COALESCE(SUM(CASE WHEN d.paid_at IS NOT NULL"
                    " AND d.status IN ('paid', 'refunding', 'partially_refunded')"
                    " THEN d.amount_fen - d.refunded_fen END), 0)"
                    " FROM charity_spaces s JOIN regions r ON r.id = s.region_id"
                    " LEFT JOIN donations d ON d.space_id = s.id"
                    " WHERE r.path LIKE :p GROUP BY s.code"
                ),
                {"p": district_path + "%"},
            ).all()
        )
    for answer, code in ((first, busy), (second, quiet)):
        rank = answer["district_rank"]
        assert rank["of"] == len(raised)
        assert rank["rank"] == 1 + sum(1 for v in raised.values() if v > raised[code])
    assert first["district_rank"]["rank"] < second["district_rank"]["rank"]


def test_a_space_says_whether_it_chose_its_needs_and_which_photo(client, team: Actors) -> None:
    default = new_space(client, team)
    assert default["needs_chosen"] is False and default["photo_upload_id"] is None
    need = fresh_need(client, team)
    (photo,) = evidence(client, team.tokens["secretary"])
    chosen = new_space(client, team, need_ids=[need], photo_upload_id=photo)
    assert chosen["needs_chosen"] is True and chosen["photo_upload_id"] == photo


def test_the_list_filters_by_fund(app, client, team: Actors) -> None:
    ours = new_space(client, team)["code"]
    listed = client.get(f"/api/v1/spaces?fund_id={team.fund_id}&limit=100").get_json()["items"]
    assert ours in {s["code"] for s in listed}
    assert {s["fund"]["id"] for s in listed} == {team.fund_id}
    other = client.get(f"/api/v1/spaces?fund_id={team.other_fund_id}&limit=100").get_json()
    assert ours not in {s["code"] for s in other["items"]}


def test_my_funds_are_those_my_roles_cover(app, client, team: Actors) -> None:
    from backend.funds.models import Fund

    def mine(who: str) -> dict[int, list[str]]:
        response = client.get("/api/v1/me/funds", headers=auth(team.tokens[who]))
        assert response.status_code == 200, response.get_json()
        return {f["id"]: f["roles"] for f in response.get_json()}

    assert mine("secretary") == {team.fund_id: ["secretary"]}
    assert mine("resident") == {}
    with app.app_context():
        foundation_id = db.session.get(Fund, team.fund_id).foundation_id
        of_foundation = set(
            db.session.scalars(sa.select(Fund.id).where(Fund.foundation_id == foundation_id))
        )
        every_fund = set(db.session.scalars(sa.select(Fund.id)))
    admin = mine("foundation_admin")
    assert set(admin) == of_foundation and admin[team.fund_id] == ["foundation_admin"]
    assert set(mine("platform_admin")) == every_fund
    assert client.get("/api/v1/me/funds").status_code == 401


def test_another_editor_may_send_the_current_photo_back(client, team: Actors) -> None:
    (photo,) = evidence(client, team.tokens["secretary"])
    space = new_space(client, team, photo_upload_id=photo)
    kept = client.patch(
        f"/api/v1/spaces/{space['code']}",
        json={"name": "和园爱心驿站", "photo_upload_id": photo},
        headers=auth(team.tokens["foundation_admin"]),
    )
    assert kept.status_code == 200, kept.get_json()
    assert kept.get_json()["photo_upload_id"] == photo
    # A photo of someone else's that is not the space's own is still refused.
    (other,) = evidence(client, team.tokens["secretary"])
    refused = client.patch(
        f"/api/v1/spaces/{space['code']}",
        json={"photo_upload_id": other},
        headers=auth(team.tokens["foundation_admin"]),
    )
    assert_error_shape(refused.get_json(), 422, "invalid_photo_upload_id")
