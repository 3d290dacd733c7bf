"""The demo data meets what the product needs to show, its money adds up everywhere (the
journal, the allocations, the counters), one need is overdue with its disclosure, and
loading it twice changes nothing."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from backend.accounts.models import Role, RoleGrant, User
from backend.audit.models import AuditEvent
from backend.common.time import utcnow
from backend.demo import activity, data
from backend.demo.history import ORDER_PREFIX
from backend.demo.seed import count_donations, seed_demo
from backend.donations.models import Donation, DonationStatus
from backend.extensions import db
from backend.funds.backoffice import governance_of
from backend.ledger import sealing
from backend.ledger.models import JournalEntry, JournalLine
from backend.ledger.services import balance, fund_pool_account, need_account, write_entry
from backend.models import CharitySpace, Fund, Need, Region
from backend.needs.disclosure import DisclosureState, disclosure_of
from backend.needs.models import (
    PUBLIC_STATUSES,
    NeedCategory,
    NeedStatus,
    ProgressUpdateImage,
    UpdateKind,
)
from backend.progress.models import OutboxEvent
from backend.progress.service import check_counters
from backend.regions.models import RegionLevel
from backend.spending.allocation import expense_allocations
from backend.spending.models import (
    Allocation,
    Approval,
    AttachmentStage,
    Decision,
    Expense,
    ExpenseAttachment,
    ExpenseStatus,
    PayeeType,
)
from backend.uploads.models import Upload
from tests.conftest import truncate_all

#: every table the demo writes to, counted before and after a second run
COUNTED = (
    Region, Fund, CharitySpace, Need, User, RoleGrant, Donation, JournalEntry, JournalLine,
    OutboxEvent, Expense, Approval, ExpenseAttachment, Allocation, Upload, ProgressUpdateImage,
    AuditEvent,
)  # fmt: skip

OVERDUE_TITLE = next(n["title"] for n in data.NEEDS if n.get("disclosure_overdue"))


def counts() -> dict[str, int]:
    return {
        model.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in COUNTED
    }


def test_the_demo_content_keeps_its_invariants() -> None:
    """Budgets add up, disclosures are on time (but for one), money is raised before it is
    spent and completed needs spend what their final reports say."""
    data.check()
    activity.check()


@pytest.mark.usefixtures("app_ctx")
def test_demo_data_shape_and_idempotence(clock) -> None:
    started = clock.now
    seed_demo(progress=lambda line: None)
    db.session.commit()
    assert utcnow() == started, "the seed puts the clock back where it stood"
    first = counts()
    levels = Counter(r.level for r in db.session.scalars(sa.select(Region)))
    assert levels == {
        RegionLevel.CITY: 1,
        RegionLevel.DISTRICT: 2,
        RegionLevel.STREET: 3,
        RegionLevel.COMMUNITY: 8,
    }
    funds = db.session.scalars(sa.select(Fund)).all()
    assert len(funds) == 8
    assert all(f.committee_threshold_fen >= 100000 for f in funds)
    assert first["charity_spaces"] >= 3
    needs = db.session.scalars(sa.select(Need)).all()
    public = [n for n in needs if n.status in PUBLIC_STATUSES]
    assert len(public) >= 30
    assert {n.category for n in public} == set(NeedCategory)
    assert {n.status for n in public} == set(PUBLIC_STATUSES)
    assert len({n.fund_id for n in public}) >= 4
    assert (
        sum(1 for n in public if n.status == NeedStatus.FUNDRAISING and n.goal_fen >= 500000) >= 1
    )
    assert any(n.status == NeedStatus.DRAFT for n in needs)
    for n in needs:
        assert sum(line.amount_fen for line in n.budget_lines) == n.goal_fen, n.title
    # A fund that fundraises publicly shows a filing number on every published need.
    for n in public:
        if n.fund.public_fundraising:
            assert n.filing_number, n.title
    # Every fund is governed as the rules say: a secretary, an odd committee, a supervisor.
    for fund in funds:
        governance = governance_of(fund.id)
        assert governance.problems == [], (fund.name, governance.problems)
    admins = db.session.scalars(
        sa.select(RoleGrant).where(RoleGrant.role == Role.FOUNDATION_ADMIN)
    ).all()
    assert len(admins) == 1
    assert first["donations"] > 100 and first["expenses"] > 20

    clock.advance(days=1)  # another day: the plan moves with the calendar, its keys do not
    again = seed_demo(progress=lambda line: None)
    db.session.commit()
    assert not any(again.values()), again
    assert counts() == first


@pytest.mark.usefixtures("app_ctx")
def test_a_history_cannot_be_written_behind_newer_journal_entries() -> None:
    """Entries already in the journal that are newer than the demo's history: the money is
    left out (its backdated entries would look inserted behind the sealer's back)."""
    write_entry("adjustment", "更早的真实分录", [("clearing:wechat", -100), ("bank:x", 100)])
    db.session.commit()
    lines: list[str] = []
    added = seed_demo(progress=lines.append)
    db.session.commit()
    assert added["needs"] == len(data.NEEDS) and added["users"] > 0
    assert added["donations"] == added["expenses"] == 0
    assert any("left out" in line for line in lines), lines
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Donation)) == 0


@pytest.fixture(scope="module")
def city(app: Flask) -> Iterator[dict[str, float]]:
    """The demo, loaded once for the read-only tests below, its donations counted."""
    with app.app_context():
        app.extensions["redis"].flushdb()
        started = time.perf_counter()
        added = seed_demo(progress=lambda line: None)
        db.session.commit()
        seconds = time.perf_counter() - started
        counted = count_donations(progress=lambda line: None)
        db.session.commit()
        db.session.remove()
    assert counted == added["donations"]
    yield {"seconds": seconds, **added}
    truncate_all(app)


@pytest.fixture
def ctx(app: Flask, city: dict[str, float]) -> Iterator[None]:
    with app.app_context():
        yield
        db.session.rollback()
        db.session.remove()


def needs_by_key() -> dict[str, Need]:
    by_title = {n.title: n for n in db.session.scalars(sa.select(Need))}
    return {spec["key"]: by_title[spec["title"]] for spec in data.NEEDS}


def received(need_id: int | None, fund_id: int | None = None) -> int:
    stmt = sa.select(sa.func.coalesce(sa.func.sum(Donation.net_fen), 0))
    if need_id is not None:
        stmt = stmt.where(Donation.need_id == need_id)
    else:
        stmt = stmt.where(Donation.need_id.is_(None), Donation.fund_id == fund_id)
    return int(db.session.scalar(stmt))


def spent(need_id: int) -> int:
    return int(
        db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Expense.amount_fen), 0)).where(
                Expense.need_id == need_id, Expense.status == ExpenseStatus.DISBURSED
            )
        )
    )


@pytest.mark.usefixtures("ctx")
def test_each_account_holds_what_came_in_minus_what_went_out(city) -> None:
    assert city["donations"] > 100 and city["expenses"] > 20
    needs = needs_by_key()
    for key, need in needs.items():
        income, out = received(need.id), spent(need.id)
        assert balance([need_account(need.id)]) == income - out, key
        status = need.status
        if status in (NeedStatus.FUNDED, NeedStatus.IN_PROGRESS, NeedStatus.COMPLETED):
            assert income >= need.goal_fen, key
        if status == NeedStatus.COMPLETED:
            assert income == need.goal_fen, key
            final = next(u for u in need.updates if u.kind == UpdateKind.FINAL)
            left = need.goal_fen - out
            assert (left == 0 and "无结余" in final.text) or f"结余{left // 100}元" in final.text
        if status == NeedStatus.FUNDRAISING:
            assert income < need.goal_fen, key  # still raising: donations keep it open
        if status in (NeedStatus.IN_PROGRESS, NeedStatus.COMPLETED):
            assert out > 0, key
        if status in (NeedStatus.DRAFT, NeedStatus.SUBMITTED, NeedStatus.CLOSED):
            assert income == out == 0, key
    pools = 0
    for fund in db.session.scalars(sa.select(Fund)):
        pool = received(None, fund.id)
        assert balance([fund_pool_account(fund.id)]) == pool, fund.name
        pools += pool > 0
    assert pools >= 6
    # The journal as a whole balances: every entry's lines sum to zero.
    assert db.session.scalar(sa.select(sa.func.sum(JournalLine.amount_fen))) == 0


@pytest.mark.usefixtures("ctx")
def test_donations_went_through_the_payment_path(city) -> None:
    donations = db.session.scalars(sa.select(Donation)).all()
    assert {d.status for d in donations} == {DonationStatus.PAID}
    assert all(d.out_trade_no.startswith(ORDER_PREFIX) for d in donations)
    entries = {
        e.donation_id: e
        for e in db.session.scalars(sa.select(JournalEntry).where(JournalEntry.kind == "donation"))
    }
    events = db.session.scalars(sa.select(OutboxEvent)).all()
    assert len(entries) == len(events) == len(donations)
    now = utcnow()
    for d in donations:
        assert d.transaction_id and d.paid_at is not None
        assert d.paid_at < now
        assert d.created_at < d.paid_at <= entries[d.id].created_at
        if d.need is not None:
            assert d.paid_at > d.need.published_at, d.need.title
    assert all(e.applied_at is not None for e in events), "counted on the counters"
    # ids grow with time: the journal is sealed in that order
    ordered = sorted(entries.values(), key=lambda e: e.id)
    assert [e.created_at for e in ordered] == sorted(e.created_at for e in ordered)
    assert any(d.anonymous for d in donations) and not all(d.anonymous for d in donations)
    assert any(d.public_name == "爱心人士" for d in donations)
    assert any(d.space_id is not None for d in donations)
    assert any(d.need_id is None for d in donations), "gifts to funds' pools"
    assert any(d.message for d in donations)


@pytest.mark.usefixtures("ctx")
def test_expenses_follow_the_policy_and_are_allocated(city) -> None:
    expenses = db.session.scalars(sa.select(Expense)).all()
    statuses = Counter(e.status for e in expenses)
    assert statuses[ExpenseStatus.SUBMITTED] >= 2
    assert statuses[ExpenseStatus.REJECTED] == 1
    assert statuses[ExpenseStatus.DISBURSED] >= 20
    secretaries = {
        (g.user_id, g.scope_id)
        for g in db.session.scalars(sa.select(RoleGrant).where(RoleGrant.role == Role.SECRETARY))
    }
    admin = db.session.scalar(
        sa.select(RoleGrant.user_id).where(RoleGrant.role == Role.FOUNDATION_ADMIN)
    )
    assert any(e.needs_committee for e in expenses) and not all(e.needs_committee for e in expenses)
    assert any(e.payee_type == PayeeType.PERSON for e in expenses)
    for e in expenses:
        assert (e.submitter_id, e.fund_id) in secretaries, e.purpose
        assert e.attachments, e.purpose
        approvals = [a for a in e.approvals if a.decision == Decision.APPROVE]
        assert all(a.user_id != e.submitter_id for a in e.approvals)
        if e.needs_committee:
            assert all(a.role == Role.COMMITTEE for a in e.approvals), e.purpose
        if e.status == ExpenseStatus.REJECTED:
            assert e.rejection_reason and "比价" in e.rejection_reason
        if e.status == ExpenseStatus.SUBMITTED:
            assert len(approvals) < e.required_approvals
            assert not any(a.upload.public for a in e.attachments), "evidence private until paid"
        if e.status != ExpenseStatus.DISBURSED:
            continue
        assert len(approvals) >= e.required_approvals, e.purpose
        assert e.disbursed_by_id == admin and e.voucher_no
        assert e.created_at < e.decided_at < e.disbursed_at < utcnow()
        stages = {a.stage for a in e.attachments}
        assert stages == {AttachmentStage.EVIDENCE, AttachmentStage.DISBURSEMENT}, e.purpose
        assert all(a.public_upload.public for a in e.attachments)
        totals = expense_allocations(e.id)
        assert totals.amount_fen == e.amount_fen, e.purpose
        assert totals.donation_count >= 1
    # no donation gave more than it had
    over = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Donation)
        .where(Donation.allocated_fen > Donation.amount_fen - Donation.refunded_fen)
    )
    assert over == 0


@pytest.mark.usefixtures("ctx")
def test_the_counters_agree_with_postgresql(city) -> None:
    assert check_counters() == []


@pytest.mark.usefixtures("ctx")
def test_one_need_is_overdue_with_its_disclosure(city) -> None:
    states = {n.title: disclosure_of(n).state for n in db.session.scalars(sa.select(Need))}
    overdue = [title for title, state in states.items() if state == DisclosureState.OVERDUE]
    assert overdue == [OVERDUE_TITLE]
    need = needs_by_key()[next(n["key"] for n in data.NEEDS if n.get("disclosure_overdue"))]
    assert need.status == NeedStatus.IN_PROGRESS
    assert need.published_at < utcnow() - timedelta(days=183)
    assert max(u.created_at for u in need.updates) < utcnow() - timedelta(days=92)


@pytest.mark.usefixtures("ctx")
def test_updates_carry_public_photos(city) -> None:
    images = db.session.scalars(sa.select(ProgressUpdateImage)).all()
    assert len(images) >= 3
    assert all(i.upload.public and i.upload.content_type == "image/jpeg" for i in images)


def test_the_public_ledger_of_a_need_in_progress_shows_money_in_and_out(client, city) -> None:
    listed = client.get("/api/v1/needs?status=in_progress&limit=100").get_json()["items"]
    need = next(n for n in listed if n["title"] == "独居老人爱心午餐")
    ledger = client.get(f"/api/v1/needs/{need['id']}/ledger?limit=100").get_json()
    income = ledger["income"]["items"]
    assert income and all(i["amount_fen"] > 0 for i in income)
    assert ledger["expenses"], "disbursed expenses are public"
    for expense in ledger["expenses"]:
        assert expense["amount_fen"] > 0
    raised = sum(i["amount_fen"] for i in income)
    out = sum(e["amount_fen"] for e in ledger["expenses"])
    assert ledger["balance_fen"] == raised - out
    assert raised == need["raised_fen"] >= need["goal_fen"]


@pytest.mark.usefixtures("ctx")
def test_the_demo_journal_seals_and_verifies(city) -> None:
    assert sealing.first_out_of_place() is None
    entries = db.session.scalar(sa.select(sa.func.count()).select_from(JournalEntry))
    assert sealing.seal_pending() == entries
    db.session.commit()
    assert sealing.verify().problem is None
