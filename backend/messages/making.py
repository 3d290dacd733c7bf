"""Messages made from consents: a donation paid (捐赠成功通知), a donor's money spent
(善款使用通知).

The fields follow the templates chosen in the mini-program's admin console, keyword by
keyword (the console numbers them in the order they were picked):

- 捐赠成功通知: thing1 项目名称, amount2 捐赠金额, time3 捐赠时间, thing4 捐赠人
- 善款使用通知: thing1 项目名称, amount2 您的善款, thing3 资金用途, time4 拨付时间

Values keep within WeChat's limits (thing: 20 characters; amount: digits with 元; time:
Beijing time). A consent usually arrives after the payment it is about (the donor taps
«subscribe» on the page that shows the payment done), so a paid donation stays eligible
for `PAID_WINDOW`: the consent goes to the donor's newest donation not yet told. Money
spent is told for expenses disbursed after the consent was given.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from backend.common.money import yuan
from backend.common.time import BEIJING
from backend.donations.models import COUNTED_STATUSES, Donation
from backend.extensions import db
from backend.funds.models import Fund
from backend.messages.models import MessageKind, SubscribeMessage, SubscriptionConsent
from backend.messages.services import template_ids
from backend.needs.models import Need
from backend.spending.models import Allocation, Expense, ExpenseStatus

#: how long after its payment a donation can still be told about
PAID_WINDOW = timedelta(days=1)
#: how long after its disbursement an expense can still be told about
SPENT_WINDOW = timedelta(days=30)
#: candidates looked at per run and kind
BATCH = 200
THING_MAX = 20
PAID_PAGE = "pages/donations/donations"
SPENT_PAGE = "pages/expense/expense?id={expense_id}"


def thing(text: str) -> str:
    """A `thing` value: one line, at most 20 characters (cut with an ellipsis)."""
    text = " ".join(text.split()) or "社区公益"
    return text if len(text) <= THING_MAX else text[: THING_MAX - 1] + "…"


def amount(fen: int) -> str:
    """An `amount` value: 1234.56元."""
    return yuan(fen, symbol="", grouping=False) + "元"


def beijing_time(instant: datetime) -> str:
    """A `time` value: 2026年11月30日 17:20 (Beijing)."""
    local = instant.astimezone(BEIJING)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def _field(value: str) -> dict[str, str]:
    return {"value": value}


def _free_consents(template_id: str, user_ids: set[int]) -> dict[int, list[SubscriptionConsent]]:
    """The users' unused consents to a template, oldest first, locked; those another worker
    holds are skipped (it is using them)."""
    consents = db.session.scalars(
        sa.select(SubscriptionConsent)
        .where(
            SubscriptionConsent.template_id == template_id,
            SubscriptionConsent.user_id.in_(user_ids),
            SubscriptionConsent.used_at.is_(None),
        )
        .order_by(SubscriptionConsent.granted_at, SubscriptionConsent.id)
        .with_for_update(skip_locked=True)
    )
    by_user: dict[int, list[SubscriptionConsent]] = defaultdict(list)
    for consent in consents:
        by_user[consent.user_id].append(consent)
    return by_user


def _add(consent: SubscriptionConsent, now: datetime, **values: Any) -> bool:
    """Insert a message taking `consent`, unless one about the same thing exists (made by
    another worker meanwhile); whether it was made."""
    made = db.session.scalar(
        insert(SubscribeMessage)
        .values(
            user_id=consent.user_id,
            template_id=consent.template_id,
            consent_id=consent.id,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
            **values,
        )
        .on_conflict_do_nothing()
        .returning(SubscribeMessage.id)
    )
    if made is None:
        return False
    consent.used_at = now
    return True


def _has_consent(template_id: str, user_id: Any, granted_by: Any = None) -> sa.Exists:
    consent = sa.select(1).where(
        SubscriptionConsent.template_id == template_id,
        SubscriptionConsent.user_id == user_id,
        SubscriptionConsent.used_at.is_(None),
    )
    if granted_by is not None:
        consent = consent.where(SubscriptionConsent.granted_at <= granted_by)
    return consent.exists()


def make_paid_messages(template_id: str, now: datetime) -> int:
    """A 捐赠成功通知 for each donation paid within `PAID_WINDOW` whose donor has an unused
    consent, newest donation first; flushes. How many were made."""
    told = sa.select(1).where(
        SubscribeMessage.kind == MessageKind.DONATION_PAID,
        SubscribeMessage.donation_id == Donation.id,
    )
    rows = db.session.execute(
        sa.select(Donation, Need.title, Fund.name)
        .join(Fund, Fund.id == Donation.fund_id)
        .outerjoin(Need, Need.id == Donation.need_id)
        .where(
            Donation.paid_at >= now - PAID_WINDOW,
            Donation.status.in_(COUNTED_STATUSES),
            _has_consent(template_id, Donation.user_id),
            ~told.exists(),
        )
        .order_by(Donation.paid_at.desc(), Donation.id.desc())
        .limit(BATCH)
    ).all()
    consents = _free_consents(template_id, {row.Donation.user_id for row in rows})
    made = 0
    for donation, need_title, fund_name in rows:
        free = consents.get(donation.user_id)
        if not free:
            continue
        data = {
            "thing1": _field(thing(need_title or f"{fund_name}（公益池）")),
            "amount2": _field(amount(donation.amount_fen)),
            "time3": _field(beijing_time(donation.paid_at)),
            "thing4": _field(thing(donation.public_name)),
        }
        if _add(free[0], now, kind=MessageKind.DONATION_PAID, donation_id=donation.id,
                data=data, page=PAID_PAGE):  # fmt: skip
            free.pop(0)
            made += 1
    db.session.flush()
    return made


@dataclass(frozen=True)
class _Spent:
    expense: Expense
    user_id: int
    donation_id: int
    amount_fen: int
    title: str


def make_spent_messages(template_id: str, now: datetime) -> int:
    """A 善款使用通知 to each donor whose money a recently disbursed expense used and who
    consented before the disbursement: one per donor and expense, oldest expense first;
    flushes. How many were made."""
    told = sa.select(1).where(
        SubscribeMessage.kind == MessageKind.MONEY_SPENT,
        SubscribeMessage.expense_id == Expense.id,
        SubscribeMessage.user_id == Donation.user_id,
    )
    rows = db.session.execute(
        sa.select(
            Expense,
            Donation.user_id,
            sa.func.min(Donation.id).label("donation_id"),
            sa.cast(sa.func.sum(Allocation.amount_fen), sa.BigInteger).label("amount_fen"),
            sa.func.coalesce(Need.title, Fund.name + "（公益池）").label("title"),
        )
        .join(Allocation, Allocation.expense_id == Expense.id)
        .join(Donation, Donation.id == Allocation.donation_id)
        .join(Fund, Fund.id == Expense.fund_id)
        .outerjoin(Need, Need.id == Expense.need_id)
        .where(
            Expense.status == ExpenseStatus.DISBURSED,
            Expense.disbursed_at >= now - SPENT_WINDOW,
            _has_consent(template_id, Donation.user_id, granted_by=Expense.disbursed_at),
            ~told.exists(),
        )
        .group_by(Expense.id, Donation.user_id, Need.title, Fund.name)
        .order_by(Expense.disbursed_at, Expense.id, Donation.user_id)
        .limit(BATCH)
    ).all()
    spent = [_Spent(*row) for row in rows]
    consents = _free_consents(template_id, {item.user_id for item in spent})
    made = 0
    for item in spent:
        expense = item.expense
        assert expense.disbursed_at is not None  # disbursed (checked by the table too)
        free = consents.get(item.user_id, [])
        consent = next((c for c in free if c.granted_at <= expense.disbursed_at), None)
        if consent is None:
            continue
        data = {
            "thing1": _field(thing(item.title)),
            "amount2": _field(amount(item.amount_fen)),
            "thing3": _field(thing(expense.purpose)),
            "time4": _field(beijing_time(expense.disbursed_at)),
        }
        if _add(consent, now, kind=MessageKind.MONEY_SPENT, donation_id=item.donation_id,
                expense_id=expense.id, data=data,
                page=SPENT_PAGE.format(expense_id=expense.id)):  # fmt: skip
            free.remove(consent)
            made += 1
    db.session.flush()
    return made


def make_messages(now: datetime) -> int:
    """Make the messages of every kind that is on; flushes. How many were made."""
    templates = template_ids()
    made = 0
    if MessageKind.DONATION_PAID in templates:
        made += make_paid_messages(templates[MessageKind.DONATION_PAID], now)
    if MessageKind.MONEY_SPENT in templates:
        made += make_spent_messages(templates[MessageKind.MONEY_SPENT], now)
    return made
