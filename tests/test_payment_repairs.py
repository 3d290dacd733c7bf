"""What goes wrong around payments is repaired: Redis down, a crash after the commit, lost
notifications, expired orders, a need reaching its goal, counters that drift."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import requests
import sqlalchemy as sa

from backend.common.time import utcnow
from backend.donations.models import Donation, DonationStatus
from backend.donations.services import apply_payment
from backend.extensions import db
from backend.funds.models import Fund
from backend.jobs import tasks
from backend.needs.models import Need, NeedCategory, NeedStatus
from backend.progress.counter import need_key
from backend.progress.service import rebuild_need
from tests.conftest import free_port
from tests.payments_support import (
    move_sandbox_clock,
    sandbox_pay,
    wait_deliveries,
)
from tests.permissions import login
from tests.v3_support import answer_of, both_pay_versions, paid_notice, parsed_notice

pytestmark = pytest.mark.usefixtures("demo", "live_server")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def donor(app) -> dict:
    return login(app.test_client(), "donor_wang")


def small_need(app, goal_fen: int = 100_000) -> int:
    """A fresh fundraising need of its own, so that its figures start at zero."""
    with app.app_context():
        fund = db.session.scalar(sa.select(Fund).order_by(Fund.id))
        need = Need(fund=fund, region_id=fund.region_id, category=NeedCategory.CONVENIENCE,
                    title="修复测试项目", story="用于检验支付修复的项目。", goal_fen=goal_fen,
                    status=NeedStatus.FUNDRAISING, published_at=utcnow())  # fmt: skip
        db.session.add(need)
        db.session.commit()
        return need.id


def donate(client, token: str, **body) -> dict:
    response = client.post("/api/v1/donations", json=body, headers=auth(token))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def status_of(app, donation_id: int) -> DonationStatus:
    with app.app_context():
        return db.session.get(Donation, donation_id).status


@both_pay_versions
def test_redis_down_during_a_notification(
    make_app, app, donor, private_redis, pay_version, pay_environ
) -> None:
    other = make_app({"REDIS_URL": private_redis.url})
    client = other.test_client()
    need_id = small_need(app)
    order = donate(client, donor["token"], need_id=need_id, amount_fen=2500)
    private_redis.stop()

    path, body, headers = paid_notice(pay_version, pay_environ, order["out_trade_no"], 2500)
    response = client.post(path, data=body, headers=headers)
    assert answer_of(pay_version, response.status_code, response.get_data(as_text=True)) == (
        "SUCCESS"
    )
    assert status_of(app, order["id"]) == DonationStatus.PAID  # recorded all the same

    progress = client.get(f"/api/v1/needs/{need_id}/progress")
    assert progress.status_code == 200
    assert progress.get_json()["stale"] is True
    assert progress.get_json()["raised_fen"] == 2500  # from PostgreSQL
    assert client.get("/api/v1/needs?fund_id=1&limit=100").status_code == 200

    private_redis.start()  # back, empty: every counter lost
    with other.app_context():
        tasks.apply_outbox()
        tasks.check_counters()
    progress = client.get(f"/api/v1/needs/{need_id}/progress").get_json()
    assert progress == {**progress, "raised_fen": 2500, "donation_count": 1, "stale": False}
    with other.app_context():
        from backend.progress.service import check_counters

        assert check_counters() == []


@both_pay_versions
def test_a_crash_between_commit_and_redis_is_repaired_by_the_worker(
    client, app, donor, pay_version, pay_environ
) -> None:
    need_id = small_need(app)
    with app.app_context():
        assert rebuild_need(need_id)  # the counter exists, at zero
        db.session.commit()
    order = donate(client, donor["token"], need_id=need_id, amount_fen=4100)
    with app.app_context():
        # The request's transaction commits, then the process dies before touching Redis.
        notice = parsed_notice(app, pay_version, pay_environ, order["out_trade_no"], 4100)
        assert apply_payment(notice).applied
        db.session.commit()
    assert client.get(f"/api/v1/needs/{need_id}/progress").get_json()["raised_fen"] == 0
    with app.app_context():
        assert tasks.apply_outbox() >= 1
    assert client.get(f"/api/v1/needs/{need_id}/progress").get_json()["raised_fen"] == 4100
    with app.app_context():
        assert tasks.apply_outbox() == 0
    assert client.get(f"/api/v1/needs/{need_id}/progress").get_json()["raised_fen"] == 4100


@both_pay_versions
def test_a_lost_notification_is_found_by_querying(
    make_app, app, donor, wechat_sandbox, clock
) -> None:
    nowhere = make_app({"PUBLIC_BASE_URL": f"http://127.0.0.1:{free_port()}"})
    client = nowhere.test_client()
    need_id = small_need(app)
    order = donate(client, donor["token"], need_id=need_id, amount_fen=1800)
    sandbox_pay(wechat_sandbox.url, order["out_trade_no"])
    deliveries = wait_deliveries(wechat_sandbox.url, order["out_trade_no"])
    assert deliveries[0]["status"] == "gave_up"
    assert status_of(app, order["id"]) == DonationStatus.PENDING
    with app.app_context():
        assert tasks.reconcile_pending_orders()["paid"] == 0  # too young to ask about
    clock.advance(minutes=4)
    with app.app_context():
        assert tasks.reconcile_pending_orders()["paid"] == 1
    assert status_of(app, order["id"]) == DonationStatus.PAID
    progress = app.test_client().get(f"/api/v1/needs/{need_id}/progress").get_json()
    assert progress["raised_fen"] == 1800


@both_pay_versions
def test_expired_orders_are_closed_not_before_five_minutes(
    client, app, donor, wechat_sandbox, clock
) -> None:
    need_id = small_need(app)
    order = donate(client, donor["token"], need_id=need_id, amount_fen=900)
    clock.advance(minutes=3)
    with app.app_context():
        tasks.close_stale_orders()
    assert status_of(app, order["id"]) == DonationStatus.PENDING
    clock.advance(minutes=13)
    move_sandbox_clock(wechat_sandbox.url, 16 * 60)
    try:
        with app.app_context():
            assert tasks.close_stale_orders()["closed"] >= 1
    finally:
        move_sandbox_clock(wechat_sandbox.url, -16 * 60)
    assert status_of(app, order["id"]) == DonationStatus.CLOSED
    state = requests.get(f"{wechat_sandbox.url}sandbox/orders/{order['out_trade_no']}", timeout=5)
    assert "CLOSED" in state.text


@both_pay_versions
def test_reaching_the_goal_funds_the_need_and_late_payments_are_kept(
    client, app, donor, wechat_sandbox
) -> None:
    need_id = small_need(app, goal_fen=1000)
    early = donate(client, donor["token"], need_id=need_id, amount_fen=800)  # still open
    first = donate(client, donor["token"], need_id=need_id, amount_fen=600)
    second = donate(client, donor["token"], need_id=need_id, amount_fen=600)
    for order in (first, second):
        sandbox_pay(wechat_sandbox.url, order["out_trade_no"])
        wait_deliveries(wechat_sandbox.url, order["out_trade_no"])
    public = client.get(f"/api/v1/needs/{need_id}").get_json()
    assert public["status"] == "funded"
    refused = client.post("/api/v1/donations", json={"need_id": need_id, "amount_fen": 100},
                          headers=auth(donor["token"]))  # fmt: skip
    assert refused.status_code == 409
    assert refused.get_json()["error"] == "need_not_open"
    # A payment already under way still arrives: it is kept and shown as excess.
    sandbox_pay(wechat_sandbox.url, early["out_trade_no"])
    wait_deliveries(wechat_sandbox.url, early["out_trade_no"])
    assert status_of(app, early["id"]) == DonationStatus.PAID
    progress = client.get(f"/api/v1/needs/{need_id}/progress").get_json()
    assert progress["raised_fen"] == 2000
    assert progress["excess_fen"] == 1000
    assert progress["percent"] == 200


@both_pay_versions
def test_progress_check_and_rebuild_commands(client, app, donor, wechat_sandbox) -> None:
    need_id = small_need(app)
    order = donate(client, donor["token"], need_id=need_id, amount_fen=700)
    sandbox_pay(wechat_sandbox.url, order["out_trade_no"])
    wait_deliveries(wechat_sandbox.url, order["out_trade_no"])
    runner = app.test_cli_runner()
    assert runner.invoke(args=["progress", "rebuild"]).exit_code == 0
    first = runner.invoke(args=["progress", "check"])
    assert first.exit_code == 0, first.output
    app.extensions["redis"].hincrby(need_key(need_id), "raised_fen", 5)
    checked = runner.invoke(args=["progress", "check"])
    assert checked.exit_code != 0
    assert need_key(need_id) in checked.output
    rebuilt = runner.invoke(args=["progress", "rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert runner.invoke(args=["progress", "check"]).exit_code == 0
    assert client.get(f"/api/v1/needs/{need_id}/progress").get_json()["raised_fen"] == 700


@both_pay_versions
def test_copies_across_gunicorn_workers_count_once(
    app, test_environ, wechat_sandbox, project_root
) -> None:
    port = free_port()
    env = {**os.environ, **test_environ, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "3", "--bind", f"127.0.0.1:{port}",
         "backend:create_app()"],
        env=env, cwd=project_root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if requests.get(f"{base}/readyz", timeout=10).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        need_id = small_need(app)
        token = requests.post(f"{base}/api/v1/auth/wechat-login",
                              json={"code": "gunicorn_donor.1"}, timeout=10).json()["token"]  # fmt: skip
        order = requests.post(f"{base}/api/v1/donations", json={"need_id": need_id, "amount_fen": 321},
                              headers=auth(token), timeout=10).json()  # fmt: skip
        sandbox_pay(wechat_sandbox.url, order["out_trade_no"], duplicates=20, concurrent=True)
        deliveries = wait_deliveries(wechat_sandbox.url, order["out_trade_no"])
        attempts = [a for d in deliveries for a in d["attempts"]]
        assert len(attempts) >= 21
        assert all(a["answer_ok"] for a in attempts)
        progress = requests.get(f"{base}/api/v1/needs/{need_id}/progress", timeout=5).json()
        assert (progress["raised_fen"], progress["donation_count"]) == (321, 1)
        with app.app_context():
            from backend.ledger.models import JournalEntry

            entries = db.session.scalar(sa.select(sa.func.count()).select_from(JournalEntry).where(
                JournalEntry.donation_id == order["id"]))  # fmt: skip
        assert entries == 1
    finally:
        server.terminate()
        server.wait(timeout=30)


@both_pay_versions
def test_the_worker_funds_a_need_whose_goal_a_crash_left_unchecked(
    client, app, donor, pay_version, pay_environ
) -> None:
    need_id = small_need(app, goal_fen=500)
    order = donate(client, donor["token"], need_id=need_id, amount_fen=500)
    with app.app_context():
        notice = parsed_notice(app, pay_version, pay_environ, order["out_trade_no"], 500)
        assert apply_payment(notice).applied
        db.session.commit()  # the process dies before the after-commit goal check
    assert client.get(f"/api/v1/needs/{need_id}").get_json()["status"] == "fundraising"
    with app.app_context():
        assert tasks.fund_reached_needs() >= 1
        assert tasks.fund_reached_needs() == 0
    assert client.get(f"/api/v1/needs/{need_id}").get_json()["status"] == "funded"


@both_pay_versions
def test_a_payment_counted_by_another_process_shows_at_once(
    make_app, app, donor, pay_version, pay_environ
) -> None:
    """Progress reads are served from the process's copy, which Redis invalidates."""
    reader = make_app({"PROGRESS_CACHE_MS": "60000"})  # one process reads ...
    payer = make_app()  # ... another takes the payment: each has its own connections
    need_id = small_need(app)
    with app.app_context():
        assert rebuild_need(need_id)  # the counter exists, with the need's goal
        db.session.commit()
    path = f"/api/v1/needs/{need_id}/progress"
    client = reader.test_client()
    assert client.get(path).get_json()["raised_fen"] == 0  # read from Redis and copied
    near = reader.extensions["progress_counter"].near
    assert (near.hits, near.misses) == (0, 1)
    assert client.get(path).get_json()["raised_fen"] == 0
    assert (near.hits, near.misses) == (1, 1)  # served from the copy, no round trip
    order = donate(payer.test_client(), donor["token"], need_id=need_id, amount_fen=2300)
    notify, body, headers = paid_notice(pay_version, pay_environ, order["out_trade_no"], 2300)
    answer = payer.test_client().post(notify, data=body, headers=headers)
    assert answer_of(pay_version, answer.status_code, answer.get_data(as_text=True)) == "SUCCESS"
    progress = client.get(path).get_json()
    assert (progress["raised_fen"], progress["donation_count"], progress["stale"]) == (
        2300, 1, False,
    )  # fmt: skip
    assert near.invalidations >= 1
