"""The stats roll-up: every figure against plain Python over random data, Beijing months,
targets' pace, every level of the region tree, and the endpoint's answers."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.common.time import BEIJING, set_clock
from backend.donations.models import COUNTED_STATUSES, Donation, DonationStatus
from backend.extensions import db
from backend.funds.models import Foundation, Fund
from backend.ledger.models import JournalEntry, JournalLine
from backend.needs.figures import need_figures
from backend.needs.models import PUBLIC_STATUSES, Need, NeedCategory, NeedStatus
from backend.regions.models import ProgrammeTarget, Region, RegionLevel
from backend.regions.services import add_region
from backend.spaces.models import CharitySpace
from backend.spending.models import Expense, ExpenseStatus, PayeeType
from backend.stats.services import Stats, last_months, rollup, target_progress

_serial = itertools.count(1)


def beijing(*args: int) -> datetime:
    """An instant given in Beijing wall-clock time."""
    return datetime(*args, tzinfo=BEIJING).astimezone(UTC)  # type: ignore[misc]


# -- building rows directly (the figures under test are read from PostgreSQL) -------------


def make_tree(shape: list[list[int]]) -> list[Region]:
    """A city; per district a list of streets' community counts. Every region, city first."""
    n = next(_serial)
    city = add_region(f"统计市{n}", RegionLevel.CITY, None)
    regions = [city]
    for d, streets in enumerate(shape):
        district = add_region(f"区{d}", RegionLevel.DISTRICT, city)
        regions.append(district)
        for s, communities in enumerate(streets):
            street = add_region(f"街道{s}", RegionLevel.STREET, district)
            regions.append(street)
            for c in range(communities):
                regions.append(add_region(f"社区{c}", RegionLevel.COMMUNITY, street))
    return regions


def make_fund(region: Region) -> Fund:
    n = next(_serial)
    foundation = Foundation(name=f"统计基金会{n}", credit_code=f"5337{n:014d}", mch_id="1900000109")
    fund = Fund(
        foundation=foundation,
        region=region,
        name=f"统计基金{n}",
        committee_threshold_fen=500_000,
        public_fundraising=True,
    )
    db.session.add_all([foundation, fund])
    return fund


def make_need(fund: Fund, region: Region, status: NeedStatus, published: bool, people: int) -> Need:
    public = status in PUBLIC_STATUSES and (published or status != NeedStatus.CLOSED)
    need = Need(
        fund=fund,
        region=region,
        category=NeedCategory.ELDERLY,
        title="统计测试项目",
        story="统计测试用的项目。",
        goal_fen=1_000_000,
        status=status,
        beneficiary_count=people,
        published_at=beijing(2025, 1, 1) if public else None,
        ended_at=beijing(2025, 2, 1)
        if status in (NeedStatus.COMPLETED, NeedStatus.CLOSED)
        else None,
    )
    db.session.add(need)
    return need


def make_donation(
    fund: Fund, need: Need | None, amount: int, status: DonationStatus, paid_at: datetime | None
) -> Donation:
    n = next(_serial)
    received = status in (*COUNTED_STATUSES, DonationStatus.REFUNDED)
    refunded = {
        DonationStatus.REFUNDED: amount,
        DonationStatus.PARTIALLY_REFUNDED: amount // 2,
    }.get(status, 0)
    donation = Donation(
        out_trade_no=f"ST{n:020d}",
        need=need,
        fund=fund,
        amount_fen=amount,
        refunded_fen=refunded,
        public_name="爱心人士",
        status=status,
        transaction_id=f"STT{n:020d}" if received else None,
        expires_at=(paid_at or beijing(2026, 1, 1)) + timedelta(minutes=15),
        paid_at=paid_at if received else None,
    )
    db.session.add(donation)
    return donation


def make_expense(
    fund: Fund, need: Need | None, amount: int, disbursed_at: datetime | None
) -> Expense:
    n = next(_serial)
    entry = None
    if disbursed_at is not None:
        entry = JournalEntry(kind="expense", memo=f"统计测试支出 {n}", created_at=disbursed_at)
        entry.lines = [
            JournalLine(account=f"fund:{n}", amount_fen=-amount),
            JournalLine(account=f"bank:foundation:{n}", amount_fen=amount),
        ]
        db.session.add(entry)
        db.session.flush()
    expense = Expense(
        fund=fund,
        need=need,
        amount_fen=amount,
        payee_name="供应商",
        payee_type=PayeeType.ORGANIZATION,
        purpose="物资",
        status=ExpenseStatus.DISBURSED if disbursed_at else ExpenseStatus.APPROVED,
        threshold_fen=500_000,
        voucher_no=f"V{n}" if disbursed_at else None,
        disbursed_at=disbursed_at,
        journal_entry_id=entry.id if entry else None,
    )
    db.session.add(expense)
    return expense


def make_space(fund: Fund, region: Region) -> CharitySpace:
    n = next(_serial)
    space = CharitySpace(
        code=f"st-{n}", name=f"空间{n}", address="某路 1 号", region=region, fund=fund
    )
    db.session.add(space)
    return space


# -- the roll-up computed another way -------------------------------------------------------


def beijing_month(instant: datetime) -> date:
    local = instant.astimezone(BEIJING)
    return date(local.year, local.month, 1)


@dataclass
class World:
    regions: list[Region]
    funds: list[Fund]
    needs: list[Need]
    donations: list[Donation]
    expenses: list[Expense]
    spaces: list[CharitySpace]

    def within(self, region: Region | None, region_id: int) -> bool:
        if region is None:
            return True
        path = next(r.path for r in self.regions if r.id == region_id)
        return path.startswith(region.path)

    def expected(self, region: Region | None, today: date) -> dict[str, Any]:
        needs = [n for n in self.needs if n.is_public and self.within(region, n.region_id)]
        ids = {n.id for n in needs}
        received = [d for d in self.donations if d.need_id in ids and d.paid_at is not None]
        funds = {f.id for f in self.funds if self.within(region, f.region_id)}
        spent = [e for e in self.expenses if e.fund_id in funds and e.disbursed_at is not None]
        months = {m: [0, 0, 0] for m in last_months(today)}
        for d in received:
            month = months.get(beijing_month(d.paid_at))  # type: ignore[arg-type]
            if month is not None:
                month[0] += d.amount_fen - d.refunded_fen
                month[1] += d.status in COUNTED_STATUSES
        for e in spent:
            month = months.get(beijing_month(e.disbursed_at))  # type: ignore[arg-type]
            if month is not None:
                month[2] += e.amount_fen
        return {
            "fund_count": len(funds),
            "need_count": len(needs),
            "needs_by_status": {
                s.value: sum(n.status == s for n in needs) for s in PUBLIC_STATUSES
            },
            "raised_fen": sum(d.amount_fen - d.refunded_fen for d in received),
            "donation_count": sum(d.status in COUNTED_STATUSES for d in received),
            "spent_fen": sum(e.amount_fen for e in spent),
            "beneficiary_count": sum(n.beneficiary_count for n in needs),
            "space_count": sum(self.within(region, s.region_id) for s in self.spaces),
            "monthly": [(m, *v) for m, v in months.items()],
        }


def figures(stats: Stats) -> dict[str, Any]:
    return {
        "fund_count": stats.fund_count,
        "need_count": stats.need_count,
        "needs_by_status": stats.needs_by_status,
        "raised_fen": stats.raised_fen,
        "donation_count": stats.donation_count,
        "spent_fen": stats.spent_fen,
        "beneficiary_count": stats.beneficiary_count,
        "space_count": stats.space_count,
        "monthly": [(m.month, m.raised_fen, m.donation_count, m.spent_fen) for m in stats.monthly],
    }


# -- random worlds ------------------------------------------------------------------------

NOW = st.datetimes(
    min_value=datetime(2026, 1, 1),  # noqa: DTZ001 - naive bounds, zone given apart
    max_value=datetime(2027, 12, 31),  # noqa: DTZ001
    timezones=st.just(BEIJING),
)


@st.composite
def worlds(draw: st.DrawFn) -> dict[str, Any]:
    now = draw(NOW)
    shape = draw(
        st.lists(st.lists(st.integers(0, 2), min_size=0, max_size=2), min_size=0, max_size=2)
    )
    region_count = 1 + len(shape) + sum(len(s) + sum(s) for s in shape)
    region = st.integers(0, region_count - 1)
    # instants around now: up to ~15 Beijing months back, often on a month's first midnight
    month_back = st.integers(-1, 14)
    moment = st.one_of(
        st.tuples(st.just("edge"), month_back, st.sampled_from([-1, 0, 1])),
        st.tuples(st.just("any"), month_back, st.integers(0, 31 * 86400 - 1)),
    )
    return {
        "now": now,
        "shape": shape,
        "funds": draw(st.lists(region, min_size=1, max_size=4)),
        "needs": draw(
            st.lists(
                st.tuples(
                    region,
                    st.integers(0, 3),
                    st.sampled_from(list(NeedStatus)),
                    st.booleans(),
                    st.integers(0, 40),
                ),
                max_size=8,
            )
        ),
        "donations": draw(
            st.lists(
                st.tuples(
                    st.integers(0, 8),
                    st.integers(1, 100_000),
                    st.sampled_from(list(DonationStatus)),
                    moment,
                ),
                max_size=30,
            )
        ),
        "expenses": draw(
            st.lists(
                st.tuples(st.integers(0, 3), st.integers(1, 50_000), st.booleans(), moment),
                max_size=6,
            )
        ),
        "spaces": draw(st.lists(st.tuples(region, st.integers(0, 3)), max_size=3)),
    }


def instant(now: datetime, spec: tuple[str, int, int]) -> datetime:
    """`spec` months before `now`'s Beijing month: its first midnight ± a second, or a
    second within it (past the month's end rolls into the next, which is fine)."""
    _kind, back, offset = spec
    first = last_months(now.date(), back + 1)[0] if back >= 0 else (
        last_months(now.date() + timedelta(days=31), 1)[0]
    )  # fmt: skip
    return beijing(first.year, first.month, 1) + timedelta(seconds=offset)


def build(spec: dict[str, Any]) -> World:
    regions = make_tree(spec["shape"])
    funds = [make_fund(regions[i]) for i in spec["funds"]]
    needs = [
        make_need(funds[f % len(funds)], regions[r], status, published, people)
        for r, f, status, published, people in spec["needs"]
    ]
    db.session.flush()
    donations = []
    for target, amount, status, moment in spec["donations"]:
        need = needs[target] if target < len(needs) else None
        fund = need.fund if need else funds[target % len(funds)]
        donations.append(make_donation(fund, need, amount, status, instant(spec["now"], moment)))
    expenses = [
        make_expense(
            funds[f % len(funds)], None, amount, instant(spec["now"], moment) if paid else None
        )
        for f, amount, paid, moment in spec["expenses"]
    ]
    spaces = [make_space(funds[f % len(funds)], regions[r]) for r, f in spec["spaces"]]
    db.session.flush()
    return World(regions, funds, needs, donations, expenses, spaces)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=worlds())
def test_rollup_equals_plain_sums_at_every_level(app_ctx: Flask, spec: dict[str, Any]) -> None:
    set_clock(spec["now"])
    try:
        world = build(spec)
        today = spec["now"].date()
        for region in [None, *world.regions]:
            stats = rollup(region)
            assert stats.as_of == today
            assert figures(stats) == world.expected(region, today), region
            # raised and donations are what the progress figures of the needs show, summed
            shown = need_figures(
                n.id for n in world.needs if n.is_public and world.within(region, n.region_id)
            ).values()
            assert stats.raised_fen == sum(f.raised_fen for f in shown)
            assert stats.donation_count == sum(f.donation_count for f in shown)
    finally:
        set_clock(None)
        db.session.rollback()


# -- Beijing months -------------------------------------------------------------------------


def test_months_turn_at_beijing_midnight(app_ctx: Flask) -> None:
    set_clock(beijing(2026, 11, 30, 12))
    try:
        regions = make_tree([[1]])
        fund = make_fund(regions[-1])
        need = make_need(fund, regions[-1], NeedStatus.FUNDRAISING, True, 3)
        db.session.flush()
        # 2026-10-31T16:30Z is 00:30 on 1 November in Beijing
        make_donation(
            fund, need, 500, DonationStatus.PAID, datetime(2026, 10, 31, 16, 30, tzinfo=UTC)
        )
        make_donation(
            fund, need, 70, DonationStatus.PAID, datetime(2026, 10, 31, 15, 59, 59, tzinfo=UTC)
        )
        # a fully refunded donation adds nothing; a half refunded one half; a pool one nothing
        make_donation(fund, need, 1000, DonationStatus.REFUNDED, beijing(2026, 11, 2))
        make_donation(fund, need, 1000, DonationStatus.PARTIALLY_REFUNDED, beijing(2026, 11, 3))
        make_donation(fund, None, 9999, DonationStatus.PAID, beijing(2026, 11, 3))
        make_donation(fund, need, 8888, DonationStatus.PENDING, None)
        # a donation 12 months back falls outside the series but inside the total
        make_donation(fund, need, 3, DonationStatus.PAID, beijing(2025, 11, 30, 23, 59))
        make_expense(fund, need, 40, datetime(2026, 9, 30, 16, 0, tzinfo=UTC))  # 1 October
        make_expense(fund, None, 5, None)
        db.session.flush()
        for region in [None, *regions]:
            stats = rollup(region)
            months = {m.label: m for m in stats.monthly}
            assert [*months][0::11] == ["2025-12", "2026-11"]
            assert (months["2026-11"].raised_fen, months["2026-11"].donation_count) == (1000, 2)
            assert (months["2026-10"].raised_fen, months["2026-10"].donation_count) == (70, 1)
            assert months["2026-10"].spent_fen == 40 and months["2026-09"].spent_fen == 0
            assert (stats.raised_fen, stats.donation_count, stats.spent_fen) == (1073, 4, 40)
    finally:
        set_clock(None)
        db.session.rollback()


# -- targets ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "target", "actual", "due_on", "expected", "on_track", "days_left"),
    [
        # 1 January: nothing expected yet
        (date(2026, 1, 1), 365, 0, date(2026, 12, 31), 0, True, 364),
        # 2 July: 182 of 365 days past
        (date(2026, 7, 2), 365, 182, date(2026, 12, 31), 182, True, 182),
        (date(2026, 7, 2), 365, 181, date(2026, 12, 31), 182, False, 182),
        # rounded up: 10 × 1/365
        (date(2026, 1, 2), 10, 0, date(2026, 12, 31), 1, False, 363),
        # a plan due at the end of June is at half pace on 1 April (90 of 181 days)
        (date(2026, 4, 1), 181, 90, date(2026, 6, 30), 90, True, 90),
        # on the due day, one day is still left to go
        (date(2026, 6, 30), 181, 180, date(2026, 6, 30), 180, True, 0),
        # past due: the whole target, or behind
        (date(2026, 7, 1), 181, 180, date(2026, 6, 30), 181, False, -1),
        (date(2026, 8, 1), 181, 200, date(2026, 6, 30), 181, True, -32),
    ],
)
def test_target_pace(today, target, actual, due_on, expected, on_track, days_left) -> None:
    progress = target_progress("need_count", 2026, target, actual, due_on, today)
    assert (progress.expected, progress.on_track, progress.days_left) == (
        expected, on_track, days_left)  # fmt: skip
    assert progress.percent == actual * 100 // target
    assert progress.reached == (actual >= target)


def test_targets_of_a_region_and_of_the_platform(app_ctx: Flask) -> None:
    set_clock(beijing(2026, 7, 2, 9))
    try:
        regions = make_tree([[1], [1]])
        other = make_tree([])
        city, district = regions[0], regions[1]
        fund = make_fund(regions[3])
        make_need(fund, regions[3], NeedStatus.FUNDRAISING, True, 7)
        db.session.add_all([
            ProgrammeTarget(region_id=city.id, year=2026, metric="need_count", target=4,
                            due_on=date(2026, 12, 31)),
            ProgrammeTarget(region_id=other[0].id, year=2026, metric="need_count", target=6,
                            due_on=date(2026, 9, 30)),
            ProgrammeTarget(region_id=city.id, year=2025, metric="need_count", target=9,
                            due_on=date(2025, 12, 31)),
            ProgrammeTarget(region_id=district.id, year=2026, metric="beneficiary_count",
                            target=10, due_on=date(2026, 7, 31)),
        ])  # fmt: skip
        db.session.flush()
        (mine,) = rollup(city).targets
        assert (mine.metric, mine.target, mine.actual, mine.expected, mine.on_track) == (
            "need_count", 4, 1, 2, False)  # fmt: skip
        assert (mine.due_on, mine.days_left) == (date(2026, 12, 31), 182)
        (people,) = rollup(district).targets
        assert (people.actual, people.expected, people.on_track, people.days_left) == (
            7, 9, False, 29)  # fmt: skip
        (summed,) = rollup(None).targets
        assert (summed.target, summed.actual, summed.due_on) == (10, 1, date(2026, 12, 31))
        assert rollup(regions[2]).targets == []
    finally:
        set_clock(None)
        db.session.rollback()


# -- the endpoint ---------------------------------------------------------------------------


def test_endpoint_at_every_level(app: Flask, client, clean: None) -> None:
    set_clock(beijing(2026, 11, 30, 12))
    try:
        with app.app_context():
            regions = make_tree([[2, 0]])
            community = regions[3]
            fund = make_fund(community)
            need = make_need(fund, community, NeedStatus.FUNDRAISING, True, 5)
            make_need(fund, community, NeedStatus.DRAFT, False, 50)
            db.session.flush()
            make_donation(fund, need, 1234, DonationStatus.PAID, beijing(2026, 11, 1))
            make_donation(fund, need, 600, DonationStatus.PARTIALLY_REFUNDED, beijing(2026, 6, 1))
            make_expense(fund, need, 200, beijing(2026, 11, 20))
            make_space(fund, community)
            db.session.add(
                ProgrammeTarget(region_id=community.id, year=2026, metric="raised_fen",
                                target=10_000, due_on=date(2026, 12, 31))
            )  # fmt: skip
            db.session.commit()
            ids = [r.id for r in regions]
            need_id = need.id
        progress = client.get(f"/api/v1/needs/{need_id}/progress").get_json()
        for region_id in [None, *ids[:4]]:
            query = f"?region_id={region_id}" if region_id else ""
            answer = client.get(f"/api/v1/stats{query}")
            assert answer.status_code == 200
            stats = answer.get_json()
            assert (stats["raised_fen"], stats["donation_count"]) == (
                progress["raised_fen"], progress["donation_count"]) == (1534, 2)  # fmt: skip
            assert (stats["need_count"], stats["beneficiary_count"], stats["spent_fen"]) == (
                1,
                5,
                200,
            )
            assert stats["needs_by_status"]["fundraising"] == 1
            assert (stats["fund_count"], stats["space_count"]) == (1, 1)
            assert stats["as_of"] == "2026-11-30"
            assert [m["month"] for m in stats["monthly"]][::11] == ["2025-12", "2026-11"]
            months = {m["month"]: m for m in stats["monthly"]}
            assert months["2026-11"] == {"month": "2026-11", "raised_fen": 1234,
                                         "donation_count": 1, "spent_fen": 200}  # fmt: skip
            assert months["2026-06"]["raised_fen"] == 300
        community_stats = client.get(f"/api/v1/stats?region_id={ids[3]}").get_json()
        assert community_stats["region"] == {"id": ids[3], "name": "社区0"}
        (target,) = community_stats["targets"]
        assert target == {"metric": "raised_fen", "year": 2026, "target": 10_000,
                          "actual": 1534, "percent": 15, "due_on": "2026-12-31",
                          "days_left": 31, "expected": 9124, "on_track": False,
                          "reached": False}  # fmt: skip
        for region_id in ids[4:]:
            stats = client.get(f"/api/v1/stats?region_id={region_id}").get_json()
            assert stats["need_count"] == stats["raised_fen"] == stats["fund_count"] == 0
            assert stats["needs_by_status"] == {s.value: 0 for s in PUBLIC_STATUSES}
            assert len(stats["monthly"]) == 12
            assert all(m["raised_fen"] == m["spent_fen"] == 0 for m in stats["monthly"])
        missing = client.get("/api/v1/stats?region_id=99999999")
        assert missing.status_code == 404
        assert missing.is_json and missing.get_json()["message"]
        for bad in ("0", "-1", "abc", "1.5"):
            answer = client.get(f"/api/v1/stats?region_id={bad}")
            assert answer.status_code == 422 and "region_id" in answer.get_json()["errors"]
    finally:
        set_clock(None)


def test_rollup_uses_a_few_statements(app_ctx: Flask) -> None:
    regions = make_tree([[1]])
    db.session.flush()
    statements = 0

    def count(*_args: object) -> None:
        nonlocal statements
        statements += 1

    engine = db.session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        rollup(regions[0])
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert statements <= 5
