"""The demo's money as it happened: donations credited through the payment path, expenses
submitted, decided and disbursed through the spending services, photos on updates.

Everything is replayed in time order with the app's clock standing at each moment, so the
rows, the audit log and the journal carry the times they happened at, and ids grow with
time (the sealed journal relies on that). Each piece has a natural key, so a second run
adds nothing: a donation's `out_trade_no` (``LSDEMO<need or fund key><n>``), an expense's
need and purpose, an update's photo position.

A history written after other entries would predate them: when the journal already holds
entries newer than what is still to be written, the money is left out (say so and move on).
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from backend.accounts.models import User
from backend.common.time import BEIJING, frozen_at, set_clock
from backend.demo import activity, data, images
from backend.demo.people import People
from backend.donations.models import Donation, DonationStatus
from backend.donations.services import ORDER_TTL, apply_payment, public_name
from backend.extensions import db
from backend.funds.backoffice import governance_of
from backend.funds.models import Fund
from backend.ledger.models import JournalEntry
from backend.needs.models import Need, ProgressUpdate, ProgressUpdateImage
from backend.payments.wechat_pay import PaymentNotice
from backend.spaces.models import CharitySpace
from backend.spending import services as spending
from backend.spending.models import Decision, Expense
from backend.uploads.models import Upload
from backend.wechat.content import platform_text

#: prefix of the demo's order numbers (a natural key: `LSDEMO` + need or fund key + number)
ORDER_PREFIX = "LSDEMO"
#: the amounts people give, in yuan
NICE_YUAN = (10, 20, 30, 50, 66, 88, 100, 168, 200, 300, 500, 666, 800, 1000, 1500, 2000,
             3000, 5000, 8000, 10000)  # fmt: skip
#: at most this much in one donation (well under the order limit)
LARGEST_FEN = 1_000_000
APPROVAL_COMMENTS = ("同意", "票据齐全，同意", "已核对比价记录，同意", "同意拨付", "符合预算，同意")


@dataclass(order=True)
class _Event:
    at: datetime
    seq: int
    run: Callable[[], None] = field(compare=False)
    #: money moves (orders, payments, expenses) or not (photos)
    money: bool = field(compare=False, default=True)


@dataclass
class _Batch:
    """A fund's transfers of one day, and the bank receipt that shows them all."""

    amounts: list[int] = field(default_factory=list)
    payees: list[str] = field(default_factory=list)
    receipt: Upload | None = None


@dataclass
class HistoryCounts:
    """What the history added."""

    donations: int = 0
    expenses: int = 0
    uploads: int = 0
    photos: int = 0
    skipped: str = ""


@contextmanager
def _clock() -> Iterator[Callable[[datetime], None]]:
    """Stand the app's clock wherever the replay is; put it back as it was afterwards."""
    before = frozen_at()  # a test may have frozen it: that is what to restore
    try:
        yield set_clock
    finally:
        set_clock(before)


def _yuan_amounts(rng: random.Random, total_fen: int, count: int) -> list[int]:
    """`count` believable gifts (round yuan amounts people give) adding up to `total_fen`
    exactly; the last one closes the gap."""
    gifts: list[int] = []
    left = total_fen
    for i in range(count - 1):
        still = count - i  # gifts still to come, this one included
        room = left - 1000 * (still - 1)  # at least ¥10 for each of the others
        wanted = left / still * rng.lognormvariate(0, 0.7)
        fits = [y * 100 for y in NICE_YUAN if y * 100 <= min(room, LARGEST_FEN)]
        if not fits:
            break
        fen = min(fits, key=lambda f: abs(math.log(f / max(wanted, 1))))
        gifts.append(fen)
        left -= fen
    while left > LARGEST_FEN:  # more than one gift can give: split the rest
        gifts.append(LARGEST_FEN)
        left -= LARGEST_FEN
    gifts.append(left)
    return gifts


class History:
    """Plans the demo's money and photos, then replays what is missing in time order."""

    def __init__(self, people: People, funds: dict[str, Fund], now: datetime,
                 today: date) -> None:  # fmt: skip
        self.people = people
        self.funds = funds
        self.now = now
        self.today = today
        self.counts = HistoryCounts()
        self.events: list[_Event] = []
        self.pending_donations: list[Donation] = []
        self._seq = 0
        specs = {(spec["fund"], spec["title"]): spec["key"] for spec in data.NEEDS}
        fund_keys = {fund.id: key for key, fund in funds.items()}
        self.needs: dict[str, Need] = {}
        for need in db.session.scalars(sa.select(Need).where(Need.fund_id.in_(list(fund_keys)))):
            key = specs.get((fund_keys[need.fund_id], need.title))
            if key is not None:
                self.needs[key] = need
        self.need_specs = {spec["key"]: spec for spec in data.NEEDS}
        self.spaces = {
            space.fund_id: space
            for space in db.session.scalars(sa.select(CharitySpace).order_by(CharitySpace.id))
        }
        self.vouchers: dict[str, int] = {}
        self.batches: dict[tuple[int, date], _Batch] = {}
        self.committees: dict[int, int] = {}

    # -- time ---------------------------------------------------------------------------

    def at(self, days_ago: int, hour: int, minute: int = 0) -> datetime:
        """`hour:minute` Beijing time `days_ago` days before today, never after now."""
        day = self.today - timedelta(days=days_ago)
        instant = datetime.combine(day, time(), tzinfo=BEIJING)
        instant += timedelta(hours=hour, minutes=minute)
        return min(instant, self.now - timedelta(minutes=5))

    def _daytime(self, rng: random.Random, instant: datetime) -> datetime:
        """The same Beijing day as `instant`, at a waking hour (07:30-22:30)."""
        day = instant.astimezone(BEIJING).date()
        seconds = rng.randint(7 * 3600 + 1800, 22 * 3600 + 1800)
        return datetime.combine(day, time(), tzinfo=BEIJING) + timedelta(seconds=seconds)

    def add(self, at: datetime, run: Callable[[], None], money: bool = True) -> None:
        """Replay `run` with the clock at `at`."""
        self._seq += 1
        self.events.append(_Event(at, self._seq, run, money))

    # -- donations ----------------------------------------------------------------------

    def plan_donations(self) -> None:
        """Every demo donation not yet in the database, as an order and its payment."""
        existing = set(
            db.session.scalars(
                sa.select(Donation.out_trade_no).where(
                    Donation.out_trade_no.startswith(ORDER_PREFIX)
                )
            )
        )
        for key, phases in activity.RAISED.items():
            need = self.needs.get(key)
            if need is None or need.published_at is None:
                continue
            rng = random.Random(f"linshan-demo:{key}")
            category = self.need_specs[key]["category"]
            start = need.published_at + timedelta(minutes=30)
            done = 0
            number = 0
            for until, total in phases:
                end = self.at(until, 20) if until else self.now - timedelta(minutes=30)
                count = activity.DONATION_COUNTS.get(key) or max(
                    3, min(16, (total - done) // 150000)
                )
                gifts = _yuan_amounts(rng, total - done, count)
                # the gift that completes the phase comes last; most come early (shared on
                # the day it was published), at waking hours
                last = end - timedelta(minutes=rng.randint(1, 90))
                times = sorted(
                    min(max(self._daytime(rng, start + (end - start) * rng.random() ** 1.5),
                            start), last - timedelta(minutes=1))
                    for _ in gifts[:-1]
                )  # fmt: skip
                times.append(last)
                for amount, paid_at in zip(gifts, times, strict=True):
                    number += 1
                    order = f"{ORDER_PREFIX}{key}{number:03d}"
                    self._plan_donation(rng, order, need.fund_id, need, amount, paid_at,
                                        activity.MESSAGES[category], order in existing)  # fmt: skip
                start, done = end, total
        rng = random.Random("linshan-demo:pools")
        for number, (fund_key, amount, days_ago) in enumerate(activity.POOL_GIFTS, start=1):
            order = f"{ORDER_PREFIX}{fund_key}P{number:02d}"
            paid_at = self._daytime(rng, self.at(days_ago, 12))
            self._plan_donation(rng, order, self.funds[fund_key].id, None, amount,
                                min(paid_at, self.now - timedelta(minutes=30)),
                                ("支持社区慈善基金", "邻里守望", ""), order in existing)  # fmt: skip

    def _plan_donation(self, rng: random.Random, order: str, fund_id: int, need: Need | None,
                       amount: int, paid_at: datetime, messages: tuple[str, ...],
                       exists: bool) -> None:  # fmt: skip
        # the same draws whether or not the order exists: the plan never shifts
        donor = self.people.donors[rng.randrange(len(self.people.donors))]
        anonymous = rng.random() < 0.2
        message = rng.choice(messages) if rng.random() < 0.3 else ""
        space = self.spaces.get(fund_id) if rng.random() < 0.25 else None
        created = paid_at - timedelta(seconds=rng.randint(20, 150))
        arrives = paid_at + timedelta(seconds=rng.randint(1, 8))
        if exists:
            return
        donation = Donation(
            out_trade_no=order,
            user_id=donor.id,
            need_id=need.id if need else None,
            fund_id=fund_id,
            space_id=space.id if space else None,
            amount_fen=amount,
            refunded_fen=0,
            anonymous=anonymous,
            message=message,
            public_name=public_name(donor, anonymous),
            status=DonationStatus.PENDING,
            expires_at=created + ORDER_TTL,
            created_at=created,
            updated_at=created,
        )
        self.pending_donations.append(donation)
        notice = PaymentNotice(
            out_trade_no=order,
            transaction_id="4200" + order,
            total_fee=amount,
            paid=True,
            time_end=paid_at.replace(microsecond=0),
            openid=donor.openid,
            raw={},
        )
        # WeChat's notification arrives a few seconds after the payment
        self.add(arrives, lambda: self._credit(notice))

    def _credit(self, notice: PaymentNotice) -> None:
        outcome = apply_payment(notice)
        if not outcome.applied:
            raise RuntimeError(f"demo donation {notice.out_trade_no}: {outcome.reason}")
        self.counts.donations += 1

    # -- expenses -----------------------------------------------------------------------

    def plan_expenses(self) -> None:
        """Every demo expense not yet in the database: submission, decisions, payment."""
        need_ids = [n.id for n in self.needs.values()]
        existing = {
            tuple(row)
            for row in db.session.execute(
                sa.select(Expense.need_id, Expense.purpose).where(Expense.need_id.in_(need_ids))
            )
        }
        for spec in activity.EXPENSES:
            need = self.needs.get(spec["need"])
            if need is None or (need.id, spec["purpose"]) in existing:
                continue
            self._plan_expense(spec, need)

    def _plan_expense(self, spec: activity.ExpenseData, need: Need) -> None:
        rng = random.Random(f"linshan-demo:{spec['need']}:{spec['purpose']}")
        fund_key = self.need_specs[spec["need"]]["fund"]
        fund = self.funds[fund_key]
        team = self.people.teams[fund_key]
        held: dict[str, Expense] = {}
        submitted_at = self.at(spec["submitted"], 9, rng.randint(0, 150))

        issued = submitted_at - timedelta(days=rng.randint(1, 5))  # the invoice's date
        number = f"{zlib.crc32(spec['purpose'].encode()) % 10**8:08d}"

        def submit() -> None:
            picture = images.invoice(number, f"{issued.astimezone(BEIJING):%Y-%m-%d}",
                                     spec["amount_fen"], spec["payee_name"],
                                     spec["purpose"])  # fmt: skip
            upload = images.store_picture(team.secretary, picture, f"{spec['purpose']}-发票.jpg")
            db.session.flush()
            self.counts.uploads += 1
            held["expense"] = spending.submit_expense(team.secretary, fund, {
                "need_id": need.id, "amount_fen": spec["amount_fen"],
                "payee_name": spec["payee_name"], "payee_type": spec["payee_type"],
                "purpose": spec["purpose"], "attachment_ids": [upload.id],
            })  # fmt: skip
            self.counts.expenses += 1

        self.add(submitted_at, submit)
        committee = team.committee
        first = rng.randrange(len(committee))
        deciders = [committee[(first + i) % len(committee)] for i in range(len(committee))]
        decide_day = max(spec["submitted"] - 1, 0)

        def decide(member: User, decision: Decision, comment: str) -> Callable[[], None]:
            return lambda: spending.decide_expense(member, held["expense"], decision, comment)

        if spec["outcome"] == "disbursed":
            needed = self._approvals_needed(fund, spec["amount_fen"])
        elif spec["outcome"] == "pending":
            needed = spec.get("approvals", 0)
        else:
            needed = 1
        for i in range(needed):
            when = self.at(decide_day, 9 + 2 * i, rng.randint(0, 59))
            self.add(max(when, submitted_at + timedelta(minutes=20 * (i + 1))),
                     decide(deciders[i], Decision.APPROVE, rng.choice(APPROVAL_COMMENTS)))  # fmt: skip
        if spec["outcome"] == "rejected":
            when = self.at(decide_day, 16, rng.randint(0, 59))
            self.add(max(when, submitted_at + timedelta(hours=1)),
                     decide(deciders[needed], Decision.REJECT, spec["reason"]))  # fmt: skip
        if spec["outcome"] != "disbursed":
            return
        disbursed_at = self.at(spec["disbursed"], 15, rng.randint(0, 59))
        # One bank receipt for each fund's transfers of a day (a batch when several).
        batch = self.batches.setdefault(
            (fund.id, disbursed_at.astimezone(BEIJING).date()), _Batch()
        )
        batch.amounts.append(spec["amount_fen"])
        batch.payees.append(spec["payee_name"])

        def disburse() -> None:
            month = f"{disbursed_at.astimezone(BEIJING):%Y%m}"
            self.vouchers[month] = self.vouchers.get(month, 0) + 1
            voucher = f"JZCS-{month}-{self.vouchers[month]:03d}"
            if batch.receipt is None:
                picture = images.receipt(
                    voucher, f"{disbursed_at.astimezone(BEIJING):%Y-%m-%d}",
                    sum(batch.amounts), batch.payees[0], len(batch.amounts),
                )  # fmt: skip
                batch.receipt = images.store_picture(
                    self.people.admin, picture, f"拨付回单-{voucher}.jpg"
                )
                db.session.flush()
                self.counts.uploads += 1
            spending.disburse_expense(
                self.people.admin, held["expense"], voucher, [batch.receipt.id]
            )

        self.add(disbursed_at, disburse)

    def _approvals_needed(self, fund: Fund, amount_fen: int) -> int:
        """One approval below the fund's threshold; a majority of the committee at or
        above it (the committee size submit_expense will find)."""
        if amount_fen < fund.committee_threshold_fen:
            return 1
        if fund.id not in self.committees:
            self.committees[fund.id] = governance_of(fund.id).committee_count
        return self.committees[fund.id] // 2 + 1

    # -- photos -------------------------------------------------------------------------

    def plan_photos(self) -> None:
        """Photos on the updates `activity.UPDATE_PHOTOS` names, where they have none."""
        wanted = [p for p in activity.UPDATE_PHOTOS if p["need"] in self.needs]
        if not wanted:
            return
        updates = db.session.scalars(
            sa.select(ProgressUpdate).where(
                ProgressUpdate.need_id.in_([self.needs[p["need"]].id for p in wanted])
            )
        ).all()
        with_images = set(
            db.session.scalars(
                sa.select(ProgressUpdateImage.update_id).where(
                    ProgressUpdateImage.update_id.in_([u.id for u in updates])
                )
            )
        )
        for p in wanted:
            need = self.needs[p["need"]]
            text = next(
                u["text"]
                for u in self.need_specs[p["need"]]["updates"]
                if u["days_ago"] == p["update_days_ago"]
            )
            update = next((u for u in updates if u.need_id == need.id and u.text == text), None)
            if update is None or update.id in with_images:
                continue
            owner = self.people.teams[self.need_specs[p["need"]]["fund"]].secretary
            self.add(update.created_at - timedelta(minutes=10),
                     self._photo_adder(update, owner, p), money=False)  # fmt: skip

    def _photo_adder(self, update: ProgressUpdate, owner: User,
                     spec: activity.PhotoData) -> Callable[[], None]:  # fmt: skip
        def add_photo() -> None:
            picture = images.photo(spec["scene"], spec["caption"])
            upload = images.store_picture(owner, picture, f"{spec['caption']}.jpg", public=True)
            db.session.add(ProgressUpdateImage(update=update, upload=upload, position=0))
            self.counts.uploads += 1
            self.counts.photos += 1

        return add_photo

    # -- replay -------------------------------------------------------------------------

    def newer_entries_block(self) -> str:
        """Why the money cannot be written now (entries newer than its history), or ""."""
        money = [e.at for e in self.events if e.money]
        if not money:
            return ""
        newest = db.session.scalar(sa.select(sa.func.max(JournalEntry.created_at)))
        if newest is not None and newest > min(money):
            return (
                "the journal holds entries newer than the demo's history; demo donations and "
                "expenses left out (load them into an empty database)"
            )
        return ""

    def replay(self, progress: Callable[[str], None]) -> None:
        """Write everything planned, in time order, with the clock at each moment."""
        blocked = self.newer_entries_block()
        if blocked:
            self.counts.skipped = blocked
            self.pending_donations.clear()
            self.events = [e for e in self.events if not e.money]
            progress(blocked)
        # Orders first, oldest first: their ids grow with time, like their journal entries.
        self.pending_donations.sort(key=lambda d: d.created_at)
        db.session.add_all(self.pending_donations)
        db.session.flush()
        total = len(self.events)
        with _clock() as stand_at, platform_text():
            for done, event in enumerate(sorted(self.events), start=1):
                stand_at(event.at)
                event.run()
                if done % 200 == 0:
                    progress(f"history: {done}/{total} events")
        db.session.flush()


def seed_history(people: People, funds: dict[str, Fund], now: datetime, today: date,
                 progress: Callable[[str], None]) -> HistoryCounts:  # fmt: skip
    """Add the demo's donations, expenses and update photos that are missing (flushes)."""
    history = History(people, funds, now, today)
    history.plan_donations()
    history.plan_expenses()
    history.plan_photos()
    history.replay(progress)
    return history.counts
