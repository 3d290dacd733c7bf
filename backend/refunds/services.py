"""Refunds: asked for under the account's spending lock, sent to WeChat after the commit,
settled exactly once by whichever of the notice, the worker's query or a copy comes first.

The life of a refund:
1. `request_refund` (a foundation admin's request; flushes): under the account's spending
   lock (`ledger.lock_for_spending`, the lock approvals and disbursements take) it checks
   what the donation has left (amount − refunded − being refunded − spent) and what the
   account has left (balance − approved expenses − refunds in flight), then records the
   refund as `requested` and holds its amount on the donation (`refunding_fen`): from then
   on no disbursement can spend it and no other refund can take it again.
2. `send_refund` (after the commit, and by the worker for any still `requested`): asks
   WeChat to refund under our `out_refund_no`, which WeChat makes at most once however
   often it is sent. Accepted: `processing`. Refused for good: `failed` and the hold
   released. Not reached: left `requested`, for the worker to send again.
3. `settle_refund` (the refund notice, or `sync_refund` after refundquery): under the
   refund's row lock, once: SUCCESS writes the reversing journal entry (the account −, WeChat's
   clearing +), moves the hold to `refunded_fen`, sets the donation's status and writes the
   counter's outbox event (raised down by the amount; one donation fewer once all of it is
   back); CHANGE or REFUNDCLOSE fails it and releases the hold. A copy arriving meanwhile
   waits on the lock, then finds it settled and changes nothing.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from wechatpy.exceptions import WeChatPayException

from backend.accounts.models import User
from backend.audit.services import record
from backend.common.errors import DomainError, Kind, conflict, invalid, not_found
from backend.common.money import yuan
from backend.common.paging import Page, keyset_page
from backend.common.time import BEIJING, utcnow
from backend.config import Settings
from backend.donations.models import Donation, DonationStatus
from backend.donations.totals import refunding_total
from backend.extensions import db
from backend.ledger import services as ledger
from backend.metrics import REFUNDS, count_on_commit
from backend.payments import refunds as wechat_refunds
from backend.payments.gateway import get_gateway
from backend.payments.refunds import RefundState
from backend.progress.models import OutboxEvent
from backend.progress.service import FUND_LOCK_CLASS, NEED_LOCK_CLASS
from backend.progress.versions import mark_public_change
from backend.refunds.models import OPEN_REFUND_STATUSES, Refund, RefundStatus
from backend.spending.services import reserved_fen

log = logging.getLogger(__name__)

#: WeChat Pay refunds an order only within a year of its payment
REFUND_WINDOW = timedelta(days=365)
#: refunds sent to WeChat within the request that asked for them; the worker sends the rest
SEND_AT_ONCE = 20


def new_out_refund_no() -> str:
    """LR + Beijing time + 16 random hex digits: 32 characters, unique in practice."""
    return "LR" + utcnow().astimezone(BEIJING).strftime("%Y%m%d%H%M%S") + secrets.token_hex(8)


def donation_account(donation: Donation) -> str:
    """The journal account a donation's money is in: its need's, or the pool's (a pool
    donation, or one whose need's leftover moved there)."""
    if donation.need_id is not None and not donation.pooled:
        return ledger.need_account(donation.need_id)
    return ledger.fund_pool_account(donation.fund_id)


def _account_need_id(donation: Donation) -> int | None:
    """The need whose account holds the donation's money (None: the pool)."""
    return None if donation.pooled else donation.need_id


def refund_not_found() -> DomainError:
    """The one answer for a refund that does not exist or may not be seen."""
    return not_found("refund_not_found", "该退款不存在")


def _require_refundable(donation: Donation, amount_fen: int) -> None:
    """Refuse a refund the donation cannot give: unpaid, closed, all back, too old, too much."""
    if donation.paid_at is None:
        if donation.status == DonationStatus.CLOSED:
            raise conflict("donation_closed", "该订单已关闭，未收到款项，无需退款")
        raise conflict("donation_not_paid", "该捐赠尚未支付，不能退款")
    if donation.status == DonationStatus.REFUNDED:
        raise conflict("donation_refunded", "该捐赠已全额退款")
    if utcnow() - donation.paid_at > REFUND_WINDOW:
        raise conflict("refund_window_closed", "微信支付只能退还一年内的付款，该捐赠已超过退款期限")
    left = donation.refundable_fen
    if amount_fen > left:
        parts = [f"可退{yuan(max(left, 0))}"]
        if donation.allocated_fen:
            parts.append(f"已拨付使用{yuan(donation.allocated_fen)}，已使用的善款不能退还")
        if donation.refunded_fen:
            parts.append(f"已退{yuan(donation.refunded_fen)}")
        if donation.refunding_fen:
            parts.append(f"退款中{yuan(donation.refunding_fen)}")
        raise DomainError(
            Kind.CONFLICT,
            "refund_exceeds_refundable",
            f"退款金额{yuan(amount_fen)}超过可退金额：" + "，".join(parts),
        )


def _require_account_covers(donation: Donation, amount_fen: int) -> None:
    """Refuse a refund of money that approved expenses already hold (under the lock)."""
    need_id = _account_need_id(donation)
    available = (
        ledger.balance([donation_account(donation)])
        - reserved_fen(need_id, donation.fund_id, exclude=None)
        - refunding_total(need_id, donation.fund_id)
    )
    if amount_fen > available:
        where = "项目" if need_id is not None else "基金池"
        raise DomainError(
            Kind.CONFLICT,
            "insufficient_balance",
            f"{where}可用余额不足：可用{yuan(max(available, 0))}，本次退款{yuan(amount_fen)}"
            "（已批准待拨付的支出占用的善款不能退还）",
        )


def request_refund(
    actor: User | None,
    donation: Donation,
    amount_fen: int,
    reason: str,
    *,
    leftover_id: int | None = None,
) -> Refund:
    """Record a refund of `amount_fen` of a paid donation and hold the money (flushes);
    the caller sends it to WeChat after the commit (`send_refund`)."""
    if amount_fen <= 0:
        raise invalid("amount_fen", "退款金额必须大于0")
    reason = reason.strip()
    if not reason:
        raise invalid("reason", "请填写退款原因")
    ledger.lock_for_spending(donation_account(donation))
    db.session.refresh(donation, with_for_update=True)
    _require_refundable(donation, amount_fen)
    _require_account_covers(donation, amount_fen)
    refund = Refund(
        donation_id=donation.id,
        out_refund_no=new_out_refund_no(),
        amount_fen=amount_fen,
        reason=reason,
        status=RefundStatus.REQUESTED,
        requested_by_id=actor.id if actor else None,
        leftover_id=leftover_id,
    )
    db.session.add(refund)
    donation.refunding_fen += amount_fen
    donation.status = DonationStatus.REFUNDING
    db.session.flush()
    record(actor, "donation.refund", donation, fund_id=donation.fund_id, reason=reason,
           changes={"refund_id": refund.id, "amount_fen": amount_fen,
                    "out_refund_no": refund.out_refund_no})  # fmt: skip
    mark_public_change(db.session())
    count_on_commit(REFUNDS, "requested")
    log.info("refund %s of donation %s requested: %s fen", refund.out_refund_no, donation.id,
             amount_fen)  # fmt: skip
    return refund


def refund_notify_url(settings: Settings) -> str:
    """Where WeChat sends refund notices (the configured version's endpoint)."""
    return f"{settings.public_base_url}{get_gateway().refund_notify_path}"


def send_refund(refund_id: int) -> RefundStatus | None:
    """Send a requested refund to WeChat (flushes): `processing` once accepted, `failed`
    when refused for good, still `requested` when WeChat could not be reached. Returns the
    refund's status, or None when another process holds it (it is sending it)."""
    refund = db.session.scalars(
        sa.select(Refund).where(Refund.id == refund_id).with_for_update(skip_locked=True)
    ).first()
    if refund is None or refund.status != RefundStatus.REQUESTED:
        return refund.status if refund is not None else None
    donation = refund.donation
    refund.attempts += 1
    refund.sent_at = utcnow()
    try:
        answer = get_gateway().apply_refund(
            out_trade_no=donation.out_trade_no,
            out_refund_no=refund.out_refund_no,
            total_fee=donation.amount_fen,
            refund_fee=refund.amount_fen,
            reason=refund.reason,
            notify_url=refund_notify_url(current_app.config["SETTINGS"]),
        )
    except WeChatPayException as exc:
        if wechat_refunds.is_retryable(exc):
            log.warning("refund %s not sent (attempt %s): %s %s", refund.out_refund_no,
                        refund.attempts, exc.errcode, exc.errmsg)  # fmt: skip
            db.session.flush()
            return refund.status
        log.warning("refund %s refused by WeChat: %s %s", refund.out_refund_no, exc.errcode,
                    exc.errmsg)  # fmt: skip
        _fail(refund, f"微信支付拒绝退款：{exc.errmsg or exc.errcode}")
        return refund.status
    refund.status = RefundStatus.PROCESSING
    refund.refund_id = (answer.get("refund_id") or "")[:32] or None
    db.session.flush()
    log.info("refund %s accepted by WeChat (%s)", refund.out_refund_no, refund.refund_id)
    return refund.status


def _release(donation: Donation, amount_fen: int) -> None:
    """Take a refund's hold off the donation and set the status its amounts give."""
    donation.refunding_fen -= amount_fen
    if donation.refunding_fen > 0:
        donation.status = DonationStatus.REFUNDING
    elif donation.refunded_fen >= donation.amount_fen:
        donation.status = DonationStatus.REFUNDED
    elif donation.refunded_fen > 0:
        donation.status = DonationStatus.PARTIALLY_REFUNDED
    else:
        donation.status = DonationStatus.PAID


def _locked_donation(refund: Refund) -> Donation:
    """The refund's donation, its row locked and read afresh (its amounts change)."""
    donation = db.session.get(Donation, refund.donation_id)
    assert donation is not None
    db.session.refresh(donation, with_for_update=True)
    return donation


def _fail(refund: Refund, why: str) -> None:
    """A refund that will not happen: failed, its hold released (flushes)."""
    refund.status = RefundStatus.FAILED
    refund.failure = why[:200]
    refund.settled_at = utcnow()
    _release(_locked_donation(refund), refund.amount_fen)
    db.session.flush()
    record(None, "donation.refund_failed", refund.donation, fund_id=refund.donation.fund_id,
           reason=refund.failure, changes={"refund_id": refund.id})  # fmt: skip
    mark_public_change(db.session())
    count_on_commit(REFUNDS, "failed")


@dataclass(frozen=True)
class RefundOutcome:
    """What settling a refund did: `applied` (now), `duplicate` (before), `failed`, or a
    refusal (`unknown refund`, `mismatch`, `not final`); the outbox event to apply."""

    outcome: str
    refund_id: int | None = None
    outbox_event_id: int | None = None

    @property
    def handled(self) -> bool:
        """Whether WeChat may stop notifying."""
        return self.outcome in ("applied", "duplicate", "failed")


def settle_refund(state: RefundState) -> RefundOutcome:
    """Apply WeChat's final word on a refund exactly once (flushes); see the module's text."""
    refund = db.session.scalars(
        sa.select(Refund).where(Refund.out_refund_no == state.out_refund_no).with_for_update()
    ).first()
    if refund is None:
        log.error("ALERT refund notice for unknown refund %s (order %s)", state.out_refund_no,
                  state.out_trade_no)  # fmt: skip
        return RefundOutcome("unknown refund")
    if refund.status not in OPEN_REFUND_STATUSES:
        return RefundOutcome("duplicate", refund.id)
    donation = _locked_donation(refund)
    if state.out_trade_no != donation.out_trade_no or state.refund_fee != refund.amount_fen:
        log.error("ALERT refund %s: WeChat says order %s, %s fen; ours is %s, %s fen",
                  refund.out_refund_no, state.out_trade_no, state.refund_fee,
                  donation.out_trade_no, refund.amount_fen)  # fmt: skip
        return RefundOutcome("mismatch", refund.id)
    if state.status in ("CHANGE", "REFUNDCLOSE"):
        _fail(
            refund, "退款未能退回付款账户（微信支付：" + state.status + "），请联系捐赠人后重新发起"
        )
        return RefundOutcome("failed", refund.id)
    if state.status != "SUCCESS":
        return RefundOutcome("not final", refund.id)
    return RefundOutcome("applied", refund.id, _succeed(refund, donation, state))


def _succeed(refund: Refund, donation: Donation, state: RefundState) -> int:
    """The money is back with the donor: journal, donation, counter event (flushes)."""
    # held shared until commit, as a payment does: no counter rebuild reads in between
    db.session.execute(
        sa.select(
            sa.func.pg_advisory_xact_lock_shared(NEED_LOCK_CLASS, donation.need_id or 0),
            sa.func.pg_advisory_xact_lock_shared(FUND_LOCK_CLASS, donation.fund_id),
        )
    )
    entry = ledger.write_entry(
        "refund",
        f"退款 {refund.out_refund_no}（捐赠 {donation.out_trade_no}）",
        [
            (donation_account(donation), -refund.amount_fen),
            (ledger.WECHAT_CLEARING_ACCOUNT, refund.amount_fen),
        ],
        donation_id=donation.id,
    )
    was_counted = donation.refunded_fen < donation.amount_fen
    donation.refunded_fen += refund.amount_fen
    _release(donation, refund.amount_fen)
    refund.status = RefundStatus.SUCCEEDED
    refund.settled_at = state.success_time or utcnow()
    refund.refund_id = refund.refund_id or state.refund_id or None
    refund.journal_entry_id = entry.id
    all_back = donation.refunded_fen >= donation.amount_fen
    event = OutboxEvent(
        kind="progress.delta",
        payload={
            "need_id": donation.need_id,
            "fund_id": donation.fund_id,
            "raised_fen": -refund.amount_fen,
            "donation_count": -1 if all_back and was_counted else 0,
            "refund_id": refund.id,
        },
        created_at=utcnow(),
    )
    db.session.add(event)
    db.session.flush()
    record(None, "donation.refunded", donation, fund_id=donation.fund_id,
           changes={"refund_id": refund.id, "amount_fen": refund.amount_fen,
                    "journal_entry_id": entry.id, "status": donation.status})  # fmt: skip
    mark_public_change(db.session())
    count_on_commit(REFUNDS, "succeeded")
    log.info("refund %s succeeded: %s fen back to the donor of %s", refund.out_refund_no,
             refund.amount_fen, donation.out_trade_no)  # fmt: skip
    return event.id


def sync_refund(refund: Refund) -> RefundOutcome | None:
    """Ask WeChat about an open refund and settle it if WeChat has (flushes): the outcome,
    or None when there is nothing to settle yet. A `requested` refund WeChat does not know
    is sent (again)."""
    if refund.status not in OPEN_REFUND_STATUSES:
        return None
    state = get_gateway().query_refund(refund.out_refund_no)
    if state is None:
        if refund.status == RefundStatus.REQUESTED:
            send_refund(refund.id)
        return None
    if refund.status == RefundStatus.REQUESTED:
        refund.status = RefundStatus.PROCESSING
        refund.refund_id = state.refund_id or None
        db.session.flush()
    if state.status not in wechat_refunds.FINAL_STATES:
        return None
    return settle_refund(state)


def need_donations_page(need_id: int, limit: int, after: int | None) -> Page[Donation]:
    """A page of a need's received donations, newest first."""
    stmt = sa.select(Donation).where(Donation.need_id == need_id, Donation.paid_at.is_not(None))
    return keyset_page(stmt, Donation.id, limit, after)


def refunds_of(donation: Donation) -> list[Refund]:
    """A donation's refunds, oldest first."""
    return list(
        db.session.scalars(
            sa.select(Refund).where(Refund.donation_id == donation.id).order_by(Refund.id)
        )
    )


def open_refunds(older_than: datetime, limit: int) -> list[Refund]:
    """Open refunds last touched before `older_than`, claimed for this transaction."""
    return list(
        db.session.scalars(
            sa.select(Refund)
            .where(Refund.status.in_(OPEN_REFUND_STATUSES), Refund.updated_at < older_than)
            .order_by(Refund.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
