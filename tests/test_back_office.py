"""The back office: a need from draft to the end, fund settings, people, and the audit log."""

from __future__ import annotations

import itertools
from datetime import timedelta

import psycopg
import pytest
import sqlalchemy as sa

from backend.audit.models import AuditEvent
from backend.common.errors import DomainError, Kind
from backend.common.time import beijing_today, utcnow
from backend.extensions import db
from backend.funds.models import Fund
from backend.needs.backoffice import move_need
from backend.needs.models import ALLOWED_TRANSITIONS, Need, NeedCategory, NeedStatus
from tests.permissions import OUTSIDERS, Actors, actors_over_public_fund, check_matrix
from tests.support import assert_error_shape

pytestmark = pytest.mark.usefixtures("demo")

ALL_FUND_ROLES = {"secretary", "committee", "supervisor", "foundation_admin", "platform_admin"}


@pytest.fixture(scope="module")
def actors(app, demo) -> Actors:
    return actors_over_public_fund(app, "另一家基金会", "53000000OTHER0002X", "1900000111")


def draft_body(**changes) -> dict:
    body = {
        "title": "楼道声控灯更换",
        "category": "environment",
        "story": "和园小区老楼道的声控灯损坏过半，晚间上下楼不便，老人易摔倒。项目将更换声控灯。",
        "goal_fen": 360000,
        "deadline": (beijing_today() + timedelta(days=30)).isoformat(),
        "beneficiary_count": 210,
        "budget_lines": [
            {"item": "声控灯具", "amount_fen": 240000},
            {"item": "安装人工", "amount_fen": 120000},
        ],
    }
    body.update(changes)
    return body


def create_draft(client, actors: Actors, **changes) -> dict:
    response = client.post(f"/api/v1/funds/{actors.fund_id}/needs", json=draft_body(**changes),
                           headers=actors.headers("secretary"))  # fmt: skip
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_need_from_draft_to_completion_through_the_api(client, actors: Actors) -> None:
    sec, admin = actors.headers("secretary"), actors.headers("foundation_admin")
    need = create_draft(client, actors)
    assert need["status"] == "draft"
    assert sum(b["amount_fen"] for b in need["budget_lines"]) == need["goal_fen"]
    nid = need["id"]
    assert client.get(f"/api/v1/needs/{nid}").status_code == 404  # a draft is never public

    edited = client.patch(f"/api/v1/needs/{nid}", json={"title": "楼道声控灯全面更换"},
                          headers=sec)  # fmt: skip
    assert edited.status_code == 200
    assert edited.get_json()["title"] == "楼道声控灯全面更换"
    assert (
        client.post(f"/api/v1/needs/{nid}/submit", headers=sec).get_json()["status"] == "submitted"
    )

    # The fund raises publicly: no filing number, no publication.
    version = edited.get_json()["version"]
    refused = client.post(f"/api/v1/needs/{nid}/publish", json={"version": version},
                          headers=admin)  # fmt: skip
    assert refused.status_code == 422
    assert_error_shape(refused.get_json(), 422, "filing_number_required")
    published = client.post(f"/api/v1/needs/{nid}/publish",
                            json={"filing_number": "53330100MJ8820416T-2026-0999",
                                  "version": version}, headers=admin)  # fmt: skip
    assert published.status_code == 200
    assert published.get_json()["status"] == "fundraising"
    public = client.get(f"/api/v1/needs/{nid}").get_json()
    assert public["filing_number"] == "53330100MJ8820416T-2026-0999"
    listed = client.get("/api/v1/needs?q=声控灯全面").get_json()["items"]
    assert [i["id"] for i in listed] == [nid]

    # Published: the content is frozen.
    frozen = client.patch(f"/api/v1/needs/{nid}", json={"goal_fen": 1}, headers=sec)
    assert frozen.status_code in (409, 422)

    update = client.post(f"/api/v1/needs/{nid}/updates",
                         json={"text": "灯具已采购到位，下周开始安装。", "kind": "progress"},
                         headers=sec)  # fmt: skip
    assert update.status_code == 201
    assert (
        client.post(f"/api/v1/needs/{nid}/start", headers=sec).get_json()["status"] == "in_progress"
    )
    done = client.post(f"/api/v1/needs/{nid}/complete", headers=sec).get_json()
    assert done["status"] == "completed"
    assert done["ended_at"]
    again = client.post(f"/api/v1/needs/{nid}/start", headers=sec)
    assert again.status_code == 409
    assert_error_shape(again.get_json(), 409, "invalid_transition")

    # Every step is in the audit log, with who did it and from where.
    events = client.get(f"/api/v1/funds/{actors.fund_id}/audit?limit=100",
                        headers=actors.headers("supervisor")).get_json()["items"]  # fmt: skip
    mine = [e for e in events if e["object_type"] == "need" and e["object_id"] == nid]
    assert [e["action"] for e in reversed(mine)] == [
        "need.create", "need.update", "need.submit", "need.publish", "need.update_posted",
        "need.start", "need.complete",
    ]  # fmt: skip
    update_event = next(e for e in mine if e["action"] == "need.update")
    assert update_event["changes"] == {"title": ["楼道声控灯更换", "楼道声控灯全面更换"]}
    assert (
        next(e for e in mine if e["action"] == "need.publish")["actor_id"]
        == (actors.user_ids["foundation_admin"])
    )
    assert all(e["ip_address"] for e in mine)
    assert all(e["request_id"] for e in mine)


def test_returning_and_closing_need_reasons(client, actors: Actors) -> None:
    sec, admin = actors.headers("secretary"), actors.headers("foundation_admin")
    nid = create_draft(client, actors, title="退回测试项目")["id"]
    client.post(f"/api/v1/needs/{nid}/submit", headers=sec)
    no_reason = client.post(f"/api/v1/needs/{nid}/return", json={}, headers=admin)
    assert no_reason.status_code == 422
    back = client.post(f"/api/v1/needs/{nid}/return", json={"reason": "预算缺少发票依据，请补充"},
                       headers=admin)  # fmt: skip
    assert back.get_json()["status"] == "draft"
    closed = client.post(f"/api/v1/needs/{nid}/close", json={"reason": "需求已由街道统一解决"},
                         headers=sec)  # fmt: skip
    assert closed.get_json()["status"] == "closed"
    assert closed.get_json()["close_reason"] == "需求已由街道统一解决"
    events = client.get(f"/api/v1/funds/{actors.fund_id}/audit?limit=100",
                        headers=sec).get_json()["items"]  # fmt: skip
    reasons = {e["action"]: e["reason"] for e in events if e["object_id"] == nid}
    assert reasons["need.return"] == "预算缺少发票依据，请补充"
    assert reasons["need.close"] == "需求已由街道统一解决"


@pytest.mark.parametrize(
    ("changes", "error", "field"),
    [
        ({"goal_fen": 370000}, "budget_mismatch", "budget_lines"),
        ({"goal_fen": 3600.5}, "validation_failed", "goal_fen"),
        ({"goal_fen": "360000"}, "validation_failed", "goal_fen"),
        ({"budget_lines": []}, "validation_failed", "budget_lines"),
        ({"budget_lines": [{"item": "灯", "amount_fen": -1}]}, "validation_failed", "budget_lines"),
        ({"deadline": "2020-01-01"}, "invalid_deadline", "deadline"),
        ({"category": "pets"}, "validation_failed", "category"),
        ({"title": "x"}, "validation_failed", "title"),
        ({"story": "网上赌博平台推广，日赚千元，请大家踊跃参与这个项目。"}, "content_rejected", "story"),
        ({"image_ids": [999999]}, "invalid_images", "image_ids"),
    ],
)  # fmt: skip
def test_bad_drafts_are_refused_and_nothing_is_written(
    client, app, actors: Actors, changes: dict, error: str, field: str
) -> None:
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count()).select_from(Need))
        events_before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    response = client.post(f"/api/v1/funds/{actors.fund_id}/needs", json=draft_body(**changes),
                           headers=actors.headers("secretary"))  # fmt: skip
    assert response.status_code == 422
    body = response.get_json()
    assert_error_shape(body, 422, error)
    assert field in body["errors"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Need)) == before
        assert (
            db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == events_before
        )


@pytest.mark.parametrize(("source", "target"), list(itertools.product(NeedStatus, NeedStatus)))
def test_every_transition_is_allowed_or_refused(app, actors: Actors, source, target) -> None:
    with app.app_context():
        fund = db.session.get(Fund, actors.fund_id)
        need = Need(fund=fund, region_id=fund.region_id, category=NeedCategory.ELDERLY,
                    title="状态机测试", story="状态机测试用的项目。", goal_fen=1000, status=source,
                    published_at=utcnow(), ended_at=utcnow())  # fmt: skip
        db.session.add(need)
        db.session.flush()
        if target in ALLOWED_TRANSITIONS[source]:
            move_need(None, need, target, action="test.move", reason="测试原因")
            assert need.status == target
            event = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id.desc())).first()
            assert event.changes == {"status": [source.value, target.value]}
        else:
            with pytest.raises(DomainError) as caught:
                move_need(None, need, target, action="test.move")
            assert caught.value.kind == Kind.CONFLICT
            assert need.status == source
        db.session.rollback()


def test_permission_matrix_of_every_back_office_endpoint(client, app, actors: Actors) -> None:
    fid = actors.fund_id
    check_matrix(client, actors, "GET", f"/api/v1/funds/{fid}/needs", ALL_FUND_ROLES)
    check_matrix(client, actors, "GET", f"/api/v1/funds/{fid}/roles", ALL_FUND_ROLES)
    check_matrix(client, actors, "GET", f"/api/v1/funds/{fid}/audit", ALL_FUND_ROLES)
    check_matrix(client, actors, "POST", f"/api/v1/funds/{fid}/needs", {"secretary"},
                 json=draft_body(title="权限矩阵项目"))  # fmt: skip
    nid = create_draft(client, actors, title="权限矩阵项目二")["id"]
    check_matrix(client, actors, "GET", f"/api/v1/funds/{fid}/needs/{nid}", ALL_FUND_ROLES)
    check_matrix(client, actors, "PATCH", f"/api/v1/needs/{nid}", {"secretary"},
                 json={"beneficiary_count": 12}, unpublished=True)  # fmt: skip
    check_matrix(client, actors, "PATCH", f"/api/v1/funds/{fid}", {"foundation_admin",
                 "platform_admin"}, json={"committee_threshold_fen": 150000})  # fmt: skip
    # Moves: each allowed actor gets a need in the right state of its own.
    for action, allowed, setup in (
        ("submit", {"secretary"}, NeedStatus.DRAFT),
        ("publish", {"foundation_admin"}, NeedStatus.SUBMITTED),
        ("start", {"secretary", "foundation_admin"}, NeedStatus.FUNDED),
        ("complete", {"secretary", "foundation_admin"}, NeedStatus.IN_PROGRESS),
        ("close", {"secretary", "foundation_admin"}, NeedStatus.IN_PROGRESS),
        ("return", {"foundation_admin"}, NeedStatus.SUBMITTED),
        ("withdraw", {"secretary"}, NeedStatus.SUBMITTED),
    ):
        body = {"publish": {"filing_number": "53330100MJ8820416T-2026-0888", "version": 1},
                "close": {"reason": "权限测试的原因"},
                "return": {"reason": "权限测试的原因"}}.get(action)  # fmt: skip
        for actor in ("anonymous", "resident", "other_secretary", "committee", "supervisor",
                      "other_foundation_admin", "platform_admin", *sorted(allowed)):  # fmt: skip
            with app.app_context():
                fund = db.session.get(Fund, fid)
                need = Need(fund=fund, region_id=fund.region_id, category=NeedCategory.ELDERLY,
                            title="动作权限", story="动作权限测试用的项目。", goal_fen=1000,
                            status=setup, published_at=utcnow())  # fmt: skip
                db.session.add(need)
                db.session.commit()
                need_id = need.id
            response = client.post(f"/api/v1/needs/{need_id}/{action}", json=body,
                                   headers=actors.headers(actor))  # fmt: skip
            hidden = setup in (NeedStatus.DRAFT, NeedStatus.SUBMITTED) and actor in OUTSIDERS
            expected = (200 if actor in allowed else 401 if actor == "anonymous"
                        else 404 if hidden else 403)  # fmt: skip
            assert response.status_code == expected, (action, actor, response.get_json())
    public = client.get(f"/api/v1/needs/{nid}")
    assert public.status_code == 404


def test_fund_people_and_governance(client, app, actors: Actors) -> None:
    from tests.permissions import without_demo_team

    fid, admin = actors.fund_id, actors.headers("foundation_admin")
    without_demo_team(app, fid)
    roles = client.get(f"/api/v1/funds/{fid}/roles", headers=admin).get_json()
    governance = roles["governance"]
    assert governance["committee_count"] == 1
    assert governance["complete"] is False
    assert any("管委会" in p for p in governance["problems"])
    # Appoint four more committee members: five, odd, complete.
    from tests.permissions import login

    new_ids = [login(client, f"committee_member_{i}")["user"]["id"] for i in range(4)]
    grants = []
    for user_id in new_ids:
        response = client.post(f"/api/v1/funds/{fid}/roles",
                               json={"user_id": user_id, "role": "committee"}, headers=admin)  # fmt: skip
        assert response.status_code == 201, response.get_json()
        grants.append(response.get_json()["id"])
    public_fund = client.get(f"/api/v1/funds/{fid}").get_json()
    assert public_fund["governance"]["committee_count"] == 5
    assert public_fund["governance"]["complete"] is True
    assert "nickname" not in str(public_fund)
    bad_role = client.post(f"/api/v1/funds/{fid}/roles",
                           json={"user_id": new_ids[0], "role": "platform_admin"}, headers=admin)  # fmt: skip
    assert bad_role.status_code == 422
    unknown_user = client.post(f"/api/v1/funds/{fid}/roles",
                               json={"user_id": 999999, "role": "committee"}, headers=admin)  # fmt: skip
    assert unknown_user.status_code == 404
    removed = client.delete(f"/api/v1/funds/{fid}/roles/{grants[0]}", headers=admin)
    assert removed.status_code == 204
    assert client.get(f"/api/v1/funds/{fid}").get_json()["governance"]["complete"] is False
    other_fund_grant = client.delete(f"/api/v1/funds/{actors.other_fund_id}/roles/{grants[1]}",
                                     headers=actors.headers("platform_admin"))  # fmt: skip
    assert other_fund_grant.status_code == 404
    events = client.get(f"/api/v1/funds/{fid}/audit?limit=100", headers=admin).get_json()["items"]
    actions = [e["action"] for e in events]
    assert actions.count("role.grant") >= 4
    assert "role.revoke" in actions


def test_fund_settings_are_recorded(client, actors: Actors) -> None:
    fid, admin = actors.fund_id, actors.headers("foundation_admin")
    response = client.patch(f"/api/v1/funds/{fid}", json={"committee_threshold_fen": 250000},
                            headers=admin)  # fmt: skip
    assert response.status_code == 200
    assert response.get_json()["committee_threshold_fen"] == 250000
    assert client.patch(f"/api/v1/funds/{fid}", json={"committee_threshold_fen": -1},
                        headers=admin).status_code == 422  # fmt: skip
    events = client.get(f"/api/v1/funds/{fid}/audit", headers=admin).get_json()["items"]
    event = next(e for e in events if e["action"] == "fund.update")
    assert event["changes"]["committee_threshold_fen"][1] == 250000


def test_the_audit_log_cannot_be_changed(client, app, actors: Actors, database_url) -> None:
    sec = actors.headers("secretary")
    create_draft(client, actors, title="审计不可改测试")
    event_id = client.get(f"/api/v1/funds/{actors.fund_id}/audit?limit=1",
                          headers=sec).get_json()["items"][0]["id"]  # fmt: skip
    for method in ("PATCH", "PUT", "DELETE"):
        response = client.open(f"/api/v1/funds/{actors.fund_id}/audit", method=method, headers=sec)
        assert response.status_code == 405
    with psycopg.connect(database_url) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE audit_events SET action = 'forged' WHERE id = %s", (event_id,))
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM audit_events WHERE id = %s", (event_id,))
