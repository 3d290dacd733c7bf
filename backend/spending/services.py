"""Expenses: submission with evidence, decisions by the fund's policy, disbursement.

The policy of a fund: an expense below the fund's committee threshold needs one approval by
a secretary or committee member who did not submit it; at or above the threshold only the
committee decides, and a majority of it (the committee's size when the expense was
submitted) must approve. One rejection, with its reason, ends the expense. Once a decision
is recorded the expense cannot change. Approval and disbursement both check what the
account (the need's, or the fund's pool) still holds, net of the expenses already approved
and not yet paid, under a lock on that account: racing approvals or disbursements never
spend the same money twice. Every step goes to the audit log.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from backend.accounts.models import Role, RoleGrant, ScopeType, User
from backend.accounts.permissions import Permission, can, roles_over
from backend.audit.services import record
from backend.common.errors import DomainError, Kind, conflict, forbidden, invalid, not_found
from backend.common.money import yuan
from backend.common.paging import Page, keyset_page
from backend.common.time import utcnow
from backend.donations.totals import refunding_total
from backend.extensions import db
from backend.funds.backoffice import governance_of
from backend.funds.models import Fund
from backend.ledger import services as ledger
from backend.needs.disclosure import require_current_disclosure
from backend.needs.models import Need, NeedStatus
from backend.spending.allocation import allocate
from backend.spending.models import (
    Approval,
    AttachmentStage,
    Decision,
    Expense,
    ExpenseAttachment,
    ExpenseStatus,
    PayeeType,
)
from backend.uploads.services import publish_uploads, usable_uploads
from backend.wechat.content import check_text

#: a need's money can be spent while it raises, once funded, in progress and completed
SPENDABLE_NEED_STATUSES = (
    NeedStatus.FUNDRAISING,
    NeedStatus.FUNDED,
    NeedStatus.IN_PROGRESS,
    NeedStatus.COMPLETED,
)
#: the roles that decide expenses (the committee alone at or above the threshold)
DECIDING_ROLES = (Role.COMMITTEE, Role.SECRETARY)


def expense_not_found() -> DomainError:
    """The one answer for an expense that does not exist or may not be seen."""
    return not_found("expense_not_found", "该支出申请不存在")


def get_expense(expense_id: int, *, lock: bool = False) -> Expense:
    """The expense with this id (row-locked when `lock`); not found otherwise."""
    expense = db.session.get(Expense, expense_id, with_for_update=lock)
    if expense is None:
        raise expense_not_found()
    return expense


def account_of(expense: Expense) -> str:
    """The journal account the expense spends from."""
    if expense.need_id is not None:
        return ledger.need_account(expense.need_id)
    return ledger.fund_pool_account(expense.fund_id)


def reserved_fen(account_need_id: int | None, fund_id: int, exclude: int | None) -> int:
    """What approved, not yet paid expenses of the same account hold back."""
    same_account = (
        Expense.need_id == account_need_id
        if account_need_id is not None
        else sa.and_(Expense.need_id.is_(None), Expense.fund_id == fund_id)
    )
    stmt = sa.select(sa.func.coalesce(sa.func.sum(Expense.amount_fen), 0)).where(
        same_account, Expense.status == ExpenseStatus.APPROVED
    )
    if exclude is not None:
        stmt = stmt.where(Expense.id != exclude)
    return int(db.session.scalar(stmt))


def available_fen(expense: Expense) -> int:
    """What the expense's account can still pay: its journal balance minus what other
    approved expenses and the refunds in flight hold back."""
    return (
        ledger.balance([account_of(expense)])
        - reserved_fen(expense.need_id, expense.fund_id, exclude=expense.id)
        - refunding_total(expense.need_id, expense.fund_id)
    )


def _require_available(expense: Expense) -> None:
    """Lock the account and refuse the step when it cannot pay the expense."""
    ledger.lock_for_spending(account_of(expense))
    available = available_fen(expense)
    if expense.amount_fen > available:
        where = "项目" if expense.need_id is not None else "基金池"
        raise DomainError(
            Kind.CONFLICT,
            "insufficient_balance",
            f"{where}可用余额不足：可用{yuan(max(available, 0))}，本次支出{yuan(expense.amount_fen)}",
        )


def _need_of(fund: Fund, need_id: int | None) -> Need | None:
    if need_id is None:
        return None
    need = db.session.get(Need, need_id)
    if need is None or need.fund_id != fund.id or not need.is_public:
        raise invalid(
            "invalid_need", "项目不存在或不属于该基金", {"need_id": ["不是该基金已发布的项目"]}
        )
    if need.status not in SPENDABLE_NEED_STATUSES:
        raise conflict("need_not_spendable", "该项目已关闭，不能再提交支出")
    require_current_disclosure(need)
    return need


def submit_expense(actor: User, fund: Fund, data: dict[str, Any]) -> Expense:
    """A secretary's expense against a need of `fund` (or its pool), with its evidence."""
    need = _need_of(fund, data.get("need_id"))
    evidence = usable_uploads(actor, data["attachment_ids"], "attachment_ids")
    check_text(actor.openid, {"purpose": data["purpose"]}, scene=3)
    needs_committee = data["amount_fen"] >= fund.committee_threshold_fen
    required = 1
    if needs_committee:
        committee = governance_of(fund.id).committee_count
        if committee == 0:
            raise conflict(
                "committee_missing",
                f"该基金尚未组建管委会，{yuan(fund.committee_threshold_fen)}及以上的支出无法审批",
            )
        required = committee // 2 + 1
    expense = Expense(
        fund=fund,
        need=need,
        amount_fen=data["amount_fen"],
        payee_name=data["payee_name"],
        payee_type=PayeeType(data["payee_type"]),
        purpose=data["purpose"],
        submitter_id=actor.id,
        threshold_fen=fund.committee_threshold_fen,
        needs_committee=needs_committee,
        required_approvals=required,
        attachments=[ExpenseAttachment(upload=u, added_by_id=actor.id) for u in evidence],
    )
    db.session.add(expense)
    db.session.flush()
    record(actor, "expense.submit", expense, fund_id=fund.id, changes={
        "need_id": expense.need_id, "amount_fen": expense.amount_fen,
        "payee_type": expense.payee_type.value, "purpose": expense.purpose,
        "attachment_ids": [u.id for u in evidence], "required_approvals": required,
        "needs_committee": needs_committee,
    })  # fmt: skip
    return expense


def _deciding_role(actor: User, expense: Expense) -> Role:
    """The role `actor` decides in, or why they may not decide this expense."""
    if expense.submitter_id == actor.id:
        raise DomainError(Kind.FORBIDDEN, "own_expense", "不能审批自己提交的支出")
    roles = roles_over(actor, expense.fund)
    if Role.COMMITTEE in roles:
        return Role.COMMITTEE
    if expense.needs_committee:
        raise DomainError(
            Kind.FORBIDDEN,
            "committee_decision_required",
            f"{yuan(expense.threshold_fen)}及以上的支出须由管委会成员审批",
        )
    if Role.SECRETARY in roles:
        return Role.SECRETARY
    raise forbidden()


def _require_open(expense: Expense) -> None:
    if expense.status != ExpenseStatus.SUBMITTED:
        raise conflict("expense_decided", f"该支出申请已{STATUS_WORDS[expense.status]}，不能再审批")


STATUS_WORDS = {
    ExpenseStatus.SUBMITTED: "提交",
    ExpenseStatus.APPROVED: "批准",
    ExpenseStatus.REJECTED: "驳回",
    ExpenseStatus.DISBURSED: "拨付",
    ExpenseStatus.CANCELLED: "撤销",
}


def approval_count(expense: Expense) -> int:
    """Approvals that count toward the expense's policy (the committee's alone when it
    needs a committee majority)."""
    return sum(
        1
        for a in expense.approvals
        if a.decision == Decision.APPROVE
        and (not expense.needs_committee or a.role == Role.COMMITTEE)
    )


def decide_expense(actor: User, expense: Expense, decision: Decision, comment: str) -> Expense:
    """Record `actor`'s decision on the (row-locked) expense and apply the policy."""
    _require_open(expense)
    role = _deciding_role(actor, expense)
    if any(a.user_id == actor.id for a in expense.approvals):
        raise conflict("already_decided", "您已审批过该支出")
    if decision == Decision.REJECT and not comment.strip():
        raise invalid("reason_required", "驳回须说明理由", {"comment": ["请填写驳回理由"]})
    now = utcnow()
    expense.approvals.append(
        Approval(user_id=actor.id, role=role.value, decision=decision, comment=comment)
    )
    expense.first_decision_at = expense.first_decision_at or now
    if decision == Decision.REJECT:
        expense.status = ExpenseStatus.REJECTED
        expense.rejection_reason = comment
        expense.decided_at = now
    elif approval_count(expense) >= expense.required_approvals:
        _require_available(expense)
        expense.status = ExpenseStatus.APPROVED
        expense.decided_at = now
    db.session.flush()
    record(actor, f"expense.{decision.value}", expense, fund_id=expense.fund_id,
           changes={"role": role.value, "status": expense.status.value,
                    "approvals": approval_count(expense)},
           reason=comment or None)  # fmt: skip
    return expense


def cancel_expense(actor: User, expense: Expense, reason: str) -> Expense:
    """Withdraw an expense: its secretaries before any decision is recorded; the foundation
    admin an approved one not yet paid (the money it held back is free again)."""
    if expense.status == ExpenseStatus.SUBMITTED and expense.first_decision_at is None:
        allowed = can(actor, Permission.SUBMIT_EXPENSES, expense.fund)
    elif expense.status == ExpenseStatus.APPROVED:
        allowed = can(actor, Permission.DISBURSE, expense.fund)
    else:
        raise conflict(
            "expense_not_cancellable",
            "已有审批意见或已结束的支出申请不能撤销"
            if expense.status == ExpenseStatus.SUBMITTED
            else f"该支出申请已{STATUS_WORDS[expense.status]}，不能撤销",
        )
    if not allowed:
        raise forbidden()
    expense.status = ExpenseStatus.CANCELLED
    expense.decided_at = utcnow()
    db.session.flush()
    record(actor, "expense.cancel", expense, fund_id=expense.fund_id, reason=reason)
    return expense


def disburse_expense(
    actor: User, expense: Expense, voucher_no: str, attachment_ids: Sequence[int]
) -> Expense:
    """Record the foundation's payment of an approved expense: the balanced journal entry,
    the donations it is allocated to, and its evidence made public."""
    if expense.status != ExpenseStatus.APPROVED:
        raise conflict(
            "expense_not_approved",
            f"该支出申请{'尚未批准' if expense.status == ExpenseStatus.SUBMITTED else '已' + STATUS_WORDS[expense.status]}，不能拨付",
        )
    actor_id = actor.id  # read now: reloading it later would flush a half-made disbursement
    proof = usable_uploads(actor, attachment_ids, "attachment_ids")
    _require_available(expense)
    account = account_of(expense)
    entry = ledger.write_entry(
        "disbursement",
        f"拨付支出#{expense.id}：{expense.purpose}",
        [
            (account, -expense.amount_fen),
            (ledger.foundation_bank_account(expense.fund.foundation_id), expense.amount_fen),
        ],
    )
    expense.attachments.extend(
        ExpenseAttachment(upload=u, stage=AttachmentStage.DISBURSEMENT, added_by_id=actor_id)
        for u in proof
    )
    expense.status = ExpenseStatus.DISBURSED
    expense.voucher_no = voucher_no
    expense.disbursed_by_id = actor_id
    expense.disbursed_at = utcnow()
    expense.journal_entry_id = entry.id
    db.session.flush()
    allocate(expense)
    publish_uploads(a.public_upload for a in expense.attachments)
    record(actor, "expense.disburse", expense, fund_id=expense.fund_id, changes={
        "voucher_no": voucher_no, "journal_entry_id": entry.id,
        "attachment_ids": [u.id for u in proof],
    })  # fmt: skip
    return expense


def add_redaction(
    actor: User, expense: Expense, attachment_id: int, upload_id: int
) -> ExpenseAttachment:
    """Give an attachment a copy with personal details covered: the public sees the copy
    once the expense is paid, and the original stays private (its secretaries or the
    foundation admin, until it is paid)."""
    if not (
        can(actor, Permission.SUBMIT_EXPENSES, expense.fund)
        or can(actor, Permission.DISBURSE, expense.fund)
    ):
        raise forbidden()
    if expense.status not in (ExpenseStatus.SUBMITTED, ExpenseStatus.APPROVED):
        raise conflict(
            "expense_closed", f"该支出申请已{STATUS_WORDS[expense.status]}，不能再更换公开副本"
        )
    attachment = next((a for a in expense.attachments if a.id == attachment_id), None)
    if attachment is None:
        raise not_found("attachment_not_found", "该附件不存在")
    (copy,) = usable_uploads(actor, [upload_id], "upload_id")
    if copy.id == attachment.upload_id:
        raise invalid(
            "invalid_upload_id", "公开副本须是另一份文件", {"upload_id": ["须是遮挡后的另一份文件"]}
        )
    previous = attachment.redacted_upload_id
    attachment.redacted = copy
    db.session.flush()
    record(actor, "expense.redact", expense, fund_id=expense.fund_id, changes={
        "attachment_id": attachment.id, "redacted_upload_id": [previous, copy.id],
    })  # fmt: skip
    return attachment


def _with_details(stmt: sa.Select[Any]) -> sa.Select[Any]:
    return stmt.options(
        selectinload(Expense.approvals),
        selectinload(Expense.attachments).selectinload(ExpenseAttachment.upload),
        selectinload(Expense.attachments).selectinload(ExpenseAttachment.redacted),
        selectinload(Expense.need),
    )


def fund_expenses_page(
    fund: Fund, status: ExpenseStatus | None, need_id: int | None, limit: int, after: int | None
) -> Page[Expense]:
    """A fund's expenses, newest first, optionally of one status or one need."""
    stmt = sa.select(Expense).where(Expense.fund_id == fund.id)
    if status is not None:
        stmt = stmt.where(Expense.status == status)
    if need_id is not None:
        stmt = stmt.where(Expense.need_id == need_id)
    return keyset_page(_with_details(stmt), Expense.id, limit, after)


def awaiting_decision_page(actor: User, limit: int, after: int | None) -> Page[Expense]:
    """Submitted expenses `actor` may decide and has not yet: the approver's to-do list,
    oldest first."""
    fund_ids = sa.select(RoleGrant.scope_id).where(
        RoleGrant.user_id == actor.id,
        RoleGrant.scope_type == ScopeType.FUND,
        RoleGrant.role.in_(DECIDING_ROLES),
    )
    committee_fund_ids = fund_ids.where(RoleGrant.role == Role.COMMITTEE)
    decided = sa.select(Approval.expense_id).where(Approval.user_id == actor.id)
    stmt = sa.select(Expense).where(
        Expense.status == ExpenseStatus.SUBMITTED,
        Expense.fund_id.in_(fund_ids),
        sa.or_(Expense.submitter_id.is_(None), Expense.submitter_id != actor.id),
        Expense.id.not_in(decided),
        sa.or_(~Expense.needs_committee, Expense.fund_id.in_(committee_fund_ids)),
    )
    return keyset_page(_with_details(stmt), Expense.id, limit, after, descending=False)
