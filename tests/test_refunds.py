"""Refunds end to end through the WeChat sandbox: asked for under the spending lock, sent
after the commit, settled once by the notice, the worker's query or a copy; the journal,
the donation, the counter and the allocations stay exact."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from backend.audit.models import AuditEvent
from backend.donations.models import Donation, PaymentNotification
from backend.extensions import db
from backend.jobs import tasks
from backend.ledger.models import JournalEntry
from backend.ledger.services import balance, fund_pool_account, need_account
from backend.refunds.models import NeedLeftover, Refund, RefundStatus
from backend.refunds.services import request_refund
from backend.wechat_sandbox.config import DEFAULT_APPID, DEFAULT_MCH_ID, DEFAULT_PAY_KEY
from backend.wechat_sandbox.crypto import encrypt_req_info
from tests.payments_support import sandbox_pay, wait_deliveries
from tests.permissions import Actors, login
from tests.spending_support import auth, decide, disburse, fresh_need, spending_team, submit
from tests.support import assert_error_shape
from tests.test_spending import race, set_threshold
from tests.v3_support import both_pay_versions

pytestmark = pytest.mark.usefixtures("demo", "live_server")


@pytest.fixture(scope="module")
def team(app) -> Actors:
    return spending_team(app, "R1")


@pytest.fixture(scope="module")
def donor(app) -> str:
    return login(app.test_client(), "refund_donor")["token"]


def paid(client, sandbox_url: str, token: str, amount_fen: int, **target: Any) -> dict:
    """A donation ordered through the API and paid at the sandbox, its notice delivered."""
    response = client.post(
        "/api/v1/donations", json={"amount_fen": amount_fen, **target}, headers=auth(token)
    )
    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    sandbox_pay(sandbox_url, order["out_trade_no"])
    wait_deliveries(sandbox_url, order["out_trade_no"])
    return order


def refund(client, team: Actors, donation_id: int, amount_fen: int, who: str = "foundation_admin",
           key: str | None = None, reason: str = "捐赠人申请退款") -> Any:  # fmt: skip
    headers = auth(team.tokens[who]) if who else {}
    if key:
        headers["Idempotency-Key"] = key
    return client.post(
        f"/api/v1/donations/{donation_id}/refunds",
        json={"amount_fen": amount_fen, "reason": reason},
        headers=headers,
    )


def donation_row(app, donation_id: int) -> Donation:
    with app.app_context():
        donation = db.session.get(Donation, donation_id)
        db.session.expunge(donation)
        return donation


def refund_entries(app, donation_id: int) -> list[list[tuple[str, int]]]:
    with app.app_context():
        entries = db.session.scalars(
            sa.select(JournalEntry)
            .where(JournalEntry.donation_id == donation_id, JournalEntry.kind == "refund")
            .order_by(JournalEntry.id)
        ).all()
        return [sorted((line.account, line.amount_fen) for line in e.lines) for e in entries]


def progress(client, need_id: int) -> dict:
    return client.get(f"/api/v1/needs/{need_id}/progress").get_json()


@both_pay_versions
def test_a_refund_in_two_parts_reverses_journal_counter_and_status(
    app, client, team, donor, wechat_sandbox, pay_version
) -> None:
    need_id = fresh_need(client, team)
    order = paid(client, wechat_sandbox.url, donor, 5_000, need_id=need_id)
    assert progress(client, need_id)["raised_fen"] == 5_000

    first = refund(client, team, order["id"], 2_000, key="refund-0001-aaaa")
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["status"] == "requested"
    assert first.get_json()["amount_fen"] == 2_000
    # A retry with the same key answers the first refund and asks for nothing more.
    again = refund(client, team, order["id"], 2_000, key="refund-0001-aaaa")
    assert again.status_code == 201 and again.get_json()["id"] == first.get_json()["id"]
    wait_deliveries(wechat_sandbox.url, order["out_trade_no"])

    listed = client.get(f"/api/v1/donations/{order['id']}/refunds", headers=auth(donor))
    assert [(r["amount_fen"], r["status"]) for r in listed.get_json()["items"]] == [
        (2_000, "succeeded")
    ]
    mine = client.get(f"/api/v1/donations/{order['id']}", headers=auth(donor)).get_json()
    assert (mine["status"], mine["refunded_fen"], mine["refunding_fen"]) == (
        "partially_refunded", 2_000, 0)  # fmt: skip
    assert refund_entries(app, order["id"]) == [
        [("clearing:wechat", 2_000), (f"need:{need_id}", -2_000)]
    ]
    after = progress(client, need_id)
    assert (after["raised_fen"], after["donation_count"]) == (3_000, 1)

    rest = refund(client, team, order["id"], 3_000)
    assert rest.status_code == 201, rest.get_json()
    wait_deliveries(wechat_sandbox.url, order["out_trade_no"])
    mine = client.get(f"/api/v1/donations/{order['id']}", headers=auth(donor)).get_json()
    assert (mine["status"], mine["refunded_fen"]) == ("refunded", 5_000)
    after = progress(client, need_id)
    assert (after["raised_fen"], after["donation_count"]) == (0, 0)
    with app.app_context():
        assert balance([need_account(need_id)]) == 0
        notices = db.session.scalars(
            sa.select(PaymentNotification.outcome).where(
                PaymentNotification.kind == "refund",
                PaymentNotification.out_trade_no == order["out_trade_no"],
            )
        ).all()
        assert notices == ["applied", "applied"]
        bodies = db.session.scalars(sa.select(PaymentNotification.body).where(
            PaymentNotification.out_trade_no == order["out_trade_no"])).all()  # fmt: skip
        # each version's own notices: v2's XML, v3's JSON (payment, then the two refunds)
        assert all(b.startswith("{" if pay_version == "v3" else "<xml>") for b in bodies)
        assert len(bodies) == 3
        actions = db.session.scalars(
            sa.select(AuditEvent.action)
            .where(AuditEvent.object_type == "donation", AuditEvent.object_id == order["id"])
            .order_by(AuditEvent.id)
        ).all()
        assert actions == ["donation.refund", "donation.refunded"] * 2
    nothing_left = refund(client, team, order["id"], 1)
    assert_error_shape(nothing_left.get_json(), 409, "donation_refunded")
    # The counter and PostgreSQL agree.
    from backend.progress.service import check_counters, need_key

    with app.app_context():
        assert [d for d in check_counters() if d.key == need_key(need_id)] == []


def test_refunds_are_refused_clearly_and_change_nothing(
    app, client, team, donor, wechat_sandbox
) -> None:
    need_id = fresh_need(client, team)
    order = paid(client, wechat_sandbox.url, donor, 3_000, need_id=need_id)
    too_much = refund(client, team, order["id"], 3_001)
    assert_error_shape(too_much.get_json(), 409, "refund_exceeds_refundable")
    assert "可退¥30.00" in too_much.get_json()["message"]
    assert refund(client, team, order["id"], 100, who="secretary").status_code == 403
    assert refund(client, team, order["id"], 100, who="").status_code == 401
    # The donor, like anyone without a role, learns nothing of a refund endpoint.
    by_donor = client.post(f"/api/v1/donations/{order['id']}/refunds",
                           json={"amount_fen": 100, "reason": "x"}, headers=auth(donor))  # fmt: skip
    assert_error_shape(by_donor.get_json(), 404, "donation_not_found")
    bad = refund(client, team, order["id"], 100, reason="")
    assert bad.status_code == 422
    pending = client.post("/api/v1/donations", json={"amount_fen": 500, "need_id": need_id},
                          headers=auth(donor)).get_json()  # fmt: skip
    assert_error_shape(refund(client, team, pending["id"], 500).get_json(), 409,
                       "donation_not_paid")  # fmt: skip
    # Over a year after the payment WeChat refunds nothing.
    with app.app_context():
        db.session.execute(sa.update(Donation).where(Donation.id == order["id"]).values(
            paid_at=Donation.paid_at - timedelta(days=366)))  # fmt: skip
        db.session.commit()
    late = refund(client, team, order["id"], 100)
    assert_error_shape(late.get_json(), 409, "refund_window_closed")
    row = donation_row(app, order["id"])
    assert (row.status.value, row.refunded_fen, row.refunding_fen) == ("paid", 0, 0)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Refund).where(
            Refund.donation_id == order["id"])) == 0  # fmt: skip


def test_spent_and_held_money_cannot_be_refunded(app, client, team, donor, wechat_sandbox) -> None:
    set_threshold(app, team.fund_id, 1_000_000)
    need_id = fresh_need(client, team)
    order = paid(client, wechat_sandbox.url, donor, 5_000, need_id=need_id)
    spent = submit(client, team, 3_000, need_id=need_id).get_json()["id"]
    assert decide(client, team, spent, "committee").status_code == 200
    held = refund(client, team, order["id"], 2_500)
    assert_error_shape(held.get_json(), 409, "insufficient_balance")
    assert disburse(client, team, spent).status_code == 200
    over = refund(client, team, order["id"], 2_001)
    assert_error_shape(over.get_json(), 409, "refund_exceeds_refundable")
    assert "已使用的善款不能退还" in over.get_json()["message"]
    ok = refund(client, team, order["id"], 2_000)
    assert ok.status_code == 201, ok.get_json()
    wait_deliveries(wechat_sandbox.url, order["out_trade_no"])
    row = donation_row(app, order["id"])
    assert (row.allocated_fen, row.refunded_fen, row.status.value) == (
        3_000, 2_000, "partially_refunded")  # fmt: skip
    with app.app_context():
        assert balance([need_account(need_id)]) == 0


def test_a_refund_racing_an_approval_and_disbursement_never_spends_twice(
    app, client, team, donor, wechat_sandbox
) -> None:
    set_threshold(app, team.fund_id, 1_000_000)
    outcomes = set()
    for _ in range(4):
        need_id = fresh_need(client, team)
        order = paid(client, wechat_sandbox.url, donor, 4_000, need_id=need_id)
        expense = submit(client, team, 4_000, need_id=need_id).get_json()["id"]
        approval, asked = race([
            lambda e=expense: decide(app.test_client(), team, e, "committee"),
            lambda d=order["id"]: refund(app.test_client(), team, d, 4_000),
        ])  # fmt: skip
        codes = (approval.status_code, asked.status_code)
        assert sorted(codes) in ([200, 409], [201, 409]), (approval.get_json(), asked.get_json())
        outcomes.add(codes)
        if approval.status_code == 200:
            assert disburse(client, team, expense).status_code == 200
        wait_deliveries(wechat_sandbox.url, order["out_trade_no"])
        row = donation_row(app, order["id"])
        assert row.allocated_fen + row.refunded_fen == 4_000
        assert row.refunding_fen == 0
        with app.app_context():
            assert balance([need_account(need_id)]) == 0
    assert outcomes  # at least one round ran; both orders are allowed


def refund_notice(out_trade_no: str, out_refund_no: str, refund_fee: int, total_fee: int,
                  status: str = "SUCCESS", key: str = DEFAULT_PAY_KEY) -> bytes:  # fmt: skip
    """A refund notice as WeChat sends it: req_info encrypted under the merchant key."""
    inner = {
        "out_refund_no": out_refund_no, "out_trade_no": out_trade_no, "refund_fee": refund_fee,
        "refund_id": "50000000000000000000000000001", "refund_status": status,
        "settlement_refund_fee": refund_fee, "settlement_total_fee": total_fee,
        "success_time": "2026-11-30 10:00:00", "total_fee": total_fee,
        "transaction_id": "4200000000000000000000000001",
    }  # fmt: skip
    plain = "<root>" + "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in inner.items()) + "</root>"
    outer = {"return_code": "SUCCESS", "appid": DEFAULT_APPID, "mch_id": DEFAULT_MCH_ID,
             "nonce_str": "n0nce", "req_info": encrypt_req_info(plain, key)}  # fmt: skip
    return ("<xml>" + "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in outer.items())
            + "</xml>").encode()  # fmt: skip


def held_refund(app, donation_id: int, amount_fen: int) -> str:
    """A refund recorded and held but not sent (as after a crash before the send)."""
    with app.app_context():
        refund_row = request_refund(None, db.session.get(Donation, donation_id), amount_fen,
                                    "测试")  # fmt: skip
        db.session.commit()
        return refund_row.out_refund_no


def test_the_refund_notice_delivered_many_times_at_once_settles_once(
    app, client, team, donor, wechat_sandbox, live_server
) -> None:
    need_id = fresh_need(client, team)
    order = paid(client, wechat_sandbox.url, donor, 6_000, need_id=need_id)
    out_refund_no = held_refund(app, order["id"], 6_000)
    body = refund_notice(order["out_trade_no"], out_refund_no, 6_000, 6_000)
    url = f"{live_server}/api/v1/payments/wechat/refund-notify"
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: requests.post(url, data=body, timeout=30), range(8)))
    assert all(b"SUCCESS" in a.content for a in answers)
    assert refund_entries(app, order["id"]) == [
        [("clearing:wechat", 6_000), (f"need:{need_id}", -6_000)]
    ]
    with app.app_context():
        outcomes = sorted(db.session.scalars(sa.select(PaymentNotification.outcome).where(
            PaymentNotification.kind == "refund",
            PaymentNotification.out_trade_no == order["out_trade_no"])))  # fmt: skip
    assert outcomes == ["applied"] + ["duplicate"] * 7
    assert progress(client, need_id)["raised_fen"] == 0
    assert donation_row(app, order["id"]).status.value == "refunded"


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("another key", lambda o, r: refund_notice(o, r, 1_000, 1_000, key="k" * 32)),
        ("another amount", lambda o, r: refund_notice(o, r, 999, 1_000)),
        ("another order", lambda o, r: refund_notice("LS0000", r, 1_000, 1_000)),
        ("not xml", lambda o, r: b"<xml><req_info>"),
        (
            "not base64",
            lambda o, r: b"<xml><return_code>SUCCESS</return_code><req_info>!!</req_info></xml>",
        ),
    ],
)
def test_forged_or_wrong_refund_notices_settle_nothing(
    app, client, team, donor, wechat_sandbox, name, make
) -> None:
    need_id = fresh_need(client, team)
    order = paid(client, wechat_sandbox.url, donor, 1_000, need_id=need_id)
    out_refund_no = held_refund(app, order["id"], 1_000)
    answer = client.post("/api/v1/payments/wechat/refund-notify",
                         data=make(order["out_trade_no"], out_refund_no))  # fmt: skip
    assert b"FAIL" in answer.data, name
    assert refund_entries(app, order["id"]) == []
    row = donation_row(app, order["id"])
    assert (row.status.value, row.refunding_fen, row.refunded_fen) == ("refunding", 1_000, 0)
    assert progress(client, need_id)["raised_fen"] == 1_000


@both_pay_versions
def test_the_worker_sends_a_held_refund_and_settles_it_from_the_query(
    app, client, team, donor, wechat_sandbox, clock
) -> None:
    need_id = fresh_need(client, team)
    order = paid(client, wechat_sandbox.url, donor, 2_500, need_id=need_id)
    out_refund_no = held_refund(app, order["id"], 2_500)
    clock.advance(minutes=2)
    with app.app_context():
        first = tasks.sync_refunds()
    # Sent now; WeChat's notice and the next run race to settle it: whichever is first.
    wait_deliveries(wechat_sandbox.url, order["out_trade_no"])
    clock.advance(minutes=2)
    with app.app_context():
        tasks.sync_refunds()
        refund_row = db.session.scalar(sa.select(Refund).where(
            Refund.out_refund_no == out_refund_no))  # fmt: skip
        assert refund_row.status == RefundStatus.SUCCEEDED
        assert refund_row.attempts == 1
    assert first["open"] >= 1  # ours was sent, and is settled only once WeChat says so
    assert len(refund_entries(app, order["id"])) == 1
    assert progress(client, need_id)["raised_fen"] == 0


@both_pay_versions
def test_a_closed_need_refunds_its_leftover_to_every_donor_with_money_left(
    app, client, team, donor, wechat_sandbox
) -> None:
    set_threshold(app, team.fund_id, 1_000_000)
    need_id = fresh_need(client, team)
    orders = [paid(client, wechat_sandbox.url, donor, amount, need_id=need_id)
              for amount in (1_000, 2_000, 3_000)]  # fmt: skip
    spent = submit(client, team, 1_500, need_id=need_id).get_json()["id"]
    decide(client, team, spent, "committee")
    disburse(client, team, spent)
    admin = auth(team.tokens["foundation_admin"])
    early = client.post(f"/api/v1/needs/{need_id}/leftover",
                        json={"action": "refund", "decision": "决议"}, headers=admin)  # fmt: skip
    assert_error_shape(early.get_json(), 409, "need_not_finished")
    close_need(app, need_id)
    view = client.get(f"/api/v1/needs/{need_id}/leftover", headers=admin).get_json()
    assert (view["left_fen"], view["refundable_count"], view["decision"]) == (4_500, 2, None)
    decided = client.post(
        f"/api/v1/needs/{need_id}/leftover",
        json={"action": "refund", "decision": "2026年第4次委员会会议：结余退还捐赠人"},
        headers=admin,
    )
    assert decided.status_code == 201, decided.get_json()
    assert decided.get_json()["decision"]["amount_fen"] == 4_500
    for order in orders:
        wait_deliveries(wechat_sandbox.url, order["out_trade_no"])
    rows = [donation_row(app, o["id"]) for o in orders]
    # Oldest first was spent: the first donation all of it, the second half of it.
    assert [(r.allocated_fen, r.refunded_fen, r.status.value) for r in rows] == [
        (1_000, 0, "paid"), (500, 1_500, "partially_refunded"), (0, 3_000, "refunded")]  # fmt: skip
    with app.app_context():
        assert balance([need_account(need_id)]) == 0
    twice = client.post(f"/api/v1/needs/{need_id}/leftover",
                        json={"action": "to_pool", "decision": "再次"}, headers=admin)  # fmt: skip
    assert_error_shape(twice.get_json(), 409, "leftover_decided")


def close_need(app, need_id: int) -> None:
    from backend.common.time import utcnow
    from backend.needs.models import Need, NeedStatus

    with app.app_context():
        need = db.session.get(Need, need_id)
        need.status, need.ended_at = NeedStatus.CLOSED, utcnow()
        db.session.commit()


@both_pay_versions
def test_a_leftover_moved_to_the_pool_is_spent_and_refunded_from_the_pool(
    app, client, team, donor, wechat_sandbox
) -> None:
    set_threshold(app, team.fund_id, 1_000_000)
    need_id = fresh_need(client, team)
    order = paid(client, wechat_sandbox.url, donor, 2_000, need_id=need_id)
    close_need(app, need_id)
    with app.app_context():
        pool_before = balance([fund_pool_account(team.fund_id)])
    admin = auth(team.tokens["foundation_admin"])
    moved = client.post(
        f"/api/v1/needs/{need_id}/leftover",
        json={"action": "to_pool", "decision": "2026年第5次委员会会议：结余转入基金池"},
        headers=admin,
    )
    assert moved.status_code == 201, moved.get_json()
    with app.app_context():
        assert balance([need_account(need_id)]) == 0
        assert balance([fund_pool_account(team.fund_id)]) == pool_before + 2_000
        decision = db.session.scalar(sa.select(NeedLeftover).where(NeedLeftover.need_id == need_id))
        assert decision.journal_entry_id is not None
    assert donation_row(app, order["id"]).pooled is True
    # The donation's money is the pool's now: a refund takes it from there.
    back = refund(client, team, order["id"], 500)
    assert back.status_code == 201, back.get_json()
    wait_deliveries(wechat_sandbox.url, order["out_trade_no"])
    with app.app_context():
        assert balance([fund_pool_account(team.fund_id)]) == pool_before + 1_500
    assert progress(client, need_id)["raised_fen"] == 1_500
    # A pool expense of all the pool holds is allocated to it too (the oldest first).
    with app.app_context():
        everything = balance([fund_pool_account(team.fund_id)])
    expense = submit(client, team, everything).get_json()["id"]
    assert decide(client, team, expense, "committee").status_code == 200
    assert disburse(client, team, expense).status_code == 200
    assert donation_row(app, order["id"]).allocated_fen == 1_500
