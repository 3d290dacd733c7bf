"""A Hypothesis state machine over orders, payments, duplicates, crashes, closes and Redis
losing its data, driving the real system: PostgreSQL, Redis, the notification endpoint,
orders made through the API (which calls the WeChat sandbox's unified order over HTTP).

After every step: every journal entry balances (two lines at least), each paid donation has
exactly one donation entry and one outbox event, the journal's earmarked accounts equal the
paid donations and the model's totals, and every counter plus the committed events it has
not counted yet equals PostgreSQL. Whenever the worker's repair jobs have run, the progress
read through the API equals PostgreSQL's sums exactly.

Bounded for CI: a few examples of a few steps, well under a minute.
"""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from backend.common.time import utcnow
from backend.donations.models import Donation, DonationStatus
from backend.donations.services import apply_payment, close_donation
from backend.extensions import db
from backend.funds.models import Foundation, Fund
from backend.jobs import tasks
from backend.needs.models import Need, NeedCategory, NeedStatus
from backend.payments.wechat_pay import parse_notification
from backend.progress import service as progress
from backend.progress.counter import applied_key, fund_key, need_key
from backend.regions.models import Region, RegionLevel
from tests.payments_support import notification, to_xml
from tests.permissions import login

#: goals no run can reach, and one a few payments reach (the need is then funded)
LARGE_GOAL_FEN = 10_000_000_000
SMALL_GOAL_FEN = 100_000
MAX_AMOUNT_FEN = 50_000
NOTIFY = "/api/v1/payments/wechat/notify"
SUCCESS = "<return_code><![CDATA[SUCCESS]]></return_code>"
FAIL = "<return_code><![CDATA[FAIL]]></return_code>"

SETTINGS = settings(
    max_examples=8,
    stateful_step_count=15,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

BAD_KINDS = ("wrong amount", "forged signature", "other key", "wrong appid", "wrong mch_id")


@dataclass
class World:
    """What the examples share: a foundation, a community and a logged-in donor."""

    app: Flask
    live_server: str
    foundation_id: int
    region_id: int
    token: str


@dataclass
class Order:
    """The model of one order."""

    out_trade_no: str
    donation_id: int
    amount_fen: int
    need_id: int | None
    transaction_id: str
    status: str = "pending"
    #: notifications posted over HTTP (every one is recorded, however bad)
    notices: int = 0


def make_world(app: Flask, live_server: str) -> World:
    """A community and a foundation of the test's own, and a donor's token."""
    tag = secrets.token_hex(4)
    with app.app_context():
        region = Region(level=RegionLevel.CITY, name=f"性质测试市{tag}", path=f"/pt{tag}/")
        foundation = Foundation(name=f"性质测试基金会{tag}", credit_code=f"PT{tag}".ljust(18, "0"),
                                mch_id="1900000109")  # fmt: skip
        db.session.add_all([region, foundation])
        db.session.commit()
        ids = region.id, foundation.id
        db.session.remove()
    token = login(app.test_client(), "property_donor")["token"]
    return World(app, live_server, foundation_id=ids[1], region_id=ids[0], token=token)


def rows(app: Flask, query: str, **params: Any) -> list[sa.Row]:
    """The rows of a SQL query, read in a context of their own."""
    with app.app_context():
        try:
            return list(db.session.execute(sa.text(query), params).all())
        finally:
            db.session.remove()


class PaymentMachine(RuleBasedStateMachine):
    """Orders to three fresh needs (one with a small goal) and a fresh fund's pool."""

    orders = Bundle("orders")

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world
        self.app = world.app
        self.client = world.app.test_client()
        self.redis = world.app.extensions["redis"]
        self.model: dict[str, Order] = {}
        #: counters deleted from Redis and not yet repaired by check_counters
        self.flushed = False
        tag = secrets.token_hex(4)
        with self.app.app_context():
            fund = Fund(foundation_id=world.foundation_id, region_id=world.region_id,
                        name=f"性质测试基金{tag}", committee_threshold_fen=100_000)  # fmt: skip
            needs = [
                Need(fund=fund, region_id=world.region_id, category=NeedCategory.CONVENIENCE,
                     title=f"性质测试项目{tag}-{i}", story="用于性质测试的项目。",
                     goal_fen=goal, status=NeedStatus.FUNDRAISING, published_at=utcnow())
                for i, goal in enumerate((LARGE_GOAL_FEN, LARGE_GOAL_FEN, SMALL_GOAL_FEN))
            ]  # fmt: skip
            db.session.add_all([fund, *needs])
            db.session.commit()
            self.fund_id = fund.id
            self.goals = {need.id: need.goal_fen for need in needs}
            db.session.remove()
        self.need_ids = list(self.goals)

    # -- the model's figures ------------------------------------------------------------

    def totals(self, orders: list[Order]) -> tuple[int, int]:
        """raised_fen and donation_count of the paid ones among `orders`."""
        paid = [o for o in orders if o.status == "paid"]
        return sum(o.amount_fen for o in paid), len(paid)

    def of_need(self, need_id: int | None) -> tuple[int, int]:
        """The model's figures of a need (None: the fund's general pool)."""
        return self.totals([o for o in self.model.values() if o.need_id == need_id])

    def of_fund(self) -> tuple[int, int]:
        """The model's figures of the whole fund: its needs and its pool."""
        return self.totals(list(self.model.values()))

    def funded(self, need_id: int) -> bool:
        return self.of_need(need_id)[0] >= self.goals[need_id]

    def signed(self, order: Order, **changes: Any) -> bytes:
        return to_xml(notification(order.out_trade_no, order.amount_fen,
                                   transaction_id=order.transaction_id, **changes))  # fmt: skip

    def credit(self, order: Order) -> None:
        """The model's side of a payment: a paid order stays paid; pending or closed → paid."""
        order.status = "paid"

    def snapshot(self, order: Order) -> tuple[Any, ...]:
        """What a refused notification must leave as it was: the order, the books, Redis."""
        keys = [fund_key(self.fund_id)] + [need_key(i) for i in self.need_ids]
        counters = [self.redis.hgetall(k) for k in keys]
        applied = [sorted(self.redis.smembers(applied_key(k))) for k in keys]
        books = rows(
            self.app,
            "SELECT (SELECT count(*) FROM journal_lines), (SELECT count(*) FROM outbox_events),"
            " status, paid_at, transaction_id FROM donations WHERE id = :id",
            id=order.donation_id,
        )
        return books[0], counters, applied

    # -- rules ----------------------------------------------------------------------------

    @rule(target=orders, where=st.integers(0, 3), amount=st.integers(1, MAX_AMOUNT_FEN))
    def create_order(self, where: int, amount: int) -> Any:
        """An order through the API: to one of the needs, or (3) to the fund's pool."""
        need_id = self.need_ids[where] if where < len(self.need_ids) else None
        target = {"need_id": need_id} if need_id else {"fund_id": self.fund_id}
        response = self.client.post("/api/v1/donations", json={**target, "amount_fen": amount},
                                    headers={"Authorization": f"Bearer {self.world.token}"})  # fmt: skip
        body = response.get_json()
        if need_id is not None and self.funded(need_id):
            assert response.status_code == 409, body
            assert body["error"] == "need_not_open", body
            return multiple()
        assert response.status_code == 201, body
        assert (body["status"], body["amount_fen"], body["need_id"]) == ("pending", amount, need_id)
        order = Order(body["out_trade_no"], body["id"], amount, need_id,
                      transaction_id="42000" + secrets.token_hex(11)[:23])  # fmt: skip
        self.model[order.out_trade_no] = order
        return order.out_trade_no

    @rule(out_trade_no=orders)
    def notify(self, out_trade_no: str) -> None:
        """WeChat's signed notification; for a paid order it is a duplicate: SUCCESS again."""
        order = self.model[out_trade_no]
        response = self.client.post(NOTIFY, data=self.signed(order), content_type="text/xml")
        order.notices += 1
        assert response.status_code == 200
        assert SUCCESS in response.get_data(as_text=True), response.get_data(as_text=True)
        self.credit(order)

    @rule(out_trade_no=orders, copies=st.integers(2, 6))
    def notify_copies_concurrently(self, out_trade_no: str, copies: int) -> None:
        """Copies of one notification at once over HTTP: the row lock lets one through."""
        order = self.model[out_trade_no]
        body = self.signed(order)
        answers = self.post_concurrently([body] * copies)
        order.notices += copies
        assert all(SUCCESS in a for a in answers), answers
        self.credit(order)

    @rule(out_trade_nos=st.lists(orders, min_size=2, max_size=4, unique=True))
    def notify_orders_concurrently(self, out_trade_nos: list[str]) -> None:
        """Notifications of several orders (often one need's) at once over HTTP."""
        chosen = [self.model[no] for no in out_trade_nos]
        answers = self.post_concurrently([self.signed(o) for o in chosen])
        assert all(SUCCESS in a for a in answers), answers
        for order in chosen:
            order.notices += 1
            self.credit(order)

    def post_concurrently(self, bodies: list[bytes]) -> list[str]:
        url = f"{self.world.live_server}{NOTIFY}"
        with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
            answers = list(pool.map(lambda b: requests.post(url, data=b, timeout=30), bodies))
        assert all(a.status_code == 200 for a in answers), [a.status_code for a in answers]
        return [a.text for a in answers]

    @rule(out_trade_no=orders, kind=st.sampled_from(BAD_KINDS))
    def bad_notification(self, out_trade_no: str, kind: str) -> None:
        """A notification that must be refused (FAIL) and change nothing."""
        order = self.model[out_trade_no]
        fields = notification(order.out_trade_no, order.amount_fen,
                              transaction_id=order.transaction_id)  # fmt: skip
        if kind == "wrong amount":
            body = to_xml({**fields, "total_fee": order.amount_fen + 1,
                           "cash_fee": order.amount_fen + 1})  # fmt: skip
        elif kind == "forged signature":
            body = to_xml(fields, sign="0" * 32)
        elif kind == "other key":
            body = to_xml(fields, key="k" * 32)
        elif kind == "wrong appid":
            body = to_xml({**fields, "appid": "wx0000000000other"})
        else:
            body = to_xml({**fields, "mch_id": "1900000999"})
        self.refused(order, body, FAIL)

    @rule(out_trade_no=orders)
    def not_paid_notification(self, out_trade_no: str) -> None:
        """A failed payment's notification is handled (SUCCESS) and credits nothing."""
        order = self.model[out_trade_no]
        self.refused(order, self.signed(order, result_code="FAIL"), SUCCESS)

    @rule(out_trade_no=orders)
    def second_transaction(self, out_trade_no: str) -> None:
        """Another transaction for a paid order credits nothing (FAIL, an alert)."""
        order = self.model[out_trade_no]
        if order.status != "paid":
            return
        other = "42000" + secrets.token_hex(11)[:23]
        self.refused(order, self.signed(order, transaction_id=other), FAIL)

    def refused(self, order: Order, body: bytes, expected: str) -> None:
        before = self.snapshot(order)
        response = self.client.post(NOTIFY, data=body, content_type="text/xml")
        order.notices += 1
        assert response.status_code == 200
        assert expected in response.get_data(as_text=True), response.get_data(as_text=True)
        assert self.snapshot(order) == before

    @rule(out_trade_no=orders)
    def crash_after_commit(self, out_trade_no: str) -> None:
        """A payment committed by a process that dies before touching Redis."""
        order = self.model[out_trade_no]
        with self.app.app_context():
            notice = parse_notification(self.signed(order), self.app.config["SETTINGS"])
            outcome = apply_payment(notice)
            db.session.commit()
            db.session.remove()
        assert outcome.applied == (order.status != "paid"), outcome.reason
        self.credit(order)

    @rule(out_trade_no=orders)
    def close(self, out_trade_no: str) -> None:
        """Close a pending order (as after WeChat closed it); a payment may still come."""
        order = self.model[out_trade_no]
        if order.status != "pending":
            return
        with self.app.app_context():
            donation = db.session.scalar(
                sa.select(Donation).where(Donation.id == order.donation_id).with_for_update()
            )
            close_donation(donation)
            db.session.commit()
            db.session.remove()
        order.status = "closed"

    @rule()
    def run_outbox(self) -> None:
        """The worker applies the events left behind."""
        with self.app.app_context():
            tasks.apply_outbox()
        assert rows(self.app, "SELECT count(*) FROM outbox_events WHERE applied_at IS NULL")[0][0] == 0

    @rule()
    def lose_redis_data(self) -> None:
        """Redis loses every counter (and the sets of counted events)."""
        for key in list(self.redis.scan_iter("lsp:*")):
            self.redis.delete(key)
        self.flushed = True

    @rule()
    def repair_counters(self) -> None:
        """The worker checks the counters against PostgreSQL and rebuilds those that differ."""
        with self.app.app_context():
            tasks.check_counters()
        self.flushed = False

    @rule()
    def counters_after_the_worker(self) -> None:
        """Once the worker has run, the progress shown is PostgreSQL's, to the fen."""
        self.run_worker()
        for need_id in self.need_ids:
            shown = self.client.get(f"/api/v1/needs/{need_id}/progress").get_json()
            assert (shown["raised_fen"], shown["donation_count"]) == self.of_need(need_id), need_id
            assert shown["stale"] is False
        with self.app.app_context():
            value = progress.counter().read_many([fund_key(self.fund_id)])[0]
            differences = progress.check_counters()
            db.session.remove()
        expected = self.of_fund()
        if value is None:
            assert expected == (0, 0)
        else:
            assert (value.raised_fen, value.donation_count) == expected
        assert differences == []

    def run_worker(self) -> None:
        with self.app.app_context():
            tasks.apply_outbox()
            if self.flushed:
                tasks.check_counters()
        self.flushed = False

    # -- invariants, after every step -----------------------------------------------------

    @invariant()
    def every_journal_entry_balances(self) -> None:
        unbalanced = rows(
            self.app,
            "SELECT e.id, count(l.id), coalesce(sum(l.amount_fen), 0) FROM journal_entries e"
            " LEFT JOIN journal_lines l ON l.entry_id = e.id GROUP BY e.id"
            " HAVING count(l.id) < 2 OR coalesce(sum(l.amount_fen), 0) <> 0",
        )
        assert unbalanced == []

    @invariant()
    def paid_donations_have_one_entry_and_others_none(self) -> None:
        wrong = rows(
            self.app,
            "SELECT d.id, d.status, d.paid_at, count(e.id) FROM donations d"
            " LEFT JOIN journal_entries e ON e.donation_id = d.id AND e.kind = 'donation'"
            " GROUP BY d.id"
            " HAVING count(e.id) <> CASE WHEN d.paid_at IS NULL THEN 0 ELSE 1 END",
        )
        assert wrong == []

    @invariant()
    def orders_match_the_model(self) -> None:
        if not self.model:
            return
        found = {
            row.out_trade_no: row
            for row in rows(
                self.app,
                "SELECT d.out_trade_no, d.status, d.paid_at IS NOT NULL AS paid,"
                " d.transaction_id, d.amount_fen, d.need_id, d.fund_id,"
                " (SELECT count(*) FROM outbox_events o"
                "   WHERE (o.payload ->> 'donation_id')::bigint = d.id) AS events,"
                " (SELECT count(*) FROM payment_notifications n"
                "   WHERE n.out_trade_no = d.out_trade_no) AS notices,"
                " (SELECT array_agg(l.account || '=' || l.amount_fen ORDER BY l.account)"
                "   FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id"
                "   WHERE e.donation_id = d.id AND e.kind = 'donation') AS lines"
                " FROM donations d WHERE d.id = ANY(:ids)",
                ids=[o.donation_id for o in self.model.values()],
            )
        }
        assert set(found) == set(self.model)
        for order in self.model.values():
            row = found[order.out_trade_no]
            paid = order.status == "paid"
            account = f"need:{order.need_id}" if order.need_id else f"fund:{self.fund_id}"
            assert (row.status, row.paid, row.amount_fen, row.need_id, row.fund_id) == (
                order.status, paid, order.amount_fen, order.need_id, self.fund_id,
            ), order  # fmt: skip
            assert row.transaction_id == (order.transaction_id if paid else None), order
            assert row.events == (1 if paid else 0), order
            assert row.notices == order.notices, order
            expected_lines = sorted(
                [f"clearing:wechat=-{order.amount_fen}", f"{account}={order.amount_fen}"]
            )
            assert (row.lines or []) == (expected_lines if paid else []), order

    @invariant()
    def accounts_equal_paid_donations(self) -> None:
        accounts = [f"need:{i}" for i in self.need_ids] + [f"fund:{self.fund_id}"]
        sums = dict(
            rows(
                self.app,
                "SELECT a.account, coalesce(sum(l.amount_fen), 0) FROM unnest(CAST(:accounts AS text[])) a(account)"
                " LEFT JOIN journal_lines l ON l.account = a.account GROUP BY a.account",
                accounts=accounts,
            )
        )
        with self.app.app_context():
            by_need = progress.need_sums(self.need_ids)
            by_fund = progress.fund_sums([self.fund_id])[self.fund_id]
            statuses = {
                row.id: row.status
                for row in db.session.execute(
                    sa.select(Need.id, Need.status).where(Need.id.in_(self.need_ids))
                )
            }
            db.session.remove()
        for need_id in self.need_ids:
            expected = self.of_need(need_id)
            assert sums[f"need:{need_id}"] == by_need[need_id][0] == expected[0], need_id
            assert by_need[need_id] == expected, need_id
            funded = self.funded(need_id)
            assert statuses[need_id] == (NeedStatus.FUNDED if funded else NeedStatus.FUNDRAISING)
        assert sums[f"fund:{self.fund_id}"] == self.of_need(None)[0]
        assert by_fund == self.of_fund()

    @invariant()
    def counters_plus_uncounted_events_equal_postgresql(self) -> None:
        """A counter may lag behind (a crash, before the worker), never be wrong.

        What it holds, plus the committed events not yet applied that it has not counted
        (not in its set of counted events), is the model's figure; a missing counter is
        read from PostgreSQL (and rebuilt) by the API.
        """
        pending = rows(
            self.app,
            "SELECT id, (payload ->> 'need_id')::bigint, (payload ->> 'fund_id')::bigint,"
            " (payload ->> 'raised_fen')::bigint, (payload ->> 'donation_count')::bigint"
            " FROM outbox_events WHERE applied_at IS NULL",
        )
        targets = [(need_key(i), "need_id", i, self.of_need(i)) for i in self.need_ids]
        targets.append((fund_key(self.fund_id), "fund_id", self.fund_id, self.of_fund()))
        for key, field, target_id, expected in targets:
            raised, count = self.redis.hmget(key, "raised_fen", "donation_count")
            if raised is None:
                continue
            counted = {int(i) for i in self.redis.smembers(applied_key(key))}
            extra = [
                (event[3], event[4])
                for event in pending
                if event[1 if field == "need_id" else 2] == target_id and event[0] not in counted
            ]
            value = (
                int(raised) + sum(e[0] for e in extra),
                int(count) + sum(e[1] for e in extra),
            )
            assert value == expected, (key, value, expected, self.flushed)

    def teardown(self) -> None:
        # Leave nothing in flight for the next example: events applied, counters whole.
        self.run_worker()


@pytest.mark.usefixtures("wechat_sandbox", "clean")
def test_payments_keep_the_books_and_the_counters(app: Flask, live_server: str) -> None:
    world = make_world(app, live_server)
    run_state_machine_as_test(lambda: PaymentMachine(world), settings=SETTINGS)
