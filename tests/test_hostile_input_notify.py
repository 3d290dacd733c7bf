"""The unauthenticated notification endpoint under hostile input: bounded storage, bounded
logs, no 500 on odd text, and the XML contract in the served OpenAPI document."""

from __future__ import annotations

import logging
import random
import re
import secrets
from datetime import datetime

import pytest
import redis
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from backend.common.time import BEIJING
from backend.donations.models import Donation, DonationStatus, PaymentNotification
from backend.extensions import db
from backend.needs.models import Need, NeedStatus
from tests.conftest import free_port
from tests.payments_support import notification, to_xml
from tests.permissions import login

pytestmark = pytest.mark.usefixtures("demo")

NOTIFY = "/api/v1/payments/wechat/notify"
#: the bound on a rejected notification's stored excerpt (characters of the decoded body)
EXCERPT_BOUND = 512
FAIL = "<return_code><![CDATA[FAIL]]></return_code>"
SUCCESS = "<return_code><![CDATA[SUCCESS]]></return_code>"


def post(client: FlaskClient, body: bytes, address: str):
    """POST a notification as if it came from `address`."""
    return client.post(
        NOTIFY, data=body, content_type="text/xml", environ_base={"REMOTE_ADDR": address}
    )


def rejected_rows(app: Flask, address: str) -> list[sa.Row]:
    """The rejected-notification tallies kept for `address` (raw SQL: no model needed)."""
    with app.app_context():
        rows = db.session.execute(
            sa.text(
                "SELECT day, kind, reason, remote_addr, count, first_seen, last_seen, excerpt"
                " FROM rejected_notifications WHERE remote_addr = :address ORDER BY reason, day"
            ),
            {"address": address},
        ).all()
        db.session.remove()
        return rows


def stored_notifications(app: Flask) -> int:
    """How many notifications are kept whole."""
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(PaymentNotification))
        db.session.remove()
        return count


def random_body(rng: random.Random) -> bytes:
    """Something an anonymous sender might post: noise, broken XML, or a forged notice."""
    choice = rng.randrange(4)
    if choice == 0:
        return rng.randbytes(rng.randrange(0, 3000))  # NUL bytes and invalid UTF-8 included
    if choice == 1:
        return b"<xml><return_code>" + rng.randbytes(rng.randrange(1, 600)) + b"</xml"
    out_trade_no = "LS" + secrets.token_hex(15)
    if choice == 2:
        fields = notification(out_trade_no, rng.randrange(1, 10**6), attach="x" * 700)
        return to_xml(fields, sign=secrets.token_hex(16).upper())
    return to_xml(notification(out_trade_no, 100, return_code="FAIL"), sign="0" * 32)


def test_a_flood_of_forged_notifications_from_one_address_stays_bounded(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    address = "198.51.100.77"
    rng = random.Random(20261123)
    before = stored_notifications(app)
    bodies = [random_body(rng) for _ in range(1000)]
    with caplog.at_level(logging.INFO):
        for body in bodies:
            response = post(client, body, address)
            assert response.status_code == 200
            assert FAIL in response.get_data(as_text=True)
    rows = rejected_rows(app, address)
    # One row per reason (all on one Beijing day), however many bodies came.
    reasons = {row.reason for row in rows}
    assert 1 <= len(rows) == len(reasons) <= 5
    assert sum(row.count for row in rows) == 1000
    assert all(len(row.excerpt) <= EXCERPT_BOUND for row in rows)
    assert all("\x00" not in row.excerpt for row in rows)
    assert all(row.first_seen <= row.last_seen for row in rows)
    # Nothing of the flood is kept whole.
    assert stored_notifications(app) == before
    # The log says it once per reason (this minute), and never repeats what the sender wrote.
    alerts = [r for r in caplog.records if "ALERT" in r.getMessage()]
    assert 1 <= len(alerts) <= len(reasons)
    assert not re.search(r"LS[0-9a-f]{30}", caplog.text)


def test_the_first_excerpt_is_kept_and_each_beijing_day_has_its_own_row(
    app: Flask, client: FlaskClient, clock
) -> None:
    address = "198.51.100.78"
    clock.set(datetime(2026, 11, 23, 23, 59, tzinfo=BEIJING))
    post(client, b"first body " + b"a" * 5000, address)
    clock.advance(seconds=30)
    post(client, b"second body", address)
    clock.advance(minutes=1)  # 00:00:30 the next Beijing day
    post(client, b"third body", address)
    rows = rejected_rows(app, address)
    assert [(str(r.day), r.reason, r.count) for r in rows] == [
        ("2026-11-23", "malformed xml", 2),
        ("2026-11-24", "malformed xml", 1),
    ]
    first = rows[0]
    assert first.excerpt == "first body " + "a" * (EXCERPT_BOUND - len("first body "))
    assert first.last_seen > first.first_seen
    assert rows[1].excerpt == "third body"


def test_addresses_of_one_ipv6_network_share_a_row(app: Flask, client: FlaskClient) -> None:
    for host in range(50):
        post(client, b"not xml", f"2001:db8:77:1::{host:x}")
    with app.app_context():
        rows = db.session.execute(
            sa.text(
                "SELECT remote_addr, count FROM rejected_notifications"
                " WHERE remote_addr LIKE '2001:db8:77:1:%'"
            )
        ).all()
        db.session.remove()
    assert [(r.remote_addr, r.count) for r in rows] == [("2001:db8:77:1::/64", 50)]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(to_xml(notification("LS" + "1" * 30, 100), sign="签名" * 8), id="chinese"),
        pytest.param(to_xml(notification("LS" + "1" * 30, 100), sign="é" * 32), id="accented"),
        pytest.param(to_xml(notification("LS" + "1" * 30, 100), sign="a\u2028b"), id="separator"),
        pytest.param(to_xml(notification("LS" + "1" * 30, 100, appid="微信支付")), id="appid"),
        pytest.param(to_xml(notification("LS" + "1" * 30, 100, mch_id="商户号")), id="mch_id"),
        pytest.param(to_xml(notification("LS" + "1" * 30, "²")), id="superscript_fee"),
        pytest.param(to_xml(notification("LS" + "1" * 30, "9" * 5000)), id="huge_fee"),
        pytest.param(to_xml(notification("LS" + "1" * 30, 10**19)), id="bigint_fee"),
        pytest.param(to_xml(notification("LS" + "1" * 40, 100)), id="long_order_no"),
        pytest.param(
            to_xml(notification("LS" + "1" * 30, 100, transaction_id="4" * 40)), id="long_txn"
        ),
        pytest.param(b'<?xml version="1.0" encoding="x-unknown"?><xml/>', id="encoding"),
    ],
)
def test_odd_text_in_checked_fields_is_refused_not_a_500(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    with caplog.at_level(logging.INFO):
        response = post(client, body, "198.51.100.79")
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    assert FAIL in response.get_data(as_text=True)
    assert not any(r.exc_info for r in caplog.records)
    assert "Traceback" not in caplog.text


def test_rejections_alert_once_per_reason_and_address_but_mismatches_every_time(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    forged_no = "LS" + secrets.token_hex(15)
    forged = to_xml(notification(forged_no, 100), sign="0" * 32)
    with caplog.at_level(logging.WARNING):
        for _ in range(20):
            post(client, forged, "198.51.100.80")
        for _ in range(5):
            post(client, forged, "198.51.100.81")
    alerts = [r.getMessage() for r in caplog.records if "ALERT" in r.getMessage()]
    assert len(alerts) == 2
    assert all("bad signature" in a for a in alerts)
    assert sorted("198.51.100.80" in a for a in alerts) == [False, True]
    assert sorted("198.51.100.81" in a for a in alerts) == [False, True]
    assert forged_no not in caplog.text  # the unverified order number is never logged
    assert [r.count for r in rejected_rows(app, "198.51.100.80")] == [20]

    # A wrong amount under a valid signature is a real alert: logged every time.
    order = order_for(app, client, 500)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            wrong = to_xml(notification(order.out_trade_no, 501))
            response = post(client, wrong, "198.51.100.82")
            assert FAIL in response.get_data(as_text=True)
    mismatches = [r for r in caplog.records if "ALERT amount mismatch" in r.getMessage()]
    assert len(mismatches) == 3

    # So is a notification signed with our key for another app: alerted and kept each time.
    kept_before = stored_notifications(app)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            other_app = to_xml(notification(order.out_trade_no, 500, appid="wx0000000000other"))
            post(client, other_app, "198.51.100.82")
    signed = [r for r in caplog.records if "ALERT signed" in r.getMessage()]
    assert len(signed) == 2 and all("appid mismatch" in r.getMessage() for r in signed)
    assert stored_notifications(app) == kept_before + 2
    assert rejected_rows(app, "198.51.100.82") == []


def test_alerts_fail_open_to_logging_when_redis_is_down(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture, monkeypatch
) -> None:
    dead = redis.Redis(port=free_port(), socket_connect_timeout=0.2, socket_timeout=0.2)
    monkeypatch.setitem(app.extensions, "redis", dead)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            response = post(client, b"<xml>", "198.51.100.83")
            assert response.status_code == 200
            assert FAIL in response.get_data(as_text=True)
    alerts = [r for r in caplog.records if "ALERT" in r.getMessage()]
    assert len(alerts) == 3
    assert [r.count for r in rejected_rows(app, "198.51.100.83")] == [3]


def test_the_served_openapi_documents_the_xml_exchange(client: FlaskClient) -> None:
    document = client.get("/api/openapi.json").get_json()
    operation = document["paths"]["/api/v1/payments/wechat/notify"]["post"]
    body = operation["requestBody"]
    assert body["required"] is True
    assert body["content"]["application/xml"]["schema"]["type"] == "string"
    ok = operation["responses"]["200"]
    assert ok["content"]["application/xml"]["schema"]["type"] == "string"
    assert "application/json" not in ok["content"]
    assert operation["security"] == []


def test_a_valid_notification_is_still_stored_whole_and_credited(
    app: Flask, client: FlaskClient
) -> None:
    order = order_for(app, client, 1200)
    body = to_xml(notification(order.out_trade_no, 1200))
    response = post(client, body, "198.51.100.84")
    assert SUCCESS in response.get_data(as_text=True)
    with app.app_context():
        donation = db.session.get(Donation, order.id)
        assert donation.status == DonationStatus.PAID
        kept = db.session.scalars(
            sa.select(PaymentNotification).where(
                PaymentNotification.out_trade_no == order.out_trade_no
            )
        ).all()
        assert [(k.outcome, k.body, k.remote_addr) for k in kept] == [
            ("applied", body.decode(), "198.51.100.84")
        ]
        db.session.remove()
    assert rejected_rows(app, "198.51.100.84") == []


def order_for(app: Flask, client: FlaskClient, amount_fen: int) -> Donation:
    """A pending donation order of `amount_fen` to an open need (through the API)."""
    with app.app_context():
        need_id = db.session.scalar(
            sa.select(Need.id).where(Need.status == NeedStatus.FUNDRAISING).order_by(Need.id)
        )
        db.session.remove()
    token = login(client, "donor_zhang")["token"]
    response = client.post(
        "/api/v1/donations",
        json={"need_id": need_id, "amount_fen": amount_fen},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.get_json()
    with app.app_context():
        donation = db.session.get(Donation, response.get_json()["id"])
        db.session.expunge(donation)
        db.session.remove()
    return donation
