"""项目结余: the money a completed or closed need has left, and the one decision on it.

Either every donor gets back what is left of their donation (the allocation rule spends
the oldest donations first, so what is left is the newest donations' money, each refunded
through WeChat as any refund is), or the committee decides that the rest goes to the
fund's general pool: one journal entry moves the need's balance to the pool, and the
donations that still had money left are marked `pooled`, so the pool's later expenses are
allocated to them (the donors still see where their money went) and a refund of them is
taken from the pool.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from backend.accounts.models import User
from backend.audit.services import record
from backend.common.errors import conflict, invalid
from backend.common.money import yuan
from backend.common.time import utcnow
from backend.donations.models import Donation
from backend.donations.totals import in_account, refunding_total
from backend.extensions import db
from backend.ledger import services as ledger
from backend.needs.models import Need, NeedStatus
from backend.progress.versions import mark_public_change
from backend.refunds.models import (
    OPEN_REFUND_STATUSES,
    LeftoverAction,
    NeedLeftover,
    Refund,
)
from backend.refunds.services import REFUND_WINDOW, request_refund
from backend.spending.services import reserved_fen

#: needs whose leftover may be decided
FINISHED = (NeedStatus.COMPLETED, NeedStatus.CLOSED)


@dataclass(frozen=True)
class Leftover:
    """What a need has left and what was decided about it."""

    need_id: int
    status: str
    left_fen: int
    refundable_count: int
    open_refunds: int
    decision: NeedLeftover | None


def _with_money_left(need: Need) -> sa.Select[tuple[Donation]]:
    """The need's donations whose money is still in its account, oldest first."""
    return (
        sa.select(Donation)
        .where(
            in_account(need.id, need.fund_id), Donation.paid_at.is_not(None), Donation.left_fen > 0
        )
        .order_by(Donation.paid_at, Donation.id)
    )


def leftover_of(need: Need) -> Leftover:
    """The need's money left (its account's balance less refunds in flight) and decision."""
    account = ledger.need_account(need.id)
    left = ledger.balance([account]) - refunding_total(need.id, need.fund_id)
    count = db.session.scalar(
        sa.select(sa.func.count()).select_from(_with_money_left(need).order_by(None).subquery())
    )
    open_count = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Refund)
        .join(Donation, Donation.id == Refund.donation_id)
        .where(Donation.need_id == need.id, Refund.status.in_(OPEN_REFUND_STATUSES))
    )
    decision = db.session.scalar(sa.select(NeedLeftover).where(NeedLeftover.need_id == need.id))
    return Leftover(need.id, need.status.value, left, int(count or 0), int(open_count or 0),
                    decision)  # fmt: skip


def decide_leftover(actor: User, need: Need, action: LeftoverAction, decision: str) -> Leftover:
    """Record the decision on a finished need's money left and carry it out (flushes):
    refunds requested for every donation with money left (sent after the commit and by the
    worker), or the balance moved to the fund's pool."""
    decision = decision.strip()
    if not decision:
        raise invalid("decision", "请填写基金管理委员会的决议（会议及决议内容）")
    if need.status not in FINISHED:
        raise conflict("need_not_finished", "项目完成或关闭后才能处置结余")
    account = ledger.need_account(need.id)
    ledger.lock_for_spending(account)
    if db.session.scalar(sa.select(NeedLeftover.id).where(NeedLeftover.need_id == need.id)):
        raise conflict("leftover_decided", "该项目的结余已处置，不能再次处置")
    if reserved_fen(need.id, need.fund_id, exclude=None):
        raise conflict("expenses_pending", "项目还有已批准待拨付的支出，请先拨付或撤回后再处置结余")
    if refunding_total(need.id, need.fund_id):
        raise conflict("refunds_pending", "项目还有正在处理的退款，请等退款完成后再处置结余")
    left = ledger.balance([account])
    if left <= 0:
        raise conflict("no_leftover", "该项目没有结余")
    donations = list(db.session.scalars(_with_money_left(need).with_for_update()))
    in_donations = sum(d.left_fen for d in donations)
    if in_donations != left:
        raise conflict(
            "leftover_inconsistent",
            f"账目不一致：项目余额{yuan(left)}，捐赠剩余{yuan(in_donations)}，请联系平台核查",
        )
    too_old = sum(utcnow() - d.paid_at > REFUND_WINDOW for d in donations if d.paid_at)
    if action == LeftoverAction.REFUND and too_old:
        raise conflict(
            "refund_window_closed",
            f"有{too_old}笔捐赠已超过微信支付一年的退款期限，无法原路退还，请改为转入基金池",
        )
    chosen = NeedLeftover(
        need_id=need.id, action=action, amount_fen=left, decision=decision,
        decided_by_id=actor.id, created_at=utcnow(),
    )  # fmt: skip
    db.session.add(chosen)
    db.session.flush()
    if action == LeftoverAction.REFUND:
        for donation in donations:
            request_refund(actor, donation, donation.left_fen, f"项目结余退还：{need.title}"[:200],
                           leftover_id=chosen.id)  # fmt: skip
    else:
        entry = ledger.write_entry(
            "transfer",
            f"项目#{need.id}结余转入基金池：{decision}",
            [(account, -left), (ledger.fund_pool_account(need.fund_id), left)],
        )
        chosen.journal_entry_id = entry.id
        for donation in donations:
            donation.pooled = True
        db.session.flush()
    record(actor, "need.leftover", need, fund_id=need.fund_id, reason=decision,
           changes={"action": action, "amount_fen": left, "donations": len(donations)})  # fmt: skip
    mark_public_change(db.session())
    return leftover_of(need)


def leftover_refund_ids(leftover: Leftover) -> list[int]:
    """The refunds a refund decision requested (to send them after the commit)."""
    if leftover.decision is None:
        return []
    return list(
        db.session.scalars(sa.select(Refund.id).where(Refund.leftover_id == leftover.decision.id))
    )
