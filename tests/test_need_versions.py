"""A submitted need is frozen; publication names the version reviewed; the reviewer sees
what changed since the previous submission."""

from __future__ import annotations

import pytest

from tests.permissions import Actors, actors_over_public_fund, check_matrix
from tests.support import assert_error_shape
from tests.test_back_office import create_draft

pytestmark = pytest.mark.usefixtures("demo")

FILING = "53330100MJ8820416T-2026-0777"


@pytest.fixture(scope="module")
def actors(app, demo) -> Actors:
    """Every role over a fund that raises publicly (and over another fund and foundation)."""
    return actors_over_public_fund(app, "版本测试基金会", "53000000VERS0003X", "1900000222")


def detail(client, actors: Actors, nid: int) -> dict:
    response = client.get(f"/api/v1/funds/{actors.fund_id}/needs/{nid}",
                          headers=actors.headers("foundation_admin"))  # fmt: skip
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def post(client, actors: Actors, nid: int, action: str, actor: str, json=None):
    return client.post(f"/api/v1/needs/{nid}/{action}", json=json, headers=actors.headers(actor))


def audit_actions(client, actors: Actors, nid: int) -> list[str]:
    events = client.get(f"/api/v1/funds/{actors.fund_id}/audit?limit=100",
                        headers=actors.headers("supervisor")).get_json()["items"]  # fmt: skip
    return [e["action"] for e in reversed(events) if e["object_id"] == nid
            and e["object_type"] == "need"]  # fmt: skip


def test_a_submitted_need_is_frozen_until_withdrawn(client, actors: Actors) -> None:
    sec = actors.headers("secretary")
    nid = create_draft(client, actors, title="冻结测试项目")["id"]
    assert post(client, actors, nid, "submit", "secretary").status_code == 200

    frozen = client.patch(f"/api/v1/needs/{nid}", json={"goal_fen": 999900,
                          "budget_lines": [{"item": "全部", "amount_fen": 999900}]},
                          headers=sec)  # fmt: skip
    assert frozen.status_code == 409
    assert_error_shape(frozen.get_json(), 409, "need_not_editable")
    assert "撤回" in frozen.get_json()["message"]
    assert detail(client, actors, nid)["goal_fen"] == 360000

    withdrawn = post(client, actors, nid, "withdraw", "secretary")
    assert withdrawn.status_code == 200
    assert withdrawn.get_json()["status"] == "draft"
    again = post(client, actors, nid, "withdraw", "secretary")
    assert_error_shape(again.get_json(), 409, "invalid_transition")
    edited = client.patch(f"/api/v1/needs/{nid}", json={"beneficiary_count": 300}, headers=sec)
    assert edited.status_code == 200
    assert edited.get_json()["beneficiary_count"] == 300
    assert audit_actions(client, actors, nid) == [
        "need.create", "need.submit", "need.withdraw", "need.update",
    ]  # fmt: skip


def test_only_the_secretary_withdraws(client, app, actors: Actors) -> None:
    nid = create_draft(client, actors, title="撤回权限项目")["id"]
    assert post(client, actors, nid, "submit", "secretary").status_code == 200
    check_matrix(client, actors, "POST", f"/api/v1/needs/{nid}/withdraw", {"secretary"},
                 unpublished=True)  # fmt: skip


def test_publishing_names_the_version_reviewed(client, actors: Actors) -> None:
    sec = actors.headers("secretary")
    need = create_draft(client, actors, title="版本测试项目")
    nid = need["id"]
    assert need["version"] == 1
    same = client.patch(f"/api/v1/needs/{nid}", json={"title": "版本测试项目"}, headers=sec)
    assert same.get_json()["version"] == 1  # nothing changed, no new version
    post(client, actors, nid, "submit", "secretary")
    reviewed = detail(client, actors, nid)["version"]
    assert reviewed == 1

    # The secretary withdraws, raises the goal and resubmits while the admin reviews.
    post(client, actors, nid, "withdraw", "secretary")
    changed = client.patch(f"/api/v1/needs/{nid}", json={"goal_fen": 480000, "budget_lines": [
        {"item": "声控灯具", "amount_fen": 360000}, {"item": "安装人工", "amount_fen": 120000}]},
        headers=sec)  # fmt: skip
    assert changed.get_json()["version"] == 2
    post(client, actors, nid, "submit", "secretary")

    missing = post(client, actors, nid, "publish", "foundation_admin",
                   json={"filing_number": FILING})  # fmt: skip
    assert missing.status_code == 422
    assert "version" in missing.get_json()["errors"]
    stale = post(client, actors, nid, "publish", "foundation_admin",
                 json={"filing_number": FILING, "version": reviewed})  # fmt: skip
    assert stale.status_code == 409
    assert_error_shape(stale.get_json(), 409, "need_changed")
    assert detail(client, actors, nid)["status"] == "submitted"

    current = detail(client, actors, nid)
    assert current["version"] == 2
    published = post(client, actors, nid, "publish", "foundation_admin",
                      json={"filing_number": FILING, "version": current["version"]})  # fmt: skip
    assert published.status_code == 200, published.get_json()
    assert published.get_json()["status"] == "fundraising"
    assert published.get_json()["goal_fen"] == 480000


def test_the_reviewer_sees_what_changed_since_the_last_submission(client, actors: Actors) -> None:
    sec = actors.headers("secretary")
    nid = create_draft(client, actors, title="差异测试项目")["id"]
    assert detail(client, actors, nid)["changes_since_submission"] is None
    post(client, actors, nid, "submit", "secretary")
    assert detail(client, actors, nid)["changes_since_submission"] is None  # first submission

    returned = post(client, actors, nid, "return", "foundation_admin",
                    json={"reason": "标题不够具体，请修改"})  # fmt: skip
    assert returned.get_json()["changes_since_submission"] == {}
    for body in (
        {"title": "差异测试项目甲"},
        {"title": "差异测试项目乙", "beneficiary_count": 99},
        {"beneficiary_count": 210},  # back to what was submitted: no difference
        {"goal_fen": 400000, "budget_lines": [{"item": "声控灯具", "amount_fen": 280000},
                                              {"item": "安装人工", "amount_fen": 120000}]},
    ):  # fmt: skip
        assert client.patch(f"/api/v1/needs/{nid}", json=body, headers=sec).status_code == 200
    assert set(detail(client, actors, nid)["changes_since_submission"]) == {
        "title", "goal_fen", "budget_lines",
    }  # fmt: skip
    post(client, actors, nid, "submit", "secretary")

    changes = detail(client, actors, nid)["changes_since_submission"]
    assert changes == {
        "title": ["差异测试项目", "差异测试项目乙"],
        "goal_fen": [360000, 400000],
        "budget_lines": [[["声控灯具", 240000], ["安装人工", 120000]],
                         [["声控灯具", 280000], ["安装人工", 120000]]],
    }  # fmt: skip
