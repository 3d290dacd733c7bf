"""Deleting an account: the donations stay for the accounts, with nothing left that names
or locates the donor."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from backend.common.models import IdempotencyKey
from backend.donations.models import Donation, PaymentNotification
from backend.extensions import db
from backend.ledger.models import JournalEntry
from backend.needs.models import Need, NeedStatus
from tests.payments_support import sandbox_pay, wait_deliveries
from tests.permissions import login

pytestmark = pytest.mark.usefixtures("demo", "live_server")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_deleting_the_account_pseudonymises_the_donations(client, app, wechat_sandbox) -> None:
    with app.app_context():
        need_id = db.session.scalar(
            sa.select(Need.id).where(Need.status == NeedStatus.FUNDRAISING).order_by(Need.id)
        )
    donor = login(client, "deleting_donor")
    token = donor["token"]
    client.patch("/api/v1/me", json={"nickname": "司马光"}, headers=auth(token))
    ordered = client.post(
        "/api/v1/donations",
        json={"need_id": need_id, "amount_fen": 3100, "message": "司马光祝早日完工"},
        headers={**auth(token), "Idempotency-Key": "deletion-test-1"},
    )
    assert ordered.status_code == 201, ordered.get_json()
    order = ordered.get_json()
    sandbox_pay(wechat_sandbox.url, order["out_trade_no"])
    assert wait_deliveries(wechat_sandbox.url, order["out_trade_no"])[0]["status"] == "succeeded"

    def ledger_row() -> dict:
        items = client.get(f"/api/v1/needs/{need_id}/ledger?limit=100").get_json()["income"]
        return next(i for i in items["items"] if i["id"] == order["id"])

    shown = ledger_row()
    assert (shown["donor"], shown["message"]) == ("司**", "司马光祝早日完工")
    with app.app_context():
        assert db.session.get(Donation, order["id"]).client_ip is not None

    assert client.delete("/api/v1/me", headers=auth(token)).status_code == 204

    row = ledger_row()
    assert row["donor"] == "爱心人士"
    assert not row["message"]
    assert row["amount_fen"] == 3100
    assert "司马" not in client.get(f"/api/v1/needs/{need_id}/ledger?limit=100").get_data(
        as_text=True
    )
    with app.app_context():
        donation = db.session.get(Donation, order["id"])
        assert donation.client_ip is None
        assert (donation.public_name, donation.message) == ("爱心人士", "")
        # What the accounts need stays: the order, its payment, the raw notification, the
        # journal entry.
        assert donation.amount_fen == 3100
        assert donation.status.value == "paid"
        assert donation.transaction_id
        notices = db.session.scalar(
            sa.select(sa.func.count()).select_from(PaymentNotification).where(
                PaymentNotification.out_trade_no == order["out_trade_no"])
        )  # fmt: skip
        assert notices == 1
        entries = db.session.scalar(
            sa.select(sa.func.count()).select_from(JournalEntry).where(
                JournalEntry.donation_id == order["id"])
        )  # fmt: skip
        assert entries == 1
        # The stored answer to the idempotent order repeated the name and message.
        kept = db.session.scalar(
            sa.select(sa.func.count()).select_from(IdempotencyKey).where(
                IdempotencyKey.user_id == donor["user"]["id"])
        )  # fmt: skip
        assert kept == 0
