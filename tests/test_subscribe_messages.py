"""Subscribe messages to donors: consents recorded through the API, messages made and sent
by the worker's job to the WeChat sandbox over HTTP with wechatpy, once each."""

from __future__ import annotations

import json
import socket
import threading
from datetime import timedelta
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from backend.accounts.models import User
from backend.common.time import BEIJING, utcnow
from backend.config import (
    SANDBOX_TEMPLATE_DONATION_PAID,
    SANDBOX_TEMPLATE_MONEY_SPENT,
    ConfigError,
    Settings,
)
from backend.donations.models import Donation
from backend.donations.services import apply_payment
from backend.extensions import db
from backend.jobs.tasks import send_subscribe_messages
from backend.messages import sending
from backend.messages.making import THING_MAX, beijing_time, thing
from backend.messages.models import MessageStatus, SubscribeMessage, SubscriptionConsent
from backend.needs.models import Need, NeedStatus
from backend.payments.wechat_pay import parse_notification
from backend.spending.models import Expense
from tests.conftest import free_port
from tests.payments_support import notification, sandbox_pay, to_xml, wait_deliveries
from tests.permissions import login
from tests.spending_support import auth, decide, disburse, fresh_need, spending_team, submit
from tests.support import assert_error_shape

pytestmark = pytest.mark.usefixtures("demo", "live_server")

PAID = SANDBOX_TEMPLATE_DONATION_PAID
SPENT = SANDBOX_TEMPLATE_MONEY_SPENT


# -- helpers ---------------------------------------------------------------------------


class Donor:
    """A logged-in sandbox user."""

    def __init__(self, client: FlaskClient, name: str) -> None:
        answer = login(client, name)
        self.token: str = answer["token"]
        self.id: int = answer["user"]["id"]
        self.headers = auth(self.token)
        self.openid = ""

    def load_openid(self, app: Flask) -> str:
        with app.app_context():
            self.openid = db.session.get(User, self.id).openid
        return self.openid


def donor(app: Flask, client: FlaskClient, name: str) -> Donor:
    person = Donor(client, name)
    person.load_openid(app)
    return person


def consent(client: FlaskClient, person: Donor, *template_ids: str) -> Any:
    response = client.post(
        "/api/v1/me/subscriptions",
        json={"template_ids": list(template_ids)},
        headers=person.headers,
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def remaining(client: FlaskClient, person: Donor) -> dict[str, int]:
    answer = client.get("/api/v1/me/subscriptions", headers=person.headers).get_json()
    return {t["kind"]: t["remaining"] for t in answer["templates"]}


def raising_need(app: Flask) -> tuple[int, str]:
    with app.app_context():
        need = db.session.scalars(
            sa.select(Need).where(Need.status == NeedStatus.FUNDRAISING).order_by(Need.id)
        ).first()
        assert need is not None
        return need.id, need.title


def order(client: FlaskClient, person: Donor, amount_fen: int, need_id: int) -> dict[str, Any]:
    response = client.post(
        "/api/v1/donations", json={"need_id": need_id, "amount_fen": amount_fen},
        headers=person.headers,
    )  # fmt: skip
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def pay_through_sandbox(client, sandbox, person: Donor, amount_fen: int, need_id: int) -> int:
    """Order through the API; the sandbox plays the payer and notifies the live app."""
    made = order(client, person, amount_fen, need_id)
    sandbox_pay(sandbox.url, made["out_trade_no"])
    assert wait_deliveries(sandbox.url, made["out_trade_no"])[0]["status"] == "succeeded"
    return made["id"]


def pay_now(app: Flask, client: FlaskClient, person: Donor, amount_fen: int, need_id: int) -> int:
    """Order through the API and credit it with a signed notification paid just now."""
    made = order(client, person, amount_fen, need_id)
    time_end = utcnow().astimezone(BEIJING).strftime("%Y%m%d%H%M%S")
    with app.app_context():
        body = to_xml(notification(made["out_trade_no"], amount_fen, time_end=time_end))
        assert apply_payment(parse_notification(body, app.config["SETTINGS"])).applied
        db.session.commit()
    return made["id"]


def run_job(application: Flask) -> dict[str, int]:
    with application.app_context():
        return send_subscribe_messages()


def sandbox_messages(sandbox, openid: str) -> list[dict[str, Any]]:
    response = requests.get(f"{sandbox.url}sandbox/messages", params={"touser": openid}, timeout=5)
    assert response.status_code == 200
    return response.json()["messages"]


def messages_of(app: Flask, person: Donor) -> list[SubscribeMessage]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(SubscribeMessage)
            .where(SubscribeMessage.user_id == person.id)
            .order_by(SubscribeMessage.id)
        ).all()
        db.session.expunge_all()
        return list(rows)


def refuse(sandbox, openid: str, refuse: bool = True) -> None:
    response = requests.post(
        f"{sandbox.url}sandbox/messages/refuse", json={"openid": openid, "refuse": refuse},
        timeout=5,
    )  # fmt: skip
    assert response.status_code == 200


@pytest.fixture
def broken_app(make_app) -> Flask:
    """The same app with WeChat's API at a port where nothing listens."""
    return make_app({"WECHAT_API_BASE": f"http://127.0.0.1:{free_port()}/"})


# -- configuration -------------------------------------------------------------------


def test_template_settings() -> None:
    development = Settings.from_env({})
    assert development.wechat_template_donation_paid == PAID
    assert development.wechat_template_money_spent == SPENT
    off = Settings.from_env({"WECHAT_TEMPLATE_MONEY_SPENT": "off"})
    assert (off.wechat_template_donation_paid, off.wechat_template_money_spent) == (PAID, None)
    with pytest.raises(ConfigError, match="WECHAT_TEMPLATE_DONATION_PAID must be a template"):
        Settings.from_env({"WECHAT_TEMPLATE_DONATION_PAID": "含中文"})
    with pytest.raises(ConfigError, match="must differ"):
        Settings.from_env(
            {"WECHAT_TEMPLATE_DONATION_PAID": "T1", "WECHAT_TEMPLATE_MONEY_SPENT": "T1"}
        )


def test_production_requires_the_templates_or_off(tmp_path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("cert")
    key.write_text("key")
    env = {
        "APP_ENV": "production", "DATABASE_URL": "postgresql://u@db/l",
        "REDIS_URL": "redis://cache:6379/0", "SECRET_KEY": "k" * 40,
        "PUBLIC_BASE_URL": "https://linshan.example.org", "WECHAT_APPID": "wx1234567890abcdef",
        "WECHAT_SECRET": "s" * 32, "WECHAT_MCH_ID": "1230000109", "WECHAT_PAY_KEY": "p" * 32,
        "WECHAT_MESSAGE_TOKEN": "pushtoken2026", "WECHAT_MCH_CERT_PATH": str(cert),
        "WECHAT_MCH_KEY_PATH": str(key), "WECHAT_TEMPLATE_MONEY_SPENT": "off",
    }  # fmt: skip
    with pytest.raises(ConfigError, match=r"^WECHAT_TEMPLATE_DONATION_PAID is required"):
        Settings.from_env(env)
    with pytest.raises(ConfigError, match="sandbox's template"):
        Settings.from_env({**env, "WECHAT_TEMPLATE_DONATION_PAID": PAID})
    settings = Settings.from_env({**env, "WECHAT_TEMPLATE_DONATION_PAID": "Tmpl-Abc_123"})
    assert settings.wechat_template_donation_paid == "Tmpl-Abc_123"
    assert settings.wechat_template_money_spent is None


def test_thing_values_stay_within_wechats_limit() -> None:
    long = "为老旧小区三个单元的楼道加装不锈钢扶手并更换照明灯具"
    assert len(long) > THING_MAX
    assert thing(long) == long[:19] + "…" and len(thing(long)) == THING_MAX
    assert thing("  楼道\n扶手 ") == "楼道 扶手"


# -- consents --------------------------------------------------------------------------


def test_consents_are_recorded_and_counted(app, client) -> None:
    person = Donor(client, "subs_consenter")
    listed = client.get("/api/v1/me/subscriptions", headers=person.headers).get_json()
    assert listed == {
        "templates": [
            {"kind": "donation_paid", "template_id": PAID, "title": "捐赠成功通知", "remaining": 0},
            {"kind": "money_spent", "template_id": SPENT, "title": "善款使用通知", "remaining": 0},
        ]
    }
    answer = consent(client, person, PAID, SPENT)
    assert [(t["kind"], t["remaining"]) for t in answer["templates"]] == [
        ("donation_paid", 1), ("money_spent", 1),
    ]  # fmt: skip
    # one acceptance per template and request, however often the id is repeated
    consent(client, person, PAID, PAID)
    assert remaining(client, person) == {"donation_paid": 2, "money_spent": 1}

    unknown = client.post(
        "/api/v1/me/subscriptions", json={"template_ids": [PAID, "not-ours-1"]},
        headers=person.headers,
    )  # fmt: skip
    assert unknown.status_code == 400
    body = unknown.get_json()
    assert_error_shape(body, 400, "unknown_template")
    assert "not-ours-1" in body["message"] and PAID not in body["message"]
    assert remaining(client, person) == {"donation_paid": 2, "money_spent": 1}  # nothing added

    for bad in ({"template_ids": []}, {"template_ids": [""]}, {}, {"template_ids": "x"}):
        response = client.post("/api/v1/me/subscriptions", json=bad, headers=person.headers)
        assert response.status_code == 422, (bad, response.get_json())
    assert client.post("/api/v1/me/subscriptions", json={"template_ids": [PAID]}).status_code == 401
    assert client.get("/api/v1/me/subscriptions").status_code == 401
    with app.app_context():
        rows = db.session.scalars(
            sa.select(SubscriptionConsent).where(SubscriptionConsent.user_id == person.id)
        ).all()
        assert sorted(r.template_id for r in rows) == sorted([PAID, PAID, SPENT])
        assert all(r.used_at is None for r in rows)


def test_account_deletion_drops_consents_and_pending_messages(app, client, broken_app) -> None:
    need_id, _ = raising_need(app)
    person = donor(app, client, "subs_leaver")
    consent(client, person, PAID, SPENT)
    pay_now(app, client, person, 800, need_id)
    run_job(broken_app)  # made, but WeChat could not be reached: pending
    assert [m.status for m in messages_of(app, person)] == [MessageStatus.PENDING]

    assert client.delete("/api/v1/me", headers=person.headers).status_code == 204
    assert messages_of(app, person) == []
    with app.app_context():
        left = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(SubscriptionConsent)
            .where(SubscriptionConsent.user_id == person.id)
        )
        assert left == 0


# -- a donation paid -----------------------------------------------------------------------


def test_a_paid_donation_is_told_once(app, client, wechat_sandbox) -> None:
    need_id, title = raising_need(app)
    person = donor(app, client, "subs_paid")
    consent(client, person, PAID)
    donation_id = pay_through_sandbox(client, wechat_sandbox, person, 1234, need_id)

    counts = run_job(app)
    assert (counts["made"], counts["sent"]) == (1, 1)
    sent = sandbox_messages(wechat_sandbox, person.openid)
    assert len(sent) == 1
    message = sent[0]
    assert (message["touser"], message["template_id"]) == (person.openid, PAID)
    assert message["page"] == "pages/donations/donations"
    with app.app_context():
        donation = db.session.get(Donation, donation_id)
        paid_at = donation.paid_at.astimezone(BEIJING)
        public_name = donation.public_name
    assert message["data"] == {
        "thing1": {"value": thing(title)},
        "amount2": {"value": "12.34元"},
        "time3": {"value": f"{paid_at.year}年{paid_at.month}月{paid_at.day}日 {paid_at:%H:%M}"},
        "thing4": {"value": public_name},
    }
    rows = messages_of(app, person)
    assert [(r.status, r.attempts, r.donation_id, r.msgid) for r in rows] == [
        (MessageStatus.SENT, 1, donation_id, str(message["msgid"]))
    ]
    assert remaining(client, person)["donation_paid"] == 0  # the consent is spent

    # The job again: nothing more.
    again = run_job(app)
    assert (again["made"], again["sent"]) == (0, 0)
    assert len(sandbox_messages(wechat_sandbox, person.openid)) == 1

    # A second donation without a new consent is not told.
    pay_through_sandbox(client, wechat_sandbox, person, 500, need_id)
    run_job(app)
    assert len(sandbox_messages(wechat_sandbox, person.openid)) == 1
    assert len(messages_of(app, person)) == 1


def test_no_consent_no_message_until_the_donor_consents(app, client, wechat_sandbox) -> None:
    need_id, _ = raising_need(app)
    person = donor(app, client, "subs_later")
    donation_id = pay_through_sandbox(client, wechat_sandbox, person, 600, need_id)
    assert run_job(app)["made"] == 0
    assert sandbox_messages(wechat_sandbox, person.openid) == []
    assert messages_of(app, person) == []
    # The mini-program asks for consent once the payment shows as done: that donation is
    # the one told.
    consent(client, person, PAID)
    run_job(app)
    sent = sandbox_messages(wechat_sandbox, person.openid)
    assert [m["data"]["amount2"]["value"] for m in sent] == ["6.00元"]
    assert [r.donation_id for r in messages_of(app, person)] == [donation_id]


def test_a_refusal_skips_the_message_and_spends_the_consent(app, client, wechat_sandbox, clock):
    need_id, _ = raising_need(app)
    person = donor(app, client, "subs_refuser")
    consent(client, person, PAID)
    refuse(wechat_sandbox, person.openid)
    try:
        pay_now(app, client, person, 700, need_id)
        counts = run_job(app)
        assert (counts["made"], counts["skipped"], counts["sent"]) == (1, 1, 0)
        [row] = messages_of(app, person)
        assert (row.status, row.attempts) == (MessageStatus.SKIPPED, 1)
        assert row.last_error.startswith("43101")
        assert remaining(client, person)["donation_paid"] == 0
        clock.advance(hours=2)
        run_job(app)
        [row] = messages_of(app, person)
        assert (row.status, row.attempts) == (MessageStatus.SKIPPED, 1)  # not retried
        assert sandbox_messages(wechat_sandbox, person.openid) == []
    finally:
        refuse(wechat_sandbox, person.openid, refuse=False)


# -- failures ----------------------------------------------------------------------------------


def test_a_transient_failure_is_retried_with_backoff_then_sent(
    app, client, wechat_sandbox, broken_app, clock
) -> None:
    need_id, _ = raising_need(app)
    person = donor(app, client, "subs_retry")
    consent(client, person, PAID)
    pay_now(app, client, person, 900, need_id)

    counts = run_job(broken_app)
    assert (counts["made"], counts["retry"]) == (1, 1)
    [row] = messages_of(app, person)
    assert (row.status, row.attempts) == (MessageStatus.PENDING, 1)
    assert row.next_attempt_at == clock.now + timedelta(minutes=1)
    assert row.last_error.startswith("network")
    assert row.consent_id is not None  # kept for the next try

    run_job(broken_app)  # not due yet: untouched
    assert messages_of(app, person)[0].attempts == 1
    clock.advance(minutes=1)
    run_job(broken_app)
    [row] = messages_of(app, person)
    assert (row.status, row.attempts) == (MessageStatus.PENDING, 2)
    assert row.next_attempt_at == clock.now + timedelta(minutes=2)

    clock.advance(minutes=2)
    assert run_job(app)["sent"] == 1
    [row] = messages_of(app, person)
    assert (row.status, row.attempts, row.sent_at) == (MessageStatus.SENT, 3, clock.now)
    assert len(sandbox_messages(wechat_sandbox, person.openid)) == 1


def test_after_the_last_attempt_the_message_fails_and_the_consent_is_back(
    app, client, broken_app, clock
) -> None:
    need_id, _ = raising_need(app)
    person = donor(app, client, "subs_giveup")
    consent(client, person, PAID)
    pay_now(app, client, person, 300, need_id)
    waits = []
    for _ in range(sending.MAX_ATTEMPTS):
        run_job(broken_app)
        [row] = messages_of(app, person)
        waits.append(row.next_attempt_at - clock.now)
        clock.set(row.next_attempt_at)
    [row] = messages_of(app, person)
    assert (row.status, row.attempts, row.consent_id) == (MessageStatus.FAILED, 8, None)
    minutes = [int(w.total_seconds() // 60) for w in waits[:-1]]
    assert minutes == [1, 2, 4, 8, 16, 32, 60]
    # WeChat never delivered it: the consent can serve another message.
    assert remaining(client, person)["donation_paid"] == 1


def test_an_expired_access_token_is_refreshed_once(app, client, wechat_sandbox) -> None:
    need_id, _ = raising_need(app)
    person = donor(app, client, "subs_token")
    consent(client, person, PAID)
    pay_now(app, client, person, 100, need_id)
    redis = app.extensions["redis"]
    key = f"linshan:wechat:{app.config['SETTINGS'].wechat_appid}_access_token"
    stale = json.dumps("stale-token-the-sandbox-never-issued").encode()
    redis.set(key, stale)  # as wechatpy's RedisStorage keeps it
    assert run_job(app)["sent"] == 1
    assert redis.get(key) not in (None, stale)
    assert len(sandbox_messages(wechat_sandbox, person.openid)) == 1


def test_a_send_whose_worker_died_is_not_sent_again(app, client, wechat_sandbox, clock) -> None:
    need_id, _ = raising_need(app)
    person = donor(app, client, "subs_crash")
    consent(client, person, PAID)
    pay_now(app, client, person, 200, need_id)
    with app.app_context():  # a worker claims the message, calls WeChat... and dies
        from backend.messages.making import make_messages

        make_messages(utcnow())
        db.session.commit()
        claimed = sending.claim_due(utcnow())
        db.session.commit()
        db.session.remove()
    assert [c.openid for c in claimed if c.openid == person.openid] == [person.openid]
    run_job(app)  # within the lease: left alone
    assert messages_of(app, person)[0].status == MessageStatus.SENDING
    clock.advance(minutes=11)
    assert run_job(app)["failed"] >= 1
    [row] = messages_of(app, person)
    assert row.status == MessageStatus.FAILED and row.last_error.startswith("outcome unknown")
    clock.advance(hours=3)
    run_job(app)
    assert messages_of(app, person)[0].status == MessageStatus.FAILED
    assert sandbox_messages(wechat_sandbox, person.openid) == []


def test_parallel_runs_send_each_message_once(app, client, wechat_sandbox) -> None:
    need_id, _ = raising_need(app)
    people = [donor(app, client, f"subs_parallel{i}") for i in range(8)]
    for person in people:
        consent(client, person, PAID)
        pay_now(app, client, person, 100, need_id)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(10)
            for _ in range(2):
                run_job(app)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    for person in people:
        assert len(sandbox_messages(wechat_sandbox, person.openid)) == 1, person.openid
        assert [r.status for r in messages_of(app, person)] == [MessageStatus.SENT]


# -- money spent ------------------------------------------------------------------------------


def test_a_disbursed_expense_tells_each_consenting_donor_once(app, client, wechat_sandbox) -> None:
    team = spending_team(app, "M1")
    need_id = fresh_need(client, team, goal_fen=100_000)
    twice = donor(app, client, "subs_spent_twice")
    once = donor(app, client, "subs_spent_once")
    silent = donor(app, client, "subs_spent_silent")
    for person in (twice, once):
        consent(client, person, SPENT)
    pay_now(app, client, twice, 1000, need_id)
    pay_now(app, client, once, 2000, need_id)
    pay_now(app, client, twice, 500, need_id)
    pay_now(app, client, silent, 3000, need_id)

    assert run_job(app)["made"] == 0  # nothing spent yet; no paid-template consent
    submitted = submit(client, team, 6000, need_id=need_id, purpose="购买扶手材料与安装服务")
    assert submitted.status_code == 201, submitted.get_json()
    expense_id = submitted.get_json()["id"]
    assert decide(client, team, expense_id, "secretary").status_code == 200
    assert disburse(client, team, expense_id).status_code == 200

    with app.app_context():
        disbursed_at = db.session.get(Expense, expense_id).disbursed_at
    counts = run_job(app)
    assert (counts["made"], counts["sent"]) == (2, 2)
    for person, share in ((twice, "15.00元"), (once, "20.00元")):
        [message] = sandbox_messages(wechat_sandbox, person.openid)
        assert message["template_id"] == SPENT
        assert message["page"] == f"pages/expense/expense?id={expense_id}"
        assert message["data"]["thing1"] == {"value": "楼道扶手加装"}
        assert message["data"]["amount2"] == {"value": share}
        assert message["data"]["thing3"] == {"value": "购买扶手材料与安装服务"}
        assert message["data"]["time4"] == {"value": beijing_time(disbursed_at)}
        assert remaining(client, person)["money_spent"] == 0
    assert sandbox_messages(wechat_sandbox, silent.openid) == []
    [row] = messages_of(app, twice)
    assert (row.expense_id, row.status) == (expense_id, MessageStatus.SENT)

    assert run_job(app)["made"] == 0
    assert len(sandbox_messages(wechat_sandbox, twice.openid)) == 1


def test_an_answer_that_never_comes_is_not_sent_again(app, client, make_app, clock) -> None:
    need_id, _ = raising_need(app)
    person = donor(app, client, "subs_silence")
    consent(client, person, PAID)
    pay_now(app, client, person, 400, need_id)
    with app.app_context():
        assert app.extensions["wechat"].access_token  # a token in Redis: only the send hangs
    with socket.socket() as silent:  # accepts connections (the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        hanging = make_app({"WECHAT_API_BASE": f"http://127.0.0.1:{port}/"})
        counts = run_job(hanging)
    assert (counts["made"], counts["failed"], counts["retry"]) == (1, 1, 0)
    [row] = messages_of(app, person)
    assert (row.status, row.last_error) == (MessageStatus.FAILED, "outcome unknown: ReadTimeout")
    assert remaining(client, person)["donation_paid"] == 0  # WeChat may have used it
    clock.advance(hours=3)
    run_job(app)
    assert messages_of(app, person)[0].status == MessageStatus.FAILED
