"""Donations end to end over HTTP through the WeChat sandbox: order, payment, counter."""

from __future__ import annotations

import base64
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy as sa

from backend.donations.models import Donation, PaymentNotification, RejectedNotification
from backend.extensions import db
from backend.ledger.models import JournalEntry, JournalLine
from backend.needs.models import Need, NeedStatus
from backend.progress.models import OutboxEvent
from tests import v3_support
from tests.payments_support import (
    notification,
    sandbox_pay,
    to_xml,
    wait_deliveries,
)
from tests.permissions import login
from tests.support import assert_error_shape
from tests.v3_support import (
    answer_of,
    assert_signed_payment,
    both_pay_versions,
    paid_notice,
    resign,
)
from tests.v3_support import notification as v3n
from tests.v3_support import transaction as v3t

pytestmark = pytest.mark.usefixtures("demo", "live_server")


@pytest.fixture(scope="module")
def donor(app) -> dict:
    return login(app.test_client(), "donor_zhang")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def open_need(app, min_goal: int = 0) -> Need:
    with app.app_context():
        need = db.session.scalar(
            sa.select(Need)
            .where(Need.status == NeedStatus.FUNDRAISING, Need.goal_fen >= min_goal)
            .order_by(Need.id)
        )
        db.session.expunge(need)
        return need


def donate(client, token: str, **body) -> dict:
    response = client.post("/api/v1/donations", json=body, headers=auth(token))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def progress(client, need_id: int) -> dict:
    return client.get(f"/api/v1/needs/{need_id}/progress").get_json()


def counts(app, out_trade_no: str) -> dict[str, int]:
    with app.app_context():
        donation = db.session.scalar(
            sa.select(Donation).where(Donation.out_trade_no == out_trade_no)
        )
        entries = db.session.scalar(
            sa.select(sa.func.count()).select_from(JournalEntry).where(
                JournalEntry.donation_id == donation.id)
        )  # fmt: skip
        notices = db.session.scalar(
            sa.select(sa.func.count()).select_from(PaymentNotification).where(
                PaymentNotification.out_trade_no == out_trade_no)
        )  # fmt: skip
        return {"status": donation.status.value, "entries": entries, "notices": notices}


@both_pay_versions
def test_a_donation_is_ordered_paid_notified_and_counted(
    client, app, donor, wechat_sandbox, pay_version, pay_environ
) -> None:
    need = open_need(app)
    before = progress(client, need.id)
    order = donate(client, donor["token"], need_id=need.id, amount_fen=5000, message="加油！")
    assert order["status"] == "pending"
    assert order["amount_fen"] == 5000
    assert order["public_name"] in ("爱心人士",) or order["public_name"].endswith("**")
    # The parameters are signed as WeChat's client checks them (v2: our own MD5, not
    # wechatpy's; v3: SHA256withRSA checked with the merchant certificate).
    assert_signed_payment(order["payment"], pay_version, pay_environ)

    sandbox_pay(wechat_sandbox.url, order["out_trade_no"])
    deliveries = wait_deliveries(wechat_sandbox.url, order["out_trade_no"])
    assert deliveries[0]["status"] == "succeeded"

    donation = client.get(
        f"/api/v1/donations/{order['id']}", headers=auth(donor["token"])
    ).get_json()
    assert donation["status"] == "paid"
    assert donation["paid_at"]
    after = progress(client, need.id)
    assert after["raised_fen"] == before["raised_fen"] + 5000
    assert after["donation_count"] == before["donation_count"] + 1
    assert after["stale"] is False
    listed = next(i for i in client.get(f"/api/v1/needs?fund_id={need.fund_id}&limit=100")
                  .get_json()["items"] if i["id"] == need.id)  # fmt: skip
    assert listed["raised_fen"] == after["raised_fen"]
    assert counts(app, order["out_trade_no"]) == {"status": "paid", "entries": 1, "notices": 1}
    with app.app_context():
        entry = db.session.scalar(sa.select(JournalEntry).where(
            JournalEntry.donation_id == order["id"]))  # fmt: skip
        assert sorted((line.account, line.amount_fen) for line in entry.lines) == [
            ("clearing:wechat", -5000), (f"need:{need.id}", 5000)]  # fmt: skip
    mine = client.get("/api/v1/me/donations", headers=auth(donor["token"])).get_json()
    assert mine["items"][0]["id"] == order["id"]
    assert mine["items"][0]["allocations"] == []


@both_pay_versions
def test_many_copies_at_once_count_once(client, app, donor, wechat_sandbox) -> None:
    need = open_need(app)
    before = progress(client, need.id)
    order = donate(client, donor["token"], need_id=need.id, amount_fen=1234)
    sandbox_pay(wechat_sandbox.url, order["out_trade_no"], duplicates=15, concurrent=True)
    deliveries = wait_deliveries(wechat_sandbox.url, order["out_trade_no"])
    attempts = [a for d in deliveries for a in d["attempts"]]
    assert len(attempts) >= 16
    assert all(a["answer_ok"] for a in attempts)
    after = progress(client, need.id)
    assert after["raised_fen"] == before["raised_fen"] + 1234
    assert after["donation_count"] == before["donation_count"] + 1
    state = counts(app, order["out_trade_no"])
    assert state["entries"] == 1
    assert state["notices"] == len(attempts)


@both_pay_versions
def test_the_same_notification_posted_concurrently_counts_once(
    client, app, donor, live_server, pay_version, pay_environ
) -> None:
    need = open_need(app)
    before = progress(client, need.id)
    order = donate(client, donor["token"], need_id=need.id, amount_fen=777)
    if pay_version == "v3":
        body, headers = v3_support.notification(
            pay_environ, v3_support.transaction(order["out_trade_no"], 777)
        )
        url = f"{live_server}{v3_support.NOTIFY}"
    else:
        body, headers = to_xml(notification(order["out_trade_no"], 777)), {}
        url = f"{live_server}/api/v1/payments/wechat/notify"
    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(
            lambda _: requests.post(url, data=body, headers=headers, timeout=30), range(24)))  # fmt: skip
    if pay_version == "v3":
        assert all(a.status_code == 204 for a in answers), [a.text for a in answers]
    else:
        assert all(a.status_code == 200 for a in answers)
        assert all("<return_code><![CDATA[SUCCESS]]>" in a.text for a in answers)
    after = progress(client, need.id)
    assert after["raised_fen"] - before["raised_fen"] == 777
    assert after["donation_count"] - before["donation_count"] == 1
    assert counts(app, order["out_trade_no"])["entries"] == 1


#: notifications WeChat Pay v2 would refuse: (name, body of (out_trade_no, fee))
V2_BAD = [
    ("forged signature", lambda no, fee: to_xml(notification(no, fee), sign="0" * 32)),
    ("signed with another key", lambda no, fee: to_xml(notification(no, fee), key="k" * 32)),
    ("changed amount", lambda no, fee: to_xml(notification(no, fee + 1))),
    ("wrong appid", lambda no, fee: to_xml(notification(no, fee, appid="wx0000000000other"))),
    ("wrong mch_id", lambda no, fee: to_xml(notification(no, fee, mch_id="1900000999"))),
    ("unknown order", lambda no, fee: to_xml(notification("LS" + "9" * 30, fee))),
    ("malformed xml", lambda no, fee: b"<xml><return_code>SUCCESS</xml"),
    ("not xml", lambda no, fee: b"return_code=SUCCESS"),
    ("empty", lambda no, fee: b""),
    ("entity bomb", lambda no, fee: (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        b"<xml><return_code>&c;</return_code></xml>")),
    ("external entity", lambda no, fee: (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b"<xml><return_code>&e;</return_code></xml>")),
    ("oversized", lambda no, fee: to_xml(notification(no, fee, attach="x" * 20_000))),
    ("nested element", lambda no, fee: b"<xml><out_trade_no><a>1</a></out_trade_no></xml>"),
]  # fmt: skip


def v3_signed(env: dict[str, str], body: bytes) -> tuple[bytes, dict[str, str]]:
    """A body WeChat's key signed, whatever it holds."""
    return body, resign(env, body)


def v3_forged(env: dict[str, str], no: str, fee: int) -> tuple[bytes, dict[str, str]]:
    body, headers = v3n(env, v3t(no, fee))
    return body, {**headers, "Wechatpay-Signature": base64.b64encode(bytes(256)).decode()}


#: the same notifications as v3 would have them: (name, (body, headers) of (env, no, fee))
V3_BAD = [
    ("forged signature", v3_forged),
    ("signed with another key", lambda env, no, fee: v3n(
        env, v3t(no, fee), private_pem_path=env["WECHAT_MCH_KEY_PATH"])),
    ("resource encrypted with another APIv3 key", lambda env, no, fee: v3n(
        env, v3t(no, fee), api_v3_key="another-apiv3-key-of-32-bytes!!!")),
    ("tampered ciphertext", lambda env, no, fee: v3n(env, v3t(no, fee), tamper=True)),
    ("changed amount", lambda env, no, fee: v3n(env, v3t(no, fee + 1))),
    ("wrong appid", lambda env, no, fee: v3n(env, v3t(no, fee, appid="wx0000000000other"))),
    ("wrong mchid", lambda env, no, fee: v3n(env, v3t(no, fee, mchid="1900000999"))),
    ("unknown order", lambda env, no, fee: v3n(env, v3t("LS" + "9" * 30, fee))),
    ("stale timestamp", lambda env, no, fee: v3n(
        env, v3t(no, fee), timestamp=int(time.time()) - 330)),
    ("unknown serial", lambda env, no, fee: v3n(
        env, v3t(no, fee), serial="PUB_KEY_ID_0114232134912410000000000000000000")),
    ("not json", lambda env, no, fee: v3_signed(env, b"return_code=SUCCESS")),
    ("empty", lambda env, no, fee: v3_signed(env, b"")),
    ("oversized", lambda env, no, fee: v3n(env, v3t(no, fee, attach="x" * 20_000))),
]  # fmt: skip
#: v3's status for each: 401 unless WeChat's signature held and the resource decrypted
V3_STATUS = {"changed amount": 400, "wrong appid": 400, "wrong mchid": 400,
             "unknown order": 400, "oversized": 413}  # fmt: skip


#: (version, name) of each case: one v2 and one v3 app serve them all, as for
#: `both_pay_versions` (session scope; a case names its version so that pytest groups them)
BAD_CASES = [("v2", name) for name, _ in V2_BAD] + [("v3", name) for name, _ in V3_BAD]


@pytest.mark.parametrize(
    ("pay_version", "case"),
    [(version, (version, name)) for version, name in BAD_CASES],
    ids=[f"{version}-{name}" for version, name in BAD_CASES],
    indirect=["pay_version"],
    scope="session",
)
def test_bad_notifications_fail_and_change_nothing(
    client, app, donor, pay_version, pay_environ, case
) -> None:
    name = case[1]
    need = open_need(app)
    order = donate(client, donor["token"], need_id=need.id, amount_fen=300)
    before = progress(client, need.id)
    with app.app_context():
        events = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEvent))
        lines = db.session.scalar(sa.select(sa.func.count()).select_from(JournalLine))
        kept = db.session.scalar(sa.select(sa.func.count()).select_from(PaymentNotification))
        tallied = db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(RejectedNotification.count), 0))
        )
    if pay_version == "v3":
        body, headers = dict(V3_BAD)[name](pay_environ, order["out_trade_no"], 300)
        response = client.post(v3_support.NOTIFY, data=body, headers=headers)
        assert response.status_code == V3_STATUS.get(name, 401), (name, response.data)
        assert answer_of("v3", response.status_code, response.get_data(as_text=True)) == "FAIL"
    else:
        response = client.post("/api/v1/payments/wechat/notify",
                               data=dict(V2_BAD)[name](order["out_trade_no"], 300),
                               content_type="text/xml")  # fmt: skip
        assert response.status_code in (200, 400, 413), name
        if response.status_code == 200:
            assert "<return_code><![CDATA[FAIL]]>" in response.get_data(as_text=True), name
    state = counts(app, order["out_trade_no"])
    assert state["status"] == "pending"
    assert state["entries"] == 0
    assert progress(client, need.id)["raised_fen"] == before["raised_fen"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEvent)) == events
        assert db.session.scalar(sa.select(sa.func.count()).select_from(JournalLine)) == lines
        # A signed notification is kept whole with why it was refused; one refused before
        # its signature held is only tallied (with an excerpt), never kept whole.
        now_kept = db.session.scalar(sa.select(sa.func.count()).select_from(PaymentNotification))
        now_tallied = db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(RejectedNotification.count), 0))
        )
        assert (now_kept - kept, now_tallied - tallied) in ((1, 0), (0, 1)), name
        if now_kept > kept:
            last = db.session.scalar(
                sa.select(PaymentNotification).order_by(PaymentNotification.id.desc())
            )
            assert last.outcome.startswith(("rejected", "unknown", "amount")), (name, last.outcome)


@both_pay_versions
def test_idempotency_key_replays_the_first_answer(
    client, app, donor, pay_version, pay_environ
) -> None:
    need = open_need(app)
    headers = {**auth(donor["token"]), "Idempotency-Key": "retry-key-0001"}
    body = {"need_id": need.id, "amount_fen": 888}
    first = client.post("/api/v1/donations", json=body, headers=headers)
    second = client.post("/api/v1/donations", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    # the replay carries the first answer's payment parameters, still signed as the
    # version's client checks them (v3's RSA signature covers a timestamp and a nonce)
    assert first.get_json() == second.get_json()
    assert_signed_payment(second.get_json()["payment"], pay_version, pay_environ)
    other = client.post("/api/v1/donations", json={**body, "amount_fen": 889}, headers=headers)
    assert other.status_code == 409
    assert_error_shape(other.get_json(), 409, "idempotency_key_reused")
    with app.app_context():
        made = db.session.scalar(sa.select(sa.func.count()).select_from(Donation).where(
            Donation.amount_fen == 888, Donation.user_id == donor["user"]["id"]))  # fmt: skip
    assert made == 1
    bad_key = client.post("/api/v1/donations", json=body,
                          headers={**auth(donor["token"]), "Idempotency-Key": "x"})  # fmt: skip
    assert_error_shape(bad_key.get_json(), 400, "invalid_idempotency_key")


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"amount_fen": 0}, 422, "validation_failed"),
        ({"amount_fen": 12.5}, 422, "validation_failed"),
        ({"amount_fen": "100"}, 422, "validation_failed"),
        ({"amount_fen": 5_000_001}, 422, "amount_too_large"),
        ({"amount_fen": 100, "message": "长" * 201}, 422, "validation_failed"),
        ({"amount_fen": 100, "message": "hi\x07"}, 422, "validation_failed"),
        ({"amount_fen": 100, "message": "来玩网络赌博"}, 422, "content_rejected"),
        ({"amount_fen": 100, "space_code": "no-such-space"}, 404, "space_not_found"),
    ],
)  # fmt: skip
def test_bad_orders_are_refused(client, app, donor, body, status, error) -> None:
    need = open_need(app)
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count()).select_from(Donation))
    response = client.post("/api/v1/donations", json={"need_id": need.id, **body},
                           headers=auth(donor["token"]))  # fmt: skip
    assert response.status_code == status
    assert_error_shape(response.get_json(), status, error)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Donation)) == before


def test_targets_must_be_open(client, app, donor) -> None:
    token = donor["token"]
    with app.app_context():
        draft = db.session.scalar(sa.select(Need.id).where(Need.status == NeedStatus.DRAFT))
        done = db.session.scalar(sa.select(Need.id).where(Need.status == NeedStatus.COMPLETED))
    assert_error_shape(client.post("/api/v1/donations", json={"need_id": draft, "amount_fen": 100},
                                   headers=auth(token)).get_json(), 404, "need_not_found")  # fmt: skip
    assert_error_shape(client.post("/api/v1/donations", json={"need_id": done, "amount_fen": 100},
                                   headers=auth(token)).get_json(), 409, "need_not_open")  # fmt: skip
    both = client.post("/api/v1/donations", json={"need_id": draft, "fund_id": 1, "amount_fen": 1},
                       headers=auth(token))  # fmt: skip
    assert both.status_code == 422
    assert (
        client.post("/api/v1/donations", json={"need_id": 1, "amount_fen": 100}).status_code == 401
    )
    pool = donate(client, token, fund_id=1, amount_fen=100, anonymous=True)
    assert pool["need_id"] is None
    assert pool["public_name"] == "爱心人士"


def test_someone_elses_donation_is_not_found(client, app, donor) -> None:
    need = open_need(app)
    order = donate(client, donor["token"], need_id=need.id, amount_fen=100)
    other = login(client, "donor_li")
    response = client.get(f"/api/v1/donations/{order['id']}", headers=auth(other["token"]))
    assert_error_shape(response.get_json(), 404, "donation_not_found")


def clear_rate_limits(app) -> None:
    redis = app.extensions["redis"]
    for key in redis.scan_iter("lsr:*"):
        redis.delete(key)


def test_donation_rate_limit(make_app, app, clock) -> None:
    clear_rate_limits(app)
    limited = make_app({"RATE_LIMIT_DONATIONS_PER_MINUTE": "2"})
    client = limited.test_client()
    donor = login(app.test_client(), "donor_in_a_hurry")
    need = open_need(app)
    statuses = [client.post("/api/v1/donations", json={"need_id": need.id, "amount_fen": 100},
                            headers=auth(donor["token"])).status_code for _ in range(3)]  # fmt: skip
    assert statuses == [201, 201, 429]
    body = client.post("/api/v1/donations", json={"need_id": need.id, "amount_fen": 100},
                       headers=auth(donor["token"])).get_json()  # fmt: skip
    assert_error_shape(body, 429, "rate_limited")


def test_login_rate_limit(make_app, app, clock) -> None:
    clear_rate_limits(app)
    limited = make_app({"RATE_LIMIT_LOGINS_PER_MINUTE": "3"})
    client = limited.test_client()
    codes = [
        client.post(
            "/api/v1/auth/wechat-login",
            json={"code": f"ratelimited.{i}"},
        ).status_code
        for i in range(4)
    ]
    assert codes == [200, 200, 200, 429]


@both_pay_versions
def test_public_ledgers_show_masked_donors_and_journal_balances(
    client, app, wechat_sandbox
) -> None:
    need = open_need(app)
    named = login(client, "ledger_donor")
    client.patch("/api/v1/me", json={"nickname": "欧阳明"}, headers=auth(named["token"]))
    before = client.get(f"/api/v1/needs/{need.id}/ledger").get_json()
    shown = donate(client, named["token"], need_id=need.id, amount_fen=2300, message="祝顺利")
    hidden = donate(client, named["token"], need_id=need.id, amount_fen=1700, anonymous=True)
    for order in (shown, hidden):
        sandbox_pay(wechat_sandbox.url, order["out_trade_no"])
        wait_deliveries(wechat_sandbox.url, order["out_trade_no"])
    ledger = client.get(f"/api/v1/needs/{need.id}/ledger?limit=2").get_json()
    assert ledger["balance_fen"] == before["balance_fen"] + 4000
    assert ledger["expenses"] == []
    top = ledger["income"]["items"]
    assert [(i["donor"], i["amount_fen"]) for i in top] == [("爱心人士", 1700), ("欧**", 2300)]
    assert top[1]["message"] == "祝顺利"
    text = str(ledger)
    assert "欧阳明" not in text
    assert "openid" not in text
    assert "out_trade_no" not in text
    if ledger["income"]["next_cursor"]:
        more = client.get(
            f"/api/v1/needs/{need.id}/ledger?limit=2&cursor={ledger['income']['next_cursor']}"
        )
        assert more.status_code == 200
        assert {i["id"] for i in more.get_json()["income"]["items"]}.isdisjoint(
            {i["id"] for i in top}
        )
    fund = client.get(f"/api/v1/funds/{need.fund_id}").get_json()
    fund_ledger = client.get(f"/api/v1/funds/{need.fund_id}/ledger").get_json()
    assert fund["balance_fen"] == fund_ledger["balance_fen"] >= 4000
    assert fund["raised_fen"] - fund["spent_fen"] == fund["balance_fen"]
    assert client.get("/api/v1/needs/999999/ledger").status_code == 404
    assert client.get("/api/v1/funds/999999/ledger").status_code == 404


def test_progress_reads_redis_alone_once_the_counter_knows_the_goal(client, app) -> None:
    from backend.progress.counter import need_key

    need = open_need(app)
    redis = app.extensions["redis"]
    redis.delete(need_key(need.id))
    first = client.get(f"/api/v1/needs/{need.id}/progress").get_json()  # rebuilt from SQL
    assert int(redis.hget(need_key(need.id), "goal_fen")) == need.goal_fen
    # With the counter in place the answer comes from Redis: change it and the answer follows.
    redis.hincrby(need_key(need.id), "raised_fen", 1)
    second = client.get(f"/api/v1/needs/{need.id}/progress").get_json()
    assert second["raised_fen"] == first["raised_fen"] + 1
    assert second["goal_fen"] == need.goal_fen
    redis.hincrby(need_key(need.id), "raised_fen", -1)
    # A draft never gets the fast path, whatever Redis holds.
    with app.app_context():
        draft = db.session.scalar(sa.select(Need.id).where(Need.status == NeedStatus.DRAFT))
    redis.hset(need_key(draft), mapping={"raised_fen": 0, "donation_count": 0})
    assert client.get(f"/api/v1/needs/{draft}/progress").status_code == 404


def notice_for(app, out_trade_no: str, fee: int, **changes):
    from backend.payments.wechat_pay import parse_notification

    body = to_xml(notification(out_trade_no, fee, **changes))
    return parse_notification(body, app.config["SETTINGS"])


def test_a_copy_waiting_on_the_first_finds_the_order_paid(client, app, donor) -> None:
    """The credit's UPDATE locks the order: a copy queues behind it, then credits nothing."""
    import threading
    import time

    from backend.donations.services import apply_payment

    order = donate(client, donor["token"], need_id=open_need(app).id, amount_fen=1234)
    notice = notice_for(app, order["out_trade_no"], 1234)
    second: dict = {}

    def copy() -> None:
        with app.app_context():
            second["outcome"] = apply_payment(notice)
            db.session.commit()

    with app.app_context():
        first = apply_payment(notice)  # the row stays locked until this commits
        assert first.applied
        waiting = threading.Thread(target=copy)
        waiting.start()
        watch = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        for _ in range(500):
            blocked = watch.scalar(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query LIKE '%UPDATE donations SET status%'"))  # fmt: skip
            if blocked:
                break
            time.sleep(0.01)
        watch.close()
        assert blocked == 1
        db.session.commit()
    waiting.join(10)
    assert second["outcome"].applied is False
    assert second["outcome"].reason == "duplicate"
    assert counts(app, order["out_trade_no"])["entries"] == 1


@both_pay_versions
def test_a_second_transaction_for_a_paid_order_is_refused(
    client, app, donor, caplog, pay_version, pay_environ
) -> None:
    need = open_need(app)
    order = donate(client, donor["token"], need_id=need.id, amount_fen=4321)
    path, body, headers = paid_notice(pay_version, pay_environ, order["out_trade_no"], 4321)
    paid = client.post(path, data=body, headers=headers)
    assert answer_of(pay_version, paid.status_code, paid.get_data(as_text=True)) == "SUCCESS"
    before = progress(client, need.id)
    # WeChat's genuine notice (v3: signed and encrypted) naming another transaction
    path, other, headers = paid_notice(pay_version, pay_environ, order["out_trade_no"], 4321,
                                       transaction_id="4200" + "7" * 24)  # fmt: skip
    answer = client.post(path, data=other, headers=headers)
    assert answer_of(pay_version, answer.status_code, answer.get_data(as_text=True)) == "FAIL"
    if pay_version == "v3":
        assert answer.status_code == 400, answer.data
    assert "ALERT second transaction" in caplog.text
    assert progress(client, need.id)["raised_fen"] == before["raised_fen"]
    assert counts(app, order["out_trade_no"]) == {"status": "paid", "entries": 1, "notices": 2}
