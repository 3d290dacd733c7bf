"""Roles and permissions: scoped grants, the command line, and the back-office matrix."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from backend.accounts.models import RoleGrant
from backend.extensions import db
from backend.funds.models import Foundation, Fund
from backend.needs.models import Need, NeedStatus
from tests.permissions import Actors, check_matrix, login, make_actors

pytestmark = pytest.mark.usefixtures("demo")


@pytest.fixture(scope="module")
def actors(app, demo) -> Actors:
    client = app.test_client()
    with app.app_context():
        # The fund under test has drafts; the other fund is any other.
        draft_fund_id = db.session.scalar(
            sa.select(Need.fund_id).where(Need.status == NeedStatus.DRAFT).limit(1)
        )
        fund = db.session.get(Fund, draft_fund_id)
        other_fund = db.session.scalar(sa.select(Fund).where(Fund.id != fund.id).limit(1))
        other_foundation = Foundation(name="另一家基金会", credit_code="53000000OTHER0001X",
                                      mch_id="1900000110")  # fmt: skip
        db.session.add(other_foundation)
        db.session.commit()
        return make_actors(app, client, fund, other_fund, other_foundation.id)


def test_fund_need_list_matrix(client, actors: Actors) -> None:
    check_matrix(
        client, actors, "GET", f"/api/v1/funds/{actors.fund_id}/needs",
        allowed={"secretary", "committee", "supervisor", "foundation_admin", "platform_admin"},
    )  # fmt: skip


def test_a_secretary_sees_their_own_drafts_and_nothing_of_another_fund(
    client, app, actors: Actors
) -> None:
    headers = actors.headers("secretary")
    mine = client.get(f"/api/v1/funds/{actors.fund_id}/needs", headers=headers).get_json()
    with app.app_context():
        expected = set(db.session.scalars(sa.select(Need.id).where(Need.fund_id == actors.fund_id)))
        drafts = set(db.session.scalars(sa.select(Need.id).where(
            Need.fund_id == actors.fund_id, Need.status == NeedStatus.DRAFT)))  # fmt: skip
    assert {n["id"] for n in mine["items"]} == expected
    assert drafts
    only_drafts = client.get(
        f"/api/v1/funds/{actors.fund_id}/needs?status=draft", headers=headers
    ).get_json()
    assert {n["id"] for n in only_drafts["items"]} == drafts
    other = client.get(f"/api/v1/funds/{actors.other_fund_id}/needs", headers=headers)
    assert other.status_code == 403
    assert "items" not in other.get_json()


def test_unknown_fund_is_404_and_bad_status_422(client, actors: Actors) -> None:
    headers = actors.headers("platform_admin")
    assert client.get("/api/v1/funds/999999/needs", headers=headers).status_code == 404
    bad = client.get(f"/api/v1/funds/{actors.fund_id}/needs?status=lost", headers=headers)
    assert bad.status_code == 422


def test_me_lists_roles(client, actors: Actors) -> None:
    me = client.get("/api/v1/me", headers=actors.headers("supervisor")).get_json()
    assert me["roles"] == [
        {"id": me["roles"][0]["id"], "role": "supervisor", "scope_type": "fund",
         "scope_id": actors.fund_id}
    ]  # fmt: skip


def test_roles_command_line(app, client, actors: Actors) -> None:
    runner = app.test_cli_runner()
    user = login(client, "cli_person")["user"]
    with app.app_context():
        from backend.accounts.models import User

        openid = db.session.get(User, user["id"]).openid
    granted = runner.invoke(args=["roles", "grant", openid, "committee", "--fund",
                                  str(actors.fund_id)])  # fmt: skip
    assert granted.exit_code == 0, granted.output
    assert "committee" in granted.output
    listed = runner.invoke(args=["roles", "list", "--fund", str(actors.fund_id)])
    assert f"user {user['id']}\tcommittee" in listed.output
    wrong_scope = runner.invoke(args=["roles", "grant", str(user["id"]), "committee",
                                      "--foundation", "1"])  # fmt: skip
    assert wrong_scope.exit_code != 0
    assert "--fund" in wrong_scope.output
    unknown = runner.invoke(args=["roles", "grant", "nobody-here", "committee", "--fund", "1"])
    assert unknown.exit_code != 0
    missing_fund = runner.invoke(args=["roles", "grant", str(user["id"]), "committee",
                                       "--fund", "999999"])  # fmt: skip
    assert missing_fund.exit_code != 0
    revoked = runner.invoke(args=["roles", "revoke", str(user["id"]), "committee", "--fund",
                                  str(actors.fund_id)])  # fmt: skip
    assert revoked.exit_code == 0, revoked.output
    with app.app_context():
        left = db.session.scalars(sa.select(RoleGrant).where(RoleGrant.user_id == user["id"]))
        assert left.all() == []
