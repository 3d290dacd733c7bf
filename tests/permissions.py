"""The permission matrix: who may call a back-office endpoint, checked for every actor.

Actors log in through the WeChat sandbox like real users. Later endpoints reuse
`Actors` and `check_matrix` to prove that no scope leaks into another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from backend.accounts.models import Role
from backend.accounts.services import find_user, grant_role
from backend.extensions import db
from backend.funds.models import Foundation, Fund

#: everyone the matrix is checked for
ACTORS = (
    "anonymous",
    "resident",
    "secretary",
    "other_secretary",
    "committee",
    "supervisor",
    "foundation_admin",
    "other_foundation_admin",
    "platform_admin",
)


#: actors with no role over the fund the matrix is checked on
OUTSIDERS = frozenset({"resident", "other_secretary", "other_foundation_admin"})


def login(client: FlaskClient, name: str) -> dict[str, Any]:
    """Log in as sandbox user `name` (a fresh code each time); returns the login answer."""
    login.counter += 1  # type: ignore[attr-defined]
    response = client.post(
        "/api/v1/auth/wechat-login",
        json={"code": f"{name}.{login.counter}"},  # type: ignore[attr-defined]
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


login.counter = 0  # type: ignore[attr-defined]


@dataclass
class Actors:
    """Logged-in users holding each role over `fund` (and over another fund / foundation)."""

    fund_id: int
    other_fund_id: int
    tokens: dict[str, str | None] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)

    def headers(self, actor: str) -> dict[str, str]:
        """Authorization headers of `actor` (none for anonymous)."""
        token = self.tokens.get(actor)
        return {"Authorization": f"Bearer {token}"} if token else {}


def make_actors(app: Flask, client: FlaskClient, fund: Fund, other_fund: Fund,
                other_foundation_id: int) -> Actors:  # fmt: skip
    """Log every actor in and grant their roles; `other_fund` belongs to another scope."""
    actors = Actors(fund_id=fund.id, other_fund_id=other_fund.id)
    actors.tokens["anonymous"] = None
    grants = {
        "secretary": (Role.SECRETARY, fund.id),
        "other_secretary": (Role.SECRETARY, other_fund.id),
        "committee": (Role.COMMITTEE, fund.id),
        "supervisor": (Role.SUPERVISOR, fund.id),
        "foundation_admin": (Role.FOUNDATION_ADMIN, fund.foundation_id),
        "other_foundation_admin": (Role.FOUNDATION_ADMIN, other_foundation_id),
        "platform_admin": (Role.PLATFORM_ADMIN, None),
    }
    for actor in ACTORS[1:]:
        answer = login(client, f"matrix_{actor}")
        actors.tokens[actor] = answer["token"]
        actors.user_ids[actor] = answer["user"]["id"]
    with app.app_context():
        for actor, (role, scope_id) in grants.items():
            user = find_user(str(actors.user_ids[actor]))
            assert user is not None
            grant_role(user, role, scope_id)
        db.session.commit()
    return actors


def check_matrix(
    client: FlaskClient,
    actors: Actors,
    method: str,
    url: str,
    allowed: set[str],
    json: Any = None,
    ok: tuple[int, ...] = (200, 201, 204),
    unpublished: bool = False,
) -> dict[str, int]:
    """Call the endpoint as every actor: allowed ones succeed, others get 401 or 403; on an
    `unpublished` object, those with no role over its fund get 404, as if it did not exist."""
    statuses: dict[str, int] = {}
    for actor in ACTORS:
        response = client.open(url, method=method, json=json, headers=actors.headers(actor))
        statuses[actor] = response.status_code
        if actor in allowed:
            assert response.status_code in ok, (actor, response.get_json())
        elif actor == "anonymous":
            assert response.status_code == 401, (actor, response.get_json())
        elif unpublished and actor in OUTSIDERS:
            assert response.status_code == 404, (actor, response.get_json())
            assert response.get_json()["error"] == "need_not_found"
        else:
            assert response.status_code == 403, (actor, response.get_json())
    return statuses


def actors_over_public_fund(app: Flask, foundation_name: str, credit_code: str,
                            mch_id: str) -> Actors:  # fmt: skip
    """Every actor, over the first demo fund that raises publicly; `other_fund` is another
    demo fund, and the other foundation admin's foundation a new one with these details."""
    with app.app_context():
        funds = db.session.scalars(sa.select(Fund).order_by(Fund.id)).all()
        fund = next(f for f in funds if f.public_fundraising)
        other = next(f for f in funds if f.id != fund.id)
        other_foundation = Foundation(name=foundation_name, credit_code=credit_code,
                                      mch_id=mch_id)  # fmt: skip
        db.session.add(other_foundation)
        db.session.commit()
        return make_actors(app, app.test_client(), fund, other, other_foundation.id)


def without_demo_team(app: Flask, fund_id: int) -> None:
    """Take the demo people's roles over `fund_id` away, so a test starts from the fund's
    matrix actors alone."""
    from backend.accounts.models import RoleGrant, ScopeType, User

    with app.app_context():
        demo_users = sa.select(User.id).where(User.openid.like("demo:%"))
        db.session.execute(
            sa.delete(RoleGrant).where(
                RoleGrant.scope_type == ScopeType.FUND,
                RoleGrant.scope_id == fund_id,
                RoleGrant.user_id.in_(demo_users),
            )
        )
        db.session.commit()
