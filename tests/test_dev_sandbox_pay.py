"""`POST /api/v1/dev/sandbox-pay`: the donor's own pending order paid through the WeChat
sandbox (development only), the notification delivered to the live app by the sandbox."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from backend.donations.models import Donation, DonationStatus
from backend.extensions import db
from backend.needs.models import Need, NeedStatus
from tests.payments_support import wait_deliveries
from tests.permissions import login
from tests.support import assert_error_shape
from tests.v3_support import both_pay_versions

pytestmark = pytest.mark.usefixtures("demo", "live_server")

URL = "/api/v1/dev/sandbox-pay"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def donor(app) -> dict:
    return login(app.test_client(), "sandbox_payer_wang")


def open_need_id(app) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(Need.id).where(Need.status == NeedStatus.FUNDRAISING).order_by(Need.id)
        )


def donate(client, token: str, amount_fen: int = 800) -> dict:
    response = client.post(
        "/api/v1/donations",
        json={"need_id": open_need_id(client.application), "amount_fen": amount_fen},
        headers=auth(token),
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@both_pay_versions
def test_the_owner_has_the_sandbox_pay_and_the_donation_becomes_paid(
    client, app, donor, wechat_sandbox
) -> None:
    order = donate(client, donor["token"])
    need_id = order["need_id"]
    before = client.get(f"/api/v1/needs/{need_id}/progress").get_json()

    response = client.post(
        URL, json={"out_trade_no": order["out_trade_no"]}, headers=auth(donor["token"])
    )
    assert response.status_code == 202, response.get_json()
    assert response.get_json() == {
        "id": order["id"],
        "out_trade_no": order["out_trade_no"],
        "status": "pending",
    }
    deliveries = wait_deliveries(wechat_sandbox.url, order["out_trade_no"])
    assert [d["status"] for d in deliveries] == ["succeeded"]

    donation = client.get(f"/api/v1/donations/{order['id']}", headers=auth(donor["token"]))
    assert donation.get_json()["status"] == "paid"
    assert donation.get_json()["paid_at"]
    after = client.get(f"/api/v1/needs/{need_id}/progress").get_json()
    assert after["raised_fen"] == before["raised_fen"] + order["amount_fen"]

    # Asked again: the order is paid, said plainly; nothing is paid twice.
    again = client.post(
        URL, json={"out_trade_no": order["out_trade_no"]}, headers=auth(donor["token"])
    )
    assert_error_shape(again.get_json(), 409, "donation_already_paid")
    with app.app_context():
        donation_row = db.session.scalar(
            sa.select(Donation).where(Donation.out_trade_no == order["out_trade_no"])
        )
        assert donation_row.status == DonationStatus.PAID


def test_someone_elses_or_an_unknown_order_is_not_found(client, app, donor) -> None:
    order = donate(client, donor["token"])
    other = login(client, "sandbox_payer_zhao")
    response = client.post(
        URL, json={"out_trade_no": order["out_trade_no"]}, headers=auth(other["token"])
    )
    assert_error_shape(response.get_json(), 404, "donation_not_found")
    unknown = client.post(
        URL, json={"out_trade_no": "LS20260101000000" + "0" * 16}, headers=auth(donor["token"])
    )
    assert_error_shape(unknown.get_json(), 404, "donation_not_found")
    with app.app_context():
        status = db.session.scalar(
            sa.select(Donation.status).where(Donation.out_trade_no == order["out_trade_no"])
        )
    assert status == DonationStatus.PENDING


def test_anonymous_callers_and_bad_input_are_refused(client, donor) -> None:
    order = donate(client, donor["token"])
    anonymous = client.post(URL, json={"out_trade_no": order["out_trade_no"]})
    assert_error_shape(anonymous.get_json(), 401, "unauthorized")
    for body in ({}, {"out_trade_no": ""}, {"out_trade_no": "<script>"}, {"out_trade_no": 7}):
        response = client.post(URL, json=body, headers=auth(donor["token"]))
        assert response.status_code == 422, (body, response.get_json())


def test_an_unreachable_sandbox_is_a_502(make_app, client, donor) -> None:
    order = donate(client, donor["token"])
    # the same database, a WeChat Pay base where nothing listens
    elsewhere = make_app({"WECHAT_PAY_API_BASE": "http://127.0.0.1:9/"})
    response = elsewhere.test_client().post(
        URL, json={"out_trade_no": order["out_trade_no"]}, headers=auth(donor["token"])
    )
    assert_error_shape(response.get_json(), 502, "sandbox_unavailable")


def test_the_route_does_not_exist_in_production(make_app, tmp_path) -> None:
    cert, key = tmp_path / "apiclient_cert.pem", tmp_path / "apiclient_key.pem"
    cert.write_text("cert")
    key.write_text("key")
    production = make_app(
        {
            "APP_ENV": "production",
            "PUBLIC_BASE_URL": "https://linshan.example.org",
            "WECHAT_APPID": "wx1234567890abcdef",
            "WECHAT_SECRET": "s" * 32,
            "WECHAT_MCH_ID": "1230000109",
            "WECHAT_PAY_KEY": "p" * 32,
            "WECHAT_MESSAGE_TOKEN": "pushtoken2026",
            "WECHAT_TEMPLATE_DONATION_PAID": "off",
            "WECHAT_TEMPLATE_MONEY_SPENT": "off",
            "WECHAT_MCH_CERT_PATH": str(cert),
            "WECHAT_MCH_KEY_PATH": str(key),
            "WECHAT_API_BASE": "",
            "WECHAT_PAY_API_BASE": "",
        }
    )
    assert production.config["SETTINGS"].production
    client = production.test_client()
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        response = client.post(URL, json={"out_trade_no": "LS" + "0" * 30}, headers=headers)
        assert_error_shape(response.get_json(), 404, "not_found")
    document = client.get("/api/openapi.json").get_json()
    assert not [path for path in document["paths"] if path.startswith("/api/v1/dev/")]


def test_the_route_is_documented_in_development(client) -> None:
    document = client.get("/api/openapi.json").get_json()
    operation = document["paths"][URL]["post"]
    assert "202" in operation["responses"]
