"""Spending test helpers: a fund's team, money given to a need or pool, evidence files, and
expenses walked through the API."""

from __future__ import annotations

import io
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from backend.accounts.models import Role, RoleGrant, ScopeType
from backend.accounts.services import find_user, grant_role
from backend.extensions import db
from backend.needs.models import Need, NeedStatus
from tests.payments_support import notification, to_xml
from tests.permissions import Actors, actors_over_public_fund, login
from tests.test_uploads import upload

#: extra people of the fund under test, beside the matrix's actors
TEAM = {
    "secretary2": Role.SECRETARY,
    "committee2": Role.COMMITTEE,
    "committee3": Role.COMMITTEE,
    "committee4": Role.COMMITTEE,
    "committee5": Role.COMMITTEE,
}


def auth(token: str | None) -> dict[str, str]:
    """Authorization headers for a token."""
    return {"Authorization": f"Bearer {token}"} if token else {}


def spending_team(app: Flask, code: str) -> Actors:
    """The matrix's actors over a demo fund that raises publicly, plus a second secretary
    and four more committee members: a committee of exactly five."""
    actors = actors_over_public_fund(app, f"测试基金会{code}", f"91370600TEST{code}", f"19{code}")
    client = app.test_client()
    for name in TEAM:
        answer = login(client, f"spend_{code}_{name}")
        actors.tokens[name] = answer["token"]
        actors.user_ids[name] = answer["user"]["id"]
    with app.app_context():
        # The committee is exactly these five (the demo's own members step down).
        ours = [actors.user_ids[n] for n in ("committee", *TEAM)]
        db.session.execute(
            sa.delete(RoleGrant).where(
                RoleGrant.role == Role.COMMITTEE,
                RoleGrant.scope_type == ScopeType.FUND,
                RoleGrant.scope_id == actors.fund_id,
                RoleGrant.user_id.not_in(ours),
            )
        )
        for name, role in TEAM.items():
            user = find_user(str(actors.user_ids[name]))
            assert user is not None
            grant_role(user, role, actors.fund_id)
        db.session.commit()
    return actors


def public_need(app: Flask, fund_id: int) -> int:
    """A need of the fund that is raising money."""
    with app.app_context():
        need_id = db.session.scalar(
            sa.select(Need.id)
            .where(Need.fund_id == fund_id, Need.status == NeedStatus.FUNDRAISING)
            .order_by(Need.id)
        )
        assert need_id is not None, "the demo fund has a fundraising need"
        return need_id


def give(app: Flask, client: FlaskClient, token: str, amount_fen: int, **target: Any) -> int:
    """A donation of `amount_fen` to `need_id=` or `fund_id=`, ordered through the API and
    paid by a signed notification through the real payment path; its id."""
    from backend.donations.services import apply_payment
    from backend.payments.wechat_pay import parse_notification

    response = client.post(
        "/api/v1/donations", json={"amount_fen": amount_fen, **target}, headers=auth(token)
    )
    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    with app.app_context():
        body = to_xml(notification(order["out_trade_no"], amount_fen))
        outcome = apply_payment(parse_notification(body, app.config["SETTINGS"]))
        assert outcome.applied, outcome
        db.session.commit()
    return order["id"]


def png(colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A small PNG photo of one colour."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, "PNG")
    return out.getvalue()


def evidence(client: FlaskClient, token: str, count: int = 1) -> list[int]:
    """Upload `count` photos as `token`'s user; their ids."""
    ids = []
    for i in range(count):
        response = upload(client, auth(token), png((10 * i, 80, 160)), name=f"invoice{i}.png")
        assert response.status_code == 201, response.get_json()
        ids.append(response.get_json()["id"])
    return ids


def submit(client: FlaskClient, actors: Actors, amount_fen: int, who: str = "secretary2",
           **body: Any) -> Any:  # fmt: skip
    """POST an expense to the team's fund as `who` (with one photo of evidence)."""
    token = actors.tokens[who]
    payload = {
        "amount_fen": amount_fen,
        "payee_name": "张三丰",
        "payee_type": "person",
        "purpose": "购买助老餐具一批",
        "attachment_ids": evidence(client, token),
        **body,
    }
    return client.post(
        f"/api/v1/funds/{actors.fund_id}/expenses", json=payload, headers=auth(token)
    )


def decide(client: FlaskClient, actors: Actors, expense_id: int, who: str,
           decision: str = "approve", comment: str = "同意") -> Any:  # fmt: skip
    """POST an approval or rejection as `who`."""
    return client.post(
        f"/api/v1/expenses/{expense_id}/{decision}",
        json={"comment": comment},
        headers=auth(actors.tokens[who]),
    )


def disburse(client: FlaskClient, actors: Actors, expense_id: int,
             who: str = "foundation_admin", voucher_no: str = "PZ-2026-001") -> Any:  # fmt: skip
    """POST the disbursement as `who` with one photo of the bank receipt."""
    token = actors.tokens[who]
    return client.post(
        f"/api/v1/expenses/{expense_id}/disburse",
        json={"voucher_no": voucher_no, "attachment_ids": evidence(client, token)},
        headers=auth(token),
    )


def fresh_need(client: FlaskClient, actors: Actors, goal_fen: int = 100_000) -> int:
    """A new need of the team's fund, drafted, submitted and published through the API: an
    account holding nothing yet."""
    secretary, admin = auth(actors.tokens["secretary"]), auth(actors.tokens["foundation_admin"])
    draft = client.post(
        f"/api/v1/funds/{actors.fund_id}/needs",
        json={
            "title": "楼道扶手加装",
            "category": "elderly",
            "story": "老旧小区楼道没有扶手，老人上下楼不便，计划为三个单元加装不锈钢扶手。",
            "goal_fen": goal_fen,
            "budget_lines": [{"item": "扶手材料与安装", "amount_fen": goal_fen}],
        },
        headers=secretary,
    )
    assert draft.status_code == 201, draft.get_json()
    need_id = draft.get_json()["id"]
    submitted = client.post(f"/api/v1/needs/{need_id}/submit", headers=secretary)
    assert submitted.status_code == 200, submitted.get_json()
    published = client.post(
        f"/api/v1/needs/{need_id}/publish",
        json={"filing_number": "53370600MJD1234567A", "version": submitted.get_json()["version"]},
        headers=admin,
    )
    assert published.status_code == 200, published.get_json()
    return need_id
