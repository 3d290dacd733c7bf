"""Donation orders and payments: create the order, apply a payment exactly once."""

from __future__ import annotations

import ipaddress
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import redis
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm.util import identity_key
from wechatpy.exceptions import WeChatPayException

from backend.accounts.models import User
from backend.common.errors import DomainError, Kind, not_found
from backend.common.paging import KeysetList, Page
from backend.common.time import BEIJING, utcnow
from backend.config import Settings
from backend.donations.models import (
    DONATION_TRANSITIONS,
    RECEIVED_STATUSES,
    REJECTED_EXCERPT_CHARS,
    Donation,
    DonationStatus,
    PaymentNotification,
)
from backend.donations.totals import need_sums
from backend.extensions import db
from backend.funds.services import get_fund
from backend.ledger.services import (
    FUND_POOL_ACCOUNT_PREFIX,
    NEED_ACCOUNT_PREFIX,
    WECHAT_CLEARING_ACCOUNT,
)
from backend.metrics import DONATIONS_PAID, ORDERS_CREATED, count_on_commit
from backend.needs.backoffice import move_need
from backend.needs.models import Need, NeedStatus
from backend.needs.services import need_not_found
from backend.payments.gateway import get_gateway
from backend.payments.wechat_pay import PaymentNotice, notice_from_orderquery
from backend.progress.service import FUND_LOCK_CLASS, NEED_LOCK_CLASS, apply_delta
from backend.progress.versions import mark_public_change, mark_user_change
from backend.spaces.models import CharitySpace
from backend.spaces.services import get_space
from backend.wechat.content import check_text

log = logging.getLogger(__name__)

#: unpaid orders expire after this (WeChat's own default is two hours)
ORDER_TTL = timedelta(minutes=15)
#: WeChat refuses to close an order younger than this
CLOSE_NOT_BEFORE = timedelta(minutes=5)
#: WeChat's limit on `body`
BODY_MAX_BYTES = 128


def settings() -> Settings:
    """The app's settings."""
    return current_app.config["SETTINGS"]


#: the name shown for an anonymous, unnamed or deleted donor
ANONYMOUS_DONOR = "爱心人士"


def public_name(user: User, anonymous: bool) -> str:
    """The name shown in public: 张** for 张三丰, 爱心人士 when anonymous or unnamed."""
    if anonymous or not user.nickname:
        return ANONYMOUS_DONOR
    return user.nickname[0] + "**"


def forget_donor(user: User) -> None:
    """Remove a deleted account's public traces from its donations: the name becomes
    爱心人士, the message and the client's address go. Amounts, status, payment ids, the raw
    payment notifications and the journal stay: the accounts need them."""
    db.session.execute(
        sa.update(Donation)
        .where(Donation.user_id == user.id)
        .values(public_name=ANONYMOUS_DONOR, message="", client_ip=None, updated_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )
    mark_public_change(db.session())  # public ledgers showed the name


def new_out_trade_no() -> str:
    """LS + Beijing time + 16 random hex digits: 32 characters, unique in practice."""
    return "LS" + utcnow().astimezone(BEIJING).strftime("%Y%m%d%H%M%S") + secrets.token_hex(8)


def order_body(title: str) -> str:
    """WeChat's `body` (at most 128 bytes of UTF-8), cut on a character boundary."""
    text = f"邻善捐赠-{title}"
    while len(text.encode()) > BODY_MAX_BYTES:
        text = text[:-1]
    return text


@dataclass(frozen=True)
class DonationRequest:
    """A validated request for a donation order."""

    amount_fen: int
    need_id: int | None = None
    fund_id: int | None = None
    anonymous: bool = False
    message: str = ""
    space_code: str | None = None


def create_donation(user: User, request: DonationRequest, client_ip: str) -> Donation:
    """A pending order at WeChat Pay, ready for `wx.requestPayment` (flushes, no commit)."""
    if request.amount_fen > settings().donation_max_fen:
        raise DomainError(
            Kind.INVALID,
            "amount_too_large",
            f"单笔捐赠不能超过 {settings().donation_max_fen // 100} 元",
            {"amount_fen": [f"不能超过 {settings().donation_max_fen} 分"]},
        )
    need: Need | None = None
    if request.need_id is not None:
        need = db.session.get(Need, request.need_id)
        if need is None or not need.is_public:
            raise need_not_found()
        if need.status != NeedStatus.FUNDRAISING:
            raise DomainError(Kind.CONFLICT, "need_not_open", "该项目已结束筹款")
        fund = need.fund
    else:
        fund = get_fund(request.fund_id)
    space = get_space(request.space_code) if request.space_code else None
    if request.message:
        check_text(user.openid, {"message": request.message}, scene=2)
    now = utcnow()
    donation = Donation(
        out_trade_no=new_out_trade_no(),
        user_id=user.id,
        need_id=need.id if need else None,
        fund_id=fund.id,
        space_id=space.id if space else None,
        amount_fen=request.amount_fen,
        refunded_fen=0,
        anonymous=request.anonymous,
        message=request.message,
        public_name=public_name(user, request.anonymous),
        status=DonationStatus.PENDING,
        client_ip=client_ip,
        expires_at=now + ORDER_TTL,
        created_at=now,
    )
    db.session.add(donation)
    db.session.flush()
    mark_user_change(db.session(), user.id)  # their list shows it once this commits
    gateway = get_gateway()
    try:
        prepay_id = gateway.create_jsapi_order(
            description=order_body(need.title if need else fund.name),
            total_fen=donation.amount_fen,
            notify_url=f"{settings().public_base_url}{gateway.payment_notify_path}",
            client_ip=client_ip,
            openid=user.openid,
            out_trade_no=donation.out_trade_no,
            attach=str(donation.id),
            time_start=now,
            time_expire=donation.expires_at,
        )
    except WeChatPayException as exc:
        log.error("unified order %s failed: %s %s", donation.out_trade_no, exc.errcode, exc.errmsg)
        raise DomainError(
            Kind.UPSTREAM, "payment_unavailable", "微信支付暂时不可用，请稍后再试"
        ) from None
    donation.prepay_id = prepay_id
    db.session.flush()
    count_on_commit(ORDERS_CREATED)
    log.info("donation %s ordered: %s fen", donation.out_trade_no, donation.amount_fen)
    return donation


def payment_parameters(donation: Donation) -> dict[str, str]:
    """The signed parameters `wx.requestPayment` takes as they are (v2: MD5, v3: RSA)."""
    return get_gateway().payment_parameters(donation.prepay_id)


def record_notification(kind: str, body: bytes, outcome: str, out_trade_no: str | None,
                        remote_addr: str | None) -> None:  # fmt: skip
    """Keep a verified notification exactly as it came, with what became of it (one Core
    INSERT: this runs for every verified one, duplicates included). Notifications refused
    before their signature held go to `record_rejected_notification`, which only tallies."""
    db.session.connection().execute(
        sa.insert(PaymentNotification.__table__).values(
            kind=kind,
            received_at=utcnow(),
            out_trade_no=out_trade_no[:32] if out_trade_no else None,
            outcome=outcome[:64],
            remote_addr=remote_addr,
            body=body.decode("utf-8", errors="replace"),
        )
    )


@dataclass(frozen=True)
class PaymentOutcome:
    """What applying a payment did."""

    applied: bool
    reason: str = ""
    donation_id: int | None = None
    need_id: int | None = None
    fund_id: int | None = None
    amount_fen: int = 0
    outbox_event_id: int | None = None
    recorded: bool = False


#: statuses an order may be paid from (an order closed meanwhile still keeps its payment)
PAYABLE = sorted(
    str(s) for s, nexts in DONATION_TRANSITIONS.items() if DonationStatus.PAID in nexts
)

#: the whole credit in one round trip. The UPDATE locks the order's row and moves it to paid
#: only if it is unpaid and the amount is the one ordered; only then do the other parts
#: write: the balanced journal entry, the outbox event and the raw notification (the
#: deferred trigger checks the balance at commit). A copy arriving meanwhile waits on the
#: row lock, then finds the order paid and writes nothing. Without a credit, the second
#: half answers the order as the statement found it, so the caller can say why.
CREDIT_SQL = sa.text("""
WITH paid AS (
    UPDATE donations SET status = 'paid', transaction_id = :transaction_id,
        paid_at = :paid_at, updated_at = :now
    WHERE out_trade_no = :out_trade_no AND paid_at IS NULL AND amount_fen = :total_fee
        AND CAST(status AS text) = ANY(CAST(:payable AS text[]))
    RETURNING id, need_id, fund_id, amount_fen, closed_at
), counters AS (
    -- held shared until commit: no counter rebuild can read between this credit and Redis
    SELECT pg_advisory_xact_lock_shared(:need_lock_class, COALESCE(paid.need_id, 0)),
           pg_advisory_xact_lock_shared(:fund_lock_class, paid.fund_id)
    FROM paid
), entry AS (
    INSERT INTO journal_entries (kind, donation_id, memo, created_at)
    SELECT 'donation', paid.id, :memo, :now FROM paid
    RETURNING id
), lines AS (
    INSERT INTO journal_lines (entry_id, account, amount_fen)
    SELECT entry.id, line.account, line.amount_fen
    FROM entry, paid, LATERAL (VALUES
        (CASE WHEN paid.need_id IS NOT NULL THEN :need_prefix || paid.need_id
              ELSE :fund_prefix || paid.fund_id END, paid.amount_fen),
        (CAST(:clearing AS varchar), -paid.amount_fen)) AS line(account, amount_fen)
), event AS (
    INSERT INTO outbox_events (kind, payload, created_at)
    SELECT 'progress.delta', jsonb_build_object('need_id', paid.need_id, 'fund_id',
        paid.fund_id, 'raised_fen', paid.amount_fen, 'donation_count', 1, 'donation_id',
        paid.id), :now
    FROM paid
    RETURNING id
), notification AS (
    INSERT INTO payment_notifications (kind, received_at, out_trade_no, outcome, remote_addr, body)
    SELECT 'payment', :now, :out_trade_no, 'applied', :remote_addr, :body
    FROM paid WHERE CAST(:body AS text) IS NOT NULL
)
SELECT true AS credited, paid.id, paid.need_id, paid.fund_id, paid.amount_fen,
    CAST('paid' AS text) AS status, NULL AS paid_at, NULL AS transaction_id,
    paid.closed_at IS NOT NULL AS was_closed, (SELECT id FROM event) AS event_id,
    (SELECT count(*) FROM counters) AS locks
FROM paid
UNION ALL
SELECT false, d.id, d.need_id, d.fund_id, d.amount_fen, CAST(d.status AS text), d.paid_at,
    d.transaction_id, false, NULL, 0
FROM donations d
WHERE d.out_trade_no = :out_trade_no AND NOT EXISTS (SELECT FROM paid)
""")

#: the order as it is now (a new snapshot), for a credit the statement above did not make
ORDER_SQL = sa.text("""
SELECT id, need_id, fund_id, amount_fen, CAST(status AS text) AS status, paid_at,
    transaction_id
FROM donations WHERE out_trade_no = :out_trade_no
""")


def apply_payment(
    notice: PaymentNotice, body: bytes | None = None, remote_addr: str | None = None
) -> PaymentOutcome:
    """Move the order to paid, write the journal entry and the outbox event, once.

    One statement (`CREDIT_SQL`) credits the order if it is unpaid and the amount matches;
    copies of a notification arriving together on several workers or machines queue on
    the order's row lock, and every copy after the first finds the order paid and changes
    nothing. A mismatch credits nothing and says why. With the notification's `body`, a
    credit also records it (`recorded` in the outcome); otherwise the caller records it.
    This is the hot path of the notification endpoint, so it is written in Core.
    """
    connection = db.session.connection()
    now = utcnow()
    row = None
    if notice.paid:
        row = connection.execute(
            CREDIT_SQL,
            {
                "out_trade_no": notice.out_trade_no,
                "total_fee": notice.total_fee,
                "transaction_id": notice.transaction_id,
                "paid_at": notice.time_end or now,
                "now": now,
                "payable": PAYABLE,
                "memo": f"捐赠 {notice.out_trade_no}",
                "need_prefix": NEED_ACCOUNT_PREFIX,
                "fund_prefix": FUND_POOL_ACCOUNT_PREFIX,
                "clearing": WECHAT_CLEARING_ACCOUNT,
                "need_lock_class": NEED_LOCK_CLASS,
                "fund_lock_class": FUND_LOCK_CLASS,
                "remote_addr": remote_addr,
                "body": body.decode("utf-8", errors="replace") if body is not None else None,
            },
        ).first()
        if row is not None and row.credited:
            return _credited(notice, row, recorded=body is not None)
        if row is not None and row.paid_at is None and row.amount_fen == notice.total_fee:
            # It looked payable when the statement began: a copy credited it meanwhile.
            row = None
    if row is None:
        row = connection.execute(ORDER_SQL, {"out_trade_no": notice.out_trade_no}).first()
    if row is None:
        return PaymentOutcome(False, "unknown order")
    facts = {"donation_id": row.id, "need_id": row.need_id, "fund_id": row.fund_id,
             "amount_fen": row.amount_fen}  # fmt: skip
    if notice.total_fee != row.amount_fen:
        log.error(
            "ALERT amount mismatch on %s: notified %s, ordered %s",
            notice.out_trade_no, notice.total_fee, row.amount_fen,
        )  # fmt: skip
        return PaymentOutcome(False, "amount mismatch", **facts)
    if not notice.paid:
        return PaymentOutcome(False, "not paid", **facts)
    if row.paid_at is not None:
        if row.transaction_id != notice.transaction_id:
            log.error(
                "ALERT second transaction %s for paid order %s (first %s)",
                notice.transaction_id, notice.out_trade_no, row.transaction_id,
            )  # fmt: skip
            return PaymentOutcome(False, "different transaction", **facts)
        return PaymentOutcome(False, "duplicate", **facts)
    return PaymentOutcome(False, f"order is {row.status}", **facts)


def _credited(notice: PaymentNotice, row: sa.Row, recorded: bool) -> PaymentOutcome:
    """The outcome of a credit `CREDIT_SQL` made."""
    loaded = db.session.identity_map.get(identity_key(Donation, row.id))
    if loaded is not None:
        db.session.expire(loaded)  # the ORM copy, if any, must not outlive the update
    if row.was_closed:
        log.warning("payment arrived for closed order %s: kept", notice.out_trade_no)
    log.info("donation %s paid: %s fen", notice.out_trade_no, row.amount_fen)
    count_on_commit(DONATIONS_PAID)
    mark_public_change(db.session())  # public ledgers list it once this commits
    return PaymentOutcome(
        True, "applied", donation_id=row.id, need_id=row.need_id, fund_id=row.fund_id,
        amount_fen=row.amount_fen, outbox_event_id=row.event_id, recorded=recorded,
    )  # fmt: skip


def fund_need_if_reached(need_id: int) -> bool:
    """Move a fundraising need whose paid donations reach its goal to funded (flushes).

    Called after a payment's counter update shows the goal reached, and by the worker;
    the sum is taken under the need's row lock, so it is exact and the move happens once.
    """
    need = db.session.get(Need, need_id, with_for_update=True)
    if need is None or need.status != NeedStatus.FUNDRAISING:
        return False
    raised = need_sums([need_id])[need_id][0]
    if raised < need.goal_fen:
        return False
    move_need(None, need, NeedStatus.FUNDED, action="need.funded")
    log.info("need %s reached its goal (%s of %s fen)", need.id, raised, need.goal_fen)
    return True


def after_payment(outcome: PaymentOutcome) -> None:
    """After the commit: count the payment in Redis; fund the need if its goal is reached."""
    assert outcome.outbox_event_id is not None and outcome.fund_id is not None
    need_counter = apply_delta(
        outcome.outbox_event_id, outcome.need_id, outcome.fund_id, outcome.amount_fen, 1,
        mark=False,
    )  # fmt: skip
    if outcome.need_id is None:
        return
    if need_counter is None or (
        need_counter.goal_fen is not None and need_counter.raised_fen >= need_counter.goal_fen
    ):  # a counter was rebuilt: ask PostgreSQL
        fund_need_if_reached(outcome.need_id)


def close_donation(donation: Donation) -> None:
    """Mark an unpaid order closed (after WeChat closed it)."""
    donation.status = DonationStatus.CLOSED
    donation.closed_at = utcnow()
    mark_user_change(db.session(), donation.user_id)


def notice_from_query(result: dict[str, Any]) -> PaymentNotice | None:
    """A PaymentNotice from a (signature-checked) v2 orderquery answer of a paid order."""
    return notice_from_orderquery(result)


class NeedRef(NamedTuple):
    """`{id, title}` of the need a donation went to."""

    id: int
    title: str


class SpaceRef(NamedTuple):
    """`{code, name}` of the charity space whose code led to a donation."""

    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Income:
    """A received donation as the public ledger shows it (the donor already masked), with
    the need it went to and the charity space whose code led to it."""

    id: int
    public_name: str
    amount_fen: int
    refunded_fen: int
    message: str
    paid_at: datetime | None
    need_id: int | None
    need: NeedRef | None
    space: SpaceRef | None


#: the columns of a page of income: the donation's own, its need's title and its space's
#: code and name, read by one statement (outer joins, one index lookup each per row)
INCOME_COLUMNS = (
    Donation.id, Donation.public_name, Donation.amount_fen, Donation.refunded_fen,
    Donation.message, Donation.paid_at, Donation.need_id, Need.title.label("need_title"),
    CharitySpace.code.label("space_code"), CharitySpace.name.label("space_name"),
)  # fmt: skip


def _income_list(owner: sa.ColumnElement[Any]) -> KeysetList:
    # `paid_at IS NOT NULL` says what the statuses say (received ones have paid_at), in the
    # words of a partial index on (need_id, id) / (fund_id, id) WHERE paid_at IS NOT NULL,
    # which can then read a page from the need's own rows in id order; without one, the
    # planner walks the whole table's ids backwards past every newer donation elsewhere.
    stmt = (
        sa.select(*INCOME_COLUMNS)
        .select_from(Donation)
        .outerjoin(Need, Need.id == Donation.need_id)
        .outerjoin(CharitySpace, CharitySpace.id == Donation.space_id)
        .where(Donation.paid_at.is_not(None), Donation.status.in_(RECEIVED_STATUSES))
        .where(owner == sa.bindparam("owner"))
    )
    return KeysetList(stmt, Donation.id)


#: a fund's income (False) and a need's (True)
_INCOME = {False: _income_list(Donation.fund_id), True: _income_list(Donation.need_id)}


def income_page(
    *,
    need_id: int | None = None,
    fund_id: int | None = None,
    limit: int,
    after: int | None,
    newest_first: bool = True,
) -> Page[Income]:
    """Money received by a need (or by a fund, needs and pool), newest first (by id): one
    statement, the columns the ledger shows and no more (no ORM objects)."""
    page = _INCOME[need_id is not None].page(
        {"owner": need_id or fund_id}, limit, after, descending=newest_first
    )
    items = [
        Income(r.id, r.public_name, r.amount_fen, r.refunded_fen, r.message, r.paid_at,
               r.need_id, None if r.need_id is None else NeedRef(r.need_id, r.need_title),
               None if r.space_code is None else SpaceRef(r.space_code, r.space_name))
        for r in page.items
    ]  # fmt: skip
    return Page(items, page.more)


#: what a donor is shown of each of their own donations (`api.schemas.donations`)
OWN_COLUMNS = (
    Donation.id, Donation.out_trade_no, Donation.status, Donation.amount_fen,
    Donation.refunded_fen, Donation.refunding_fen, Donation.allocated_fen, Donation.need_id,
    Donation.fund_id, Donation.anonymous, Donation.public_name, Donation.message,
    Donation.created_at, Donation.expires_at, Donation.paid_at,
)  # fmt: skip


def donations_of(user_id: int, limit: int, after: int | None, rows: KeysetList) -> Page[Any]:
    """A user's own donations, newest first: rows of `rows`, a list made by `own_list` (no
    ORM objects)."""
    return rows.page({"user_id": user_id}, limit, after)


def own_list(*more: sa.ColumnElement[Any]) -> KeysetList:
    """The list of a user's own donations: `OWN_COLUMNS` and `more`, columns another service
    adds (such as what each donation paid for)."""
    stmt = sa.select(*OWN_COLUMNS, *more).where(Donation.user_id == sa.bindparam("user_id"))
    return KeysetList(stmt, Donation.id)


def donation_not_found() -> DomainError:
    """The one answer for a donation that does not exist or is someone else's."""
    return not_found("donation_not_found", "捐赠记录不存在")


def own_donation(user: User, donation_id: int) -> Donation:
    """The user's donation; someone else's is not found, as if it did not exist."""
    donation = db.session.get(Donation, donation_id)
    if donation is None or donation.user_id != user.id:
        raise donation_not_found()
    return donation


#: at most one ALERT log line per kind, reason and sender in this many seconds
REJECTION_ALERT_SECONDS = 60

#: one row per Beijing day, kind, reason and sender: the first body's excerpt stays, the
#: count and the last arrival move on
REJECTED_UPSERT_SQL = sa.text("""
INSERT INTO rejected_notifications AS r
    (day, kind, reason, remote_addr, count, first_seen, last_seen, excerpt)
VALUES (:day, :kind, :reason, :remote_addr, 1, :now, :now, :excerpt)
ON CONFLICT (day, kind, reason, remote_addr) DO UPDATE
    SET count = r.count + 1, last_seen = GREATEST(r.last_seen, EXCLUDED.last_seen)
RETURNING r.count
""")


def sender_bucket(remote_addr: str | None) -> str:
    """The sender as tallied: an IPv4 address, an IPv6 sender's /64 network, or "unknown"."""
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        # One subscriber usually holds a whole /64: counting its addresses apart is unbounded.
        return str(ipaddress.IPv6Network((address.packed, 64), strict=False))
    return str(address)


def notification_excerpt(body: bytes) -> str:
    """The start of a body as text: at most REJECTED_EXCERPT_CHARS characters, no NUL."""
    text = body[:REJECTED_EXCERPT_CHARS].decode("utf-8", errors="replace")
    return text.replace("\x00", "\ufffd")  # PostgreSQL's text holds no NUL


def record_rejected_notification(
    kind: str, body: bytes, reason: str, remote_addr: str | None
) -> int:
    """Tally a notification refused before its signature held; how many so far this day.

    Unverified text is not kept whole: the day's row for (kind, reason, sender) counts it,
    and only the first body's excerpt is kept, so the table grows at most by
    reasons × senders a day however much is posted. `reason` must be one of the adapter's
    fixed reasons, never text from the body.
    """
    now = utcnow()
    result = db.session.connection().execute(
        REJECTED_UPSERT_SQL,
        {
            "day": now.astimezone(BEIJING).date(),
            "kind": kind,
            "reason": reason[:64],
            "remote_addr": sender_bucket(remote_addr),
            "now": now,
            "excerpt": notification_excerpt(body),
        },
    )
    return result.scalar_one()


def alert_rejection(kind: str, reason: str, remote_addr: str | None, count: int) -> bool:
    """Log an ALERT for a refused notification, at most once a minute per reason and sender.

    The once-a-minute mark is a Redis key (SET NX EX); if Redis is down the alert is logged
    anyway (failing open: an outage must not hide an attack). Whether it was logged.
    """
    key = f"lsa:notify-rejected:{kind}:{reason}:{sender_bucket(remote_addr)}"
    try:
        client: redis.Redis = current_app.extensions["redis"]
        first = bool(client.set(key, 1, nx=True, ex=REJECTION_ALERT_SECONDS))
    except redis.RedisError:
        first = True
    if first:
        log.warning(
            "ALERT %s notification rejected: %s from %s (%d this day)",
            kind, reason, remote_addr or "unknown", count,
        )  # fmt: skip
    return first
