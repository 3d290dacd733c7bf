"""Where each donation's money went: allocations of disbursed expenses (spending.allocation).

Property tests (Hypothesis) run random histories against the real system: orders made
through the API (the WeChat sandbox's unified order over HTTP), paid by signed
notifications through `apply_payment` (the notification endpoint's own path), expenses
disbursed by `spending.services.disburse_expense` (the account's lock, the balance check,
the journal entry, then `allocate`). Payments arrive with random WeChat payment times
(ties and late arrivals included), expenses of random amounts from two needs and the
fund's pool in random order. After every disbursement the allocations must be exactly
those of a model of THE RULE; after every history:

- a donation's allocations add up to its `allocated_fen`, never more than its net amount;
- an expense's allocations add up exactly to its amount;
- per account, the donations' `allocated_fen` add up to the disbursed amounts, and what is
  left of them to the journal's balance;
- FIFO: no donation was touched while an older one (paid_at, then id) had money left;
- the same history gives the same allocations (the model is a function of the history,
  and a history replayed on new accounts allocates the same way).

Refunds are steps of the histories too: a random share of what is left of a random
donation (over 100%: more than is left, which must be refused and change nothing), asked
for through `refunds.services.request_refund` (the account's lock and checks) and settled
by `settle_refund` as WeChat's notice would; every figure goes through `left_of`/`net_of`,
which subtract `refunded_fen`.
"""

from __future__ import annotations

import secrets
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from backend.accounts.models import Role, User
from backend.accounts.services import find_user, grant_role
from backend.common.errors import DomainError
from backend.common.time import BEIJING, utcnow
from backend.donations.models import Donation
from backend.donations.services import apply_payment
from backend.extensions import db
from backend.funds.models import Foundation, Fund
from backend.ledger.services import balance, fund_pool_account, need_account, write_entry
from backend.needs.models import Need, NeedCategory, NeedStatus
from backend.payments.wechat_pay import parse_notification
from backend.regions.models import Region, RegionLevel
from backend.spending import allocation
from backend.spending.allocation import (
    AllocationTotals,
    allocate,
    allocations_for,
    expense_allocations,
)
from backend.spending.models import Allocation, Expense, ExpenseStatus, PayeeType
from backend.spending.services import disburse_expense
from tests.payments_support import notification, to_xml
from tests.permissions import Actors, login
from tests.spending_support import auth, decide, disburse, give, submit
from tests.support import counting_queries

pytestmark = pytest.mark.usefixtures("wechat_sandbox", "clean")

SETTINGS = settings(
    max_examples=15,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

#: where money goes and is spent from: two needs (by position) or the fund's pool
NEEDS = 2
POOL = NEEDS
WHERE = st.integers(0, POOL)
#: 0.01 to 500 yuan, many small
AMOUNT = st.one_of(st.integers(1, 500), st.integers(501, 50_000))
#: a payment's WeChat time: seconds after the previous one (0: a tie, broken by id), or a
#: late notification of a payment made earlier than payments already received
STEP_SECONDS = st.one_of(st.just(0), st.integers(1, 600))
LATE_SECONDS = st.one_of(st.just(0), st.just(0), st.integers(1, 3600))
PAY = st.tuples(st.just("pay"), WHERE, AMOUNT, STEP_SECONDS, LATE_SECONDS)
#: an expense of `share` percent of what the account holds (over 100: more than it holds)
SHARE = st.integers(1, 110)
SPEND = st.tuples(st.just("spend"), WHERE, SHARE)
#: a refund of `share` percent of what is left of the donation at `pick` (modulo the count)
REFUND = st.tuples(st.just("refund"), st.integers(0, 50), SHARE)
#: rounds of a few payments, then an expense or two, and a refund or none
HISTORY = st.lists(
    st.tuples(
        st.lists(PAY, max_size=6),
        st.lists(st.one_of(SPEND, REFUND), min_size=1, max_size=2),
    ),
    min_size=1,
    max_size=5,
).map(lambda rounds: [step for pays, spends in rounds for step in (*pays, *spends)])

START = datetime(2026, 11, 1, 9, 0, tzinfo=BEIJING)
#: the refunds the histories made (to check that the histories do refund)
REFUNDS_MADE: list[int] = []


def left_of(amount_fen: int, refunded_fen: int, allocated_fen: int) -> int:
    """What is left of a donation for expenses: paid minus refunded minus allocated.
    Refunds (issue 13) are subtracted already, so the properties include them."""
    return amount_fen - refunded_fen - allocated_fen


def net_of(amount_fen: int, refunded_fen: int) -> int:
    """A paid donation's net amount (Donation.net_fen): paid minus refunded."""
    return amount_fen - refunded_fen


@dataclass
class Gift:
    """The model of one paid donation."""

    donation_id: int
    where: int
    paid_at: datetime
    amount_fen: int
    refunded_fen: int = 0
    allocated_fen: int = 0

    @property
    def key(self) -> tuple[datetime, int]:
        """THE RULE's order: oldest payment first, then the lower id."""
        return self.paid_at, self.donation_id

    @property
    def left_fen(self) -> int:
        return left_of(self.amount_fen, self.refunded_fen, self.allocated_fen)


@dataclass
class World:
    """What the examples share: a foundation, a region, a donor and the disburser."""

    app: Flask
    foundation_id: int
    region_id: int
    donor_token: str
    disburser_id: int


def make_world(app: Flask) -> World:
    tag = secrets.token_hex(4)
    with app.app_context():
        region = Region(level=RegionLevel.CITY, name=f"分配测试市{tag}", path=f"/al{tag}/")
        foundation = Foundation(name=f"分配测试基金会{tag}", credit_code=f"AL{tag}".ljust(18, "0"),
                                mch_id="1900000109")  # fmt: skip
        disburser = User(openid=f"alloc-disburser-{tag}", nickname="拨付人")
        db.session.add_all([region, foundation, disburser])
        db.session.commit()
        ids = region.id, foundation.id, disburser.id
        db.session.remove()
    token = login(app.test_client(), "alloc_donor")["token"]
    return World(app, ids[1], ids[0], token, ids[2])


@dataclass
class Books:
    """One example's fund (two needs and its pool), the model of its donations and the
    expenses disbursed, in the order they were."""

    world: World
    fund_id: int = 0
    need_ids: list[int] = field(default_factory=list)
    gifts: list[Gift] = field(default_factory=list)
    #: (expense id, where, amount, [(donation id, amount), …] as the model allocated it)
    spent: list[tuple[int, int, int, list[tuple[int, int]]]] = field(default_factory=list)
    clock: datetime = START

    def __post_init__(self) -> None:
        tag = secrets.token_hex(4)
        app = self.world.app
        with app.app_context():
            fund = Fund(foundation_id=self.world.foundation_id, region_id=self.world.region_id,
                        name=f"分配测试基金{tag}", committee_threshold_fen=10**9)  # fmt: skip
            needs = [
                Need(fund=fund, region_id=self.world.region_id, category=NeedCategory.ELDERLY,
                     title=f"分配测试项目{tag}-{i}", story="用于分配测试的项目。",
                     goal_fen=10**12, status=NeedStatus.FUNDRAISING, published_at=utcnow())
                for i in range(NEEDS)
            ]  # fmt: skip
            db.session.add_all([fund, *needs])
            db.session.commit()
            self.fund_id = fund.id
            self.need_ids = [n.id for n in needs]
            db.session.remove()

    def need_of(self, where: int) -> int | None:
        return self.need_ids[where] if where < POOL else None

    def account(self, where: int) -> str:
        need_id = self.need_of(where)
        return need_account(need_id) if need_id else fund_pool_account(self.fund_id)

    # -- steps ----------------------------------------------------------------------------

    def pay(self, where: int, amount: int, step: int, late: int) -> Gift:
        """An order through the API, paid by WeChat's signed notification with payment time
        `clock + step - late`."""
        self.clock += timedelta(seconds=step)
        paid_at = self.clock - timedelta(seconds=late)
        app = self.world.app
        need_id = self.need_of(where)
        target = {"need_id": need_id} if need_id else {"fund_id": self.fund_id}
        response = app.test_client().post(
            "/api/v1/donations", json={**target, "amount_fen": amount},
            headers=auth(self.world.donor_token),
        )  # fmt: skip
        assert response.status_code == 201, response.get_json()
        order = response.get_json()
        body = to_xml(notification(order["out_trade_no"], amount,
                                   time_end=paid_at.strftime("%Y%m%d%H%M%S")))  # fmt: skip
        with app.app_context():
            outcome = apply_payment(parse_notification(body, app.config["SETTINGS"]))
            assert outcome.applied, outcome
            db.session.commit()
            db.session.remove()
        gift = Gift(order["id"], where, paid_at, amount)
        self.gifts.append(gift)
        return gift

    def holds(self, where: int) -> int:
        """What the model says the account holds: its donations' money left."""
        return sum(g.left_fen for g in self.gifts if g.where == where)

    def model_allocation(self, where: int, amount: int) -> list[tuple[int, int]]:
        """THE RULE, written plainly: the account's donations oldest first, each giving what
        is left of it until the amount is covered."""
        taken = []
        for gift in sorted((g for g in self.gifts if g.where == where), key=lambda g: g.key):
            if amount == 0:
                break
            part = min(gift.left_fen, amount)
            if part > 0:
                taken.append((gift.donation_id, part))
                amount -= part
        assert amount == 0, "the model's account cannot cover it"
        return taken

    def spend(self, where: int, share: int) -> int | None:
        """Disburse an expense of `share`% of what the account holds through the service; the
        expense's id, or None when it was (rightly) refused for want of money. An empty
        account passes the turn to the next one holding money, if any."""
        where = next((w % (POOL + 1) for w in range(where, where + POOL + 1)
                      if self.holds(w % (POOL + 1))), where)  # fmt: skip
        holds = self.holds(where)
        amount = max(1, holds * share // 100)
        app = self.world.app
        with app.app_context():
            actor = db.session.get(User, self.world.disburser_id)
            expense = Expense(
                fund_id=self.fund_id, need_id=self.need_of(where), amount_fen=amount,
                payee_name="某某商店", payee_type=PayeeType.ORGANIZATION,
                purpose=f"采购物资第{len(self.spent) + 1}批", status=ExpenseStatus.APPROVED,
                threshold_fen=10**9, needs_committee=False, required_approvals=1,
                decided_at=utcnow(),
            )  # fmt: skip
            db.session.add(expense)
            db.session.flush()
            refused: DomainError | None = None
            try:
                disburse_expense(actor, expense, f"PZ-{expense.id}", [])
            except DomainError as error:
                refused = error
            if refused is not None:
                db.session.rollback()
                db.session.remove()
                assert amount > holds, (refused.error, refused.message, amount, holds)
                assert refused.error == "insufficient_balance", refused.error
                event("expense refused: more than the account holds")
                return None
            expense_id = expense.id
            db.session.commit()
            got = self.allocation_of(expense_id)
            db.session.remove()
        assert amount <= holds, f"an expense of {amount} was paid from an account of {holds}"
        expected = self.model_allocation(where, amount)
        assert got == expected, (got, expected)
        for donation_id, part in expected:
            next(g for g in self.gifts if g.donation_id == donation_id).allocated_fen += part
        self.spent.append((expense_id, where, amount, expected))
        event(f"expense allocated to {'1' if len(expected) == 1 else '2+'} donations")
        self.fifo_holds_for(expense_id)
        return expense_id

    def refund(self, pick: int, share: int) -> bool:
        """Refund `share`% of what is left of a donation (asked for and settled); whether it
        was made. More than is left is refused, and changes nothing."""
        from backend.payments.refunds import RefundState
        from backend.refunds.services import request_refund, settle_refund

        if not self.gifts:
            return False
        gift = self.gifts[pick % len(self.gifts)]
        amount = max(1, gift.left_fen * share // 100)
        app = self.world.app
        with app.app_context():
            donation = db.session.get(Donation, gift.donation_id)
            if amount > gift.left_fen:
                with pytest.raises(DomainError) as refused:
                    request_refund(None, donation, amount, "测试退款")
                db.session.rollback()
                db.session.remove()
                assert refused.value.error in ("refund_exceeds_refundable", "donation_refunded")
                event("refund refused: more than is left")
                return False
            asked = request_refund(None, donation, amount, "测试退款")
            db.session.commit()
            state = RefundState(donation.out_trade_no, asked.out_refund_no, "5000001",
                                amount, "SUCCESS", None)  # fmt: skip
            assert settle_refund(state).outcome == "applied"
            db.session.commit()
            db.session.remove()
        assert amount <= gift.left_fen
        gift.refunded_fen += amount
        event("refund made")
        REFUNDS_MADE.append(gift.donation_id)
        return True

    @staticmethod
    def allocation_of(expense_id: int) -> list[tuple[int, int]]:
        """An expense's allocations from the database, in THE RULE's order."""
        return [
            (row.donation_id, row.amount_fen)
            for row in db.session.execute(
                sa.text(
                    "SELECT a.donation_id, a.amount_fen FROM allocations a"
                    " JOIN donations d ON d.id = a.donation_id WHERE a.expense_id = :id"
                    " ORDER BY d.paid_at, d.id"
                ),
                {"id": expense_id},
            )
        ]

    def fifo_holds_for(self, expense_id: int) -> None:
        """Right after the expense was allocated, read from the database alone: every
        donation of its account older than the newest one it touched has nothing left, those
        it touched included (FIFO: no donation is touched while an older one still has money
        left). A late payment (an older paid_at, arrived after younger ones were spent) sits
        among spent ones: it is the next to be taken."""
        with self.world.app.app_context():
            expense = db.session.get(Expense, expense_id)
            rows = db.session.execute(
                sa.text(
                    "SELECT d.id, d.paid_at, d.amount_fen, d.refunded_fen, d.allocated_fen,"
                    " a.amount_fen AS taken FROM donations d"
                    " LEFT JOIN allocations a ON a.donation_id = d.id AND a.expense_id = :e"
                    " WHERE d.paid_at IS NOT NULL AND d.fund_id = :f"
                    " AND d.need_id IS NOT DISTINCT FROM :n ORDER BY d.paid_at, d.id"
                ),
                {"e": expense_id, "f": expense.fund_id, "n": expense.need_id},
            ).all()
            db.session.remove()
        touched = [i for i, row in enumerate(rows) if row.taken is not None]
        assert touched, "an expense touches at least one donation"
        newest = touched[-1]
        for row in rows[:newest]:
            assert left_of(row.amount_fen, row.refunded_fen, row.allocated_fen) == 0, row

    # -- what must hold after any history --------------------------------------------------

    def check_books(self) -> None:
        app = self.world.app
        with app.app_context():
            donations = db.session.execute(
                sa.text(
                    "SELECT d.id, d.need_id, d.amount_fen, d.refunded_fen, d.allocated_fen,"
                    " (SELECT coalesce(sum(a.amount_fen), 0) FROM allocations a"
                    "   WHERE a.donation_id = d.id) AS allocations"
                    " FROM donations d WHERE d.fund_id = :f AND d.paid_at IS NOT NULL"
                ),
                {"f": self.fund_id},
            ).all()
            expenses = db.session.execute(
                sa.select(Expense.id, Expense.need_id, Expense.amount_fen, Expense.status).where(
                    Expense.fund_id == self.fund_id
                )
            ).all()
            totals = {e.id: expense_allocations(e.id) for e in expenses}
            balances = {where: balance([self.account(where)]) for where in range(POOL + 1)}
            shown = allocations_for(g.donation_id for g in self.gifts)
            db.session.remove()
        by_id = {g.donation_id: g for g in self.gifts}
        assert {d.id for d in donations} == set(by_id)
        allocated: dict[int | None, int] = defaultdict(int)
        left: dict[int | None, int] = defaultdict(int)
        for d in donations:
            # a donation's allocations add up to allocated_fen, never more than its net
            assert d.allocations == d.allocated_fen, d
            assert 0 <= d.allocated_fen <= net_of(d.amount_fen, d.refunded_fen), d
            assert d.allocated_fen == by_id[d.id].allocated_fen, d
            assert sum(a.amount_fen for a in shown[d.id]) == d.allocated_fen, d
            allocated[d.need_id] += d.allocated_fen
            left[d.need_id] += left_of(d.amount_fen, d.refunded_fen, d.allocated_fen)
        disbursed: dict[int | None, int] = defaultdict(int)
        for e in expenses:
            if e.status == ExpenseStatus.DISBURSED:
                # an expense's allocations add up exactly to it
                assert (totals[e.id].amount_fen, e.amount_fen) == (e.amount_fen, e.amount_fen)
                disbursed[e.need_id] += e.amount_fen
            else:
                assert totals[e.id].donation_count == 0, e
        for where in range(POOL + 1):
            need_id = self.need_of(where)
            # per account: allocated == disbursed, and what is left == the journal's balance
            assert allocated[need_id] == disbursed[need_id], where
            assert left[need_id] == balances[where] == self.holds(where), where

    def signature(self) -> list[tuple[int, int, list[tuple[int, int]]]]:
        """The allocations by position in the history (ids differ between replays)."""
        position = {g.donation_id: i for i, g in enumerate(self.gifts)}
        return [
            (where, amount, [(position[d], part) for d, part in taken])
            for _, where, amount, taken in self.spent
        ]


def run(books: Books, history: list[tuple[Any, ...]]) -> Books:
    for step in history:
        if step[0] == "pay":
            books.pay(*step[1:])
        elif step[0] == "refund":
            books.refund(*step[1:])
        else:
            books.spend(*step[1:])
    books.check_books()
    return books


@pytest.fixture
def world(app: Flask) -> World:
    return make_world(app)


@pytest.mark.parametrize("chunks", [(64, 8192), (1, 2)], ids=["chunks", "tiny-chunks"])
def test_random_histories_allocate_by_the_rule(
    world: World, chunks: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the real chunk sizes, and with chunks of one and two donations (so that a walk
    crosses many chunk boundaries, ties of payment time included)."""
    monkeypatch.setattr(allocation, "FIRST_CHUNK", chunks[0])
    monkeypatch.setattr(allocation, "MAX_CHUNK", chunks[1])

    @settings(SETTINGS, max_examples=10)
    @given(history=HISTORY)
    def check(history: list[tuple[Any, ...]]) -> None:
        run(Books(world), history)

    REFUNDS_MADE.clear()
    check()
    assert REFUNDS_MADE, "the histories refunded nothing"


def test_the_same_history_allocates_the_same_way(world: World) -> None:
    @settings(SETTINGS, max_examples=5)
    @given(history=HISTORY)
    def check(history: list[tuple[Any, ...]]) -> None:
        first, second = run(Books(world), history), run(Books(world), history)
        assert first.signature() == second.signature()

    check()


# -- allocate() itself ----------------------------------------------------------------------


def disbursed_by_hand(books: Books, where: int, amount: int) -> Expense:
    """A disbursed expense written without the service (no balance check): to see what
    `allocate` does on its own. The journal entry balances, as the database requires."""
    entry = write_entry("disbursement", "测试拨付", [(books.account(where), -amount),
                                                      ("bank:foundation:test", amount)])  # fmt: skip
    expense = Expense(
        fund_id=books.fund_id, need_id=books.need_of(where), amount_fen=amount,
        payee_name="张三", payee_type=PayeeType.PERSON, purpose="手工拨付",
        status=ExpenseStatus.DISBURSED, threshold_fen=10**9, voucher_no="PZ-HAND",
        journal_entry_id=entry.id, disbursed_at=utcnow(),
    )  # fmt: skip
    db.session.add(expense)
    db.session.flush()
    return expense


def test_an_expense_the_donations_cannot_cover_is_refused_never_cut(world: World) -> None:
    books = Books(world)
    books.pay(0, 300, 1, 0)
    books.pay(0, 200, 1, 0)
    app = world.app
    with app.app_context():
        expense = disbursed_by_hand(books, 0, 501)
        with pytest.raises(DomainError) as refused:
            allocate(expense)
        assert (refused.value.kind, refused.value.error) == ("conflict", "allocation_short")
        assert "¥5.01" in refused.value.message and "¥5.00" in refused.value.message
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Allocation)) == 0
        assert db.session.scalar(
            sa.text("SELECT sum(allocated_fen) FROM donations WHERE fund_id = :f"),
            {"f": books.fund_id},
        ) == 0  # fmt: skip
        db.session.remove()


def test_allocate_takes_oldest_first_and_only_once(world: World) -> None:
    books = Books(world)
    late = books.pay(2, 100, 100, 50)  # paid at +50 s
    first = books.pay(2, 100, 0, 90)  # paid at +10 s, arrived later: still the oldest
    tie_a = books.pay(2, 100, 0, 0)  # paid at +100 s
    tie_b = books.pay(2, 100, 0, 0)  # the same second: the lower id first
    books.pay(0, 1000, 1, 0)  # another account: never touched by the pool's expense
    app = world.app
    with app.app_context():
        expense = disbursed_by_hand(books, 2, 250)
        assert allocate(expense) == AllocationTotals(donation_count=3, amount_fen=250)
        assert Books.allocation_of(expense.id) == [
            (first.donation_id, 100), (late.donation_id, 100), (tie_a.donation_id, 50),
        ]  # fmt: skip
        assert expense_allocations(expense.id) == AllocationTotals(3, 250)
        with pytest.raises(DomainError) as again:
            allocate(expense)
        assert again.value.error == "expense_already_allocated"
        pending = Expense(
            fund_id=books.fund_id, need_id=None, amount_fen=1, payee_name="张三",
            payee_type=PayeeType.PERSON, purpose="未拨付", threshold_fen=10**9,
            status=ExpenseStatus.APPROVED,
        )  # fmt: skip
        db.session.add(pending)
        with pytest.raises(DomainError) as not_yet:
            allocate(pending)
        assert not_yet.value.error == "expense_not_disbursed"
        db.session.rollback()
        db.session.remove()
    assert tie_b.donation_id > tie_a.donation_id


def test_a_donation_changed_meanwhile_fails_the_allocation_whole(world: World) -> None:
    """A donation changed by another transaction while the statement runs (a refund, one
    day) is not overspent: its row fails the guard, and the allocation fails as a whole."""
    books = Books(world)
    gift = books.pay(0, 300, 1, 0)
    app = world.app
    with app.app_context():
        other = db.engine.connect()
        other.begin()
        # what a partial refund would do, not committed yet when the allocation reads
        other.execute(sa.text("UPDATE donations SET refunded_fen = 200 WHERE id = :id"),
                      {"id": gift.donation_id})  # fmt: skip
        expense = disbursed_by_hand(books, 0, 250)
        timer = threading.Timer(0.5, other.commit)
        timer.start()
        with pytest.raises(DomainError) as changed:
            allocate(expense)  # waits on the donation's row lock, then finds it changed
        timer.join()
        other.close()
        assert (changed.value.kind, changed.value.error) == ("conflict", "allocation_changed")
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Allocation)) == 0
        db.session.remove()


# -- what each donor sees -------------------------------------------------------------------


def team(app: Flask) -> tuple[Actors, int]:
    """A fund with a secretary (who submits), a committee member (who approves) and the
    foundation's admin (who disburses), and a need of it raising money."""
    tag = secrets.token_hex(4)
    with app.app_context():
        region = Region(level=RegionLevel.CITY, name=f"去向测试市{tag}", path=f"/dt{tag}/")
        foundation = Foundation(name=f"去向测试基金会{tag}", credit_code=f"DT{tag}".ljust(18, "0"),
                                mch_id="1900000109")  # fmt: skip
        fund = Fund(foundation=foundation, region=region, name=f"去向测试基金{tag}",
                    committee_threshold_fen=10**9)  # fmt: skip
        need = Need(fund=fund, region=region, category=NeedCategory.ELDERLY,
                    title=f"去向测试项目{tag}", story="用于测试捐赠去向的项目。",
                    goal_fen=10**12, status=NeedStatus.FUNDRAISING, published_at=utcnow())  # fmt: skip
        db.session.add_all([region, foundation, fund, need])
        db.session.commit()
        fund_id, foundation_id, need_id = fund.id, foundation.id, need.id
        db.session.remove()
    actors = Actors(fund_id=fund_id, other_fund_id=0)
    client = app.test_client()
    roles = {"secretary2": (Role.SECRETARY, fund_id), "committee": (Role.COMMITTEE, fund_id),
             "foundation_admin": (Role.FOUNDATION_ADMIN, foundation_id)}  # fmt: skip
    for name in roles:
        answer = login(client, f"alloc_{tag}_{name}")
        actors.tokens[name], actors.user_ids[name] = answer["token"], answer["user"]["id"]
    with app.app_context():
        for name, (role, scope) in roles.items():
            grant_role(find_user(str(actors.user_ids[name])), role, scope)
        db.session.commit()
        db.session.remove()
    return actors, need_id


def spend_through_the_api(client: Any, actors: Actors, amount: int, purpose: str,
                          **target: Any) -> int:  # fmt: skip
    submitted = submit(client, actors, amount, purpose=purpose, **target)
    assert submitted.status_code == 201, submitted.get_json()
    expense_id = submitted.get_json()["id"]
    approved = decide(client, actors, expense_id, "committee")
    assert approved.status_code == 200, approved.get_json()
    paid = disburse(client, actors, expense_id, voucher_no=f"PZ-{expense_id}")
    assert paid.status_code == 200, paid.get_json()
    return expense_id


def test_each_donor_sees_what_their_money_paid_for(app: Flask) -> None:
    client = app.test_client()
    actors, need_id = team(app)
    zhang = login(client, "alloc_zhang")["token"]
    li = login(client, "alloc_li")["token"]
    z1 = give(app, client, zhang, 3000, need_id=need_id)
    l1 = give(app, client, li, 5000, need_id=need_id)
    z2 = give(app, client, zhang, 1000, fund_id=actors.fund_id)  # the pool: not the need's
    meals = spend_through_the_api(client, actors, 4000, "购买助老餐具一批", need_id=need_id)
    rails = spend_through_the_api(client, actors, 2000, "加装楼道扶手", need_id=need_id)
    pool = spend_through_the_api(client, actors, 600, "社区活动茶点")

    with counting_queries(app) as statements:
        mine = client.get("/api/v1/me/donations", headers=auth(zhang))
    assert mine.status_code == 200, mine.get_json()
    # one query for the whole page's allocations, none per donation
    assert sum("FROM allocations" in s for s in statements) == 1, statements

    def shown(items: list[dict[str, Any]]) -> dict[int, list[tuple[int, int, str]]]:
        return {
            i["id"]: [(a["expense_id"], a["amount_fen"], a["purpose"]) for a in i["allocations"]]
            for i in items
        }

    items = mine.get_json()["items"]
    assert [i["id"] for i in items] == [z2, z1]
    assert shown(items) == {
        z1: [(meals, 3000, "购买助老餐具一批")],  # the oldest gift of the need goes first
        z2: [(pool, 600, "社区活动茶点")],
    }
    assert all(a["disbursed_at"] for i in items for a in i["allocations"])
    theirs = client.get("/api/v1/me/donations", headers=auth(li)).get_json()["items"]
    assert shown(theirs) == {l1: [(meals, 1000, "购买助老餐具一批"), (rails, 2000, "加装楼道扶手")]}
    one = client.get(f"/api/v1/donations/{l1}", headers=auth(li)).get_json()
    assert one["allocated_fen"] == 3000
    assert [(a["expense_id"], a["amount_fen"]) for a in one["allocations"]] == [
        (meals, 1000), (rails, 2000)
    ]  # fmt: skip
    # someone else's donation stays hidden, allocations and all
    assert client.get(f"/api/v1/donations/{l1}", headers=auth(zhang)).status_code == 404
