"""The life of a need in the back office: drafts, edits, and every status move."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from backend.accounts.models import User
from backend.audit.models import AuditEvent
from backend.audit.services import diff, record
from backend.common.errors import DomainError, Kind, conflict
from backend.common.money import yuan
from backend.common.paging import Page, keyset_page
from backend.common.time import beijing_today, utcnow
from backend.extensions import db
from backend.funds.models import Fund
from backend.needs.models import (
    ALLOWED_TRANSITIONS,
    Need,
    NeedBudgetLine,
    NeedCategory,
    NeedImage,
    NeedStatus,
    ProgressUpdate,
    ProgressUpdateImage,
    UpdateKind,
)
from backend.needs.services import need_not_found
from backend.uploads.models import Upload
from backend.uploads.services import publish_uploads, usable_uploads
from backend.wechat.content import check_text

#: statuses in which the secretary may still edit a need (a submitted one is frozen)
EDITABLE = (NeedStatus.DRAFT,)
STATUS_LABELS = {
    NeedStatus.DRAFT: "草稿",
    NeedStatus.SUBMITTED: "待发布",
    NeedStatus.FUNDRAISING: "筹款中",
    NeedStatus.FUNDED: "已筹满",
    NeedStatus.IN_PROGRESS: "执行中",
    NeedStatus.COMPLETED: "已完成",
    NeedStatus.CLOSED: "已关闭",
}
MAX_DEADLINE_DAYS = 366


@dataclass(frozen=True)
class BudgetLineInput:
    """One budget line as the secretary gives it."""

    item: str
    amount_fen: int


def _check_budget(goal_fen: int, lines: Sequence[BudgetLineInput]) -> None:
    total = sum(line.amount_fen for line in lines)
    if total != goal_fen:
        raise DomainError(
            Kind.INVALID,
            "budget_mismatch",
            f"预算明细合计 {yuan(total, symbol='', grouping=False)} 元，与筹款目标 "
            f"{yuan(goal_fen, symbol='', grouping=False)} 元不一致",
            {"budget_lines": [f"明细合计 {total} 分，筹款目标 {goal_fen} 分"]},
        )


def _check_deadline(deadline: date | None) -> None:
    if deadline is None:
        return
    today = beijing_today()
    if deadline <= today or (deadline - today).days > MAX_DEADLINE_DAYS:
        raise DomainError(
            Kind.INVALID,
            "invalid_deadline",
            "筹款截止日期须在明天到一年之内",
            {"deadline": ["须在明天到一年之内"]},
        )


def _images(actor: User, image_ids: Sequence[int]) -> list[Upload]:
    """The uploads named, in order: images the actor uploaded that WeChat did not flag."""
    return usable_uploads(actor, image_ids, "image_ids", images_only=True, error="invalid_images")


def _set_images(need: Need, uploads: list[Upload]) -> None:
    """Show these images on the need's page, in order; they are public from now on (a
    draft's too: its page is meant to be published)."""
    need.images.clear()
    db.session.flush()
    if uploads:
        from backend.uploads.storage import get_storage

        publish_uploads(uploads)
        storage = get_storage()
        need.images = [
            NeedImage(position=i, upload_id=u.id, url=storage.url(u.storage_key))
            for i, u in enumerate(uploads)
        ]
    need.cover_url = need.images[0].url if need.images else None


def _snapshot(need: Need) -> dict[str, Any]:
    return {
        "title": need.title,
        "category": need.category,
        "story": need.story,
        "goal_fen": need.goal_fen,
        "deadline": need.deadline,
        "beneficiary_count": need.beneficiary_count,
        "budget_lines": [[line.item, line.amount_fen] for line in need.budget_lines],
        "image_ids": [image.upload_id for image in need.images],
    }


def create_need(actor: User, fund: Fund, data: dict[str, Any]) -> Need:
    """A new draft need of `fund` (text content-checked, budget adding up to the goal)."""
    lines = [BudgetLineInput(**line) for line in data["budget_lines"]]
    _check_budget(data["goal_fen"], lines)
    _check_deadline(data.get("deadline"))
    check_text(actor.openid, {"title": data["title"], "story": data["story"]}, scene=3)
    uploads = _images(actor, data.get("image_ids", []))
    need = Need(
        fund=fund,
        region_id=fund.region_id,
        category=NeedCategory(data["category"]),
        title=data["title"],
        story=data["story"],
        goal_fen=data["goal_fen"],
        deadline=data.get("deadline"),
        beneficiary_count=data.get("beneficiary_count", 0),
        status=NeedStatus.DRAFT,
        budget_lines=[
            NeedBudgetLine(position=i, item=line.item, amount_fen=line.amount_fen)
            for i, line in enumerate(lines)
        ],
    )
    db.session.add(need)
    db.session.flush()
    _set_images(need, uploads)
    db.session.flush()
    record(actor, "need.create", need, fund_id=fund.id, changes=diff({}, _snapshot(need)))
    return need


def update_need(actor: User, need: Need, data: dict[str, Any]) -> Need:
    """Edit a draft need; only the fields given change, and any change bumps its version."""
    if need.status == NeedStatus.SUBMITTED:
        raise conflict("need_not_editable", "项目已提交待发布，内容不能修改；请先撤回为草稿再修改")
    if need.status not in EDITABLE:
        raise DomainError(
            Kind.CONFLICT,
            "need_not_editable",
            f"项目已{STATUS_LABELS[need.status]}，不能再修改内容",
        )
    before = _snapshot(need)
    lines = (
        [BudgetLineInput(**line) for line in data["budget_lines"]]
        if "budget_lines" in data
        else [BudgetLineInput(line.item, line.amount_fen) for line in need.budget_lines]
    )
    _check_budget(data.get("goal_fen", need.goal_fen), lines)
    if "deadline" in data:
        _check_deadline(data["deadline"])
    check_text(actor.openid, {k: data[k] for k in ("title", "story") if k in data}, scene=3)
    for key in ("title", "story", "goal_fen", "deadline", "beneficiary_count"):
        if key in data:
            setattr(need, key, data[key])
    if "category" in data:
        need.category = NeedCategory(data["category"])
    if "budget_lines" in data:
        need.budget_lines.clear()
        db.session.flush()
        need.budget_lines = [
            NeedBudgetLine(position=i, item=line.item, amount_fen=line.amount_fen)
            for i, line in enumerate(lines)
        ]
    if "image_ids" in data:
        _set_images(need, _images(actor, data["image_ids"]))
    db.session.flush()
    changes = diff(before, _snapshot(need))
    if changes:
        need.version += 1
        db.session.flush()
        record(actor, "need.update", need, fund_id=need.fund_id, changes=changes)
    return need


def move_need(
    actor: User | None,
    need: Need,
    target: NeedStatus,
    *,
    action: str,
    reason: str | None = None,
) -> Need:
    """Move `need` to `target` if that move is allowed; the move is recorded."""
    if target not in ALLOWED_TRANSITIONS[need.status]:
        raise DomainError(
            Kind.CONFLICT,
            "invalid_transition",
            f"项目当前为「{STATUS_LABELS[need.status]}」，不能变为「{STATUS_LABELS[target]}」",
        )
    before = need.status
    need.status = target
    now = utcnow()
    if target == NeedStatus.FUNDRAISING and need.published_at is None:
        need.published_at = now
    if target in (NeedStatus.COMPLETED, NeedStatus.CLOSED):
        need.ended_at = now
    if target == NeedStatus.CLOSED:
        need.close_reason = reason
    db.session.flush()
    record(
        actor,
        action,
        need,
        fund_id=need.fund_id,
        changes={"status": [before.value, target.value]},
        reason=reason,
    )
    return need


def publish_need(
    actor: User, need: Need, filing_number: str | None, version: int | None = None
) -> Need:
    """Start fundraising on the version the admin reviewed; a fund that raises publicly
    needs the filing number (备案编号). Callers should hold the need's row lock."""
    if version is not None and version != need.version:
        raise conflict(
            "need_changed",
            f"项目内容已更新（您审阅的是第 {version} 版，当前为第 {need.version} 版），"
            "请重新审阅后再发布",
        )
    if need.fund.public_fundraising and not filing_number:
        raise DomainError(
            Kind.INVALID,
            "filing_number_required",
            "该基金为公开募捐，发布项目须填写公开募捐备案编号",
            {"filing_number": ["公开募捐须填写备案编号"]},
        )
    if filing_number:
        need.filing_number = filing_number
    return move_need(actor, need, NeedStatus.FUNDRAISING, action="need.publish")


def fund_needs_page(
    fund: Fund, status: NeedStatus | None, limit: int, after: int | None
) -> Page[Need]:
    """The fund's needs in any status (or in `status`), newest first."""
    stmt = sa.select(Need).where(Need.fund_id == fund.id).options(joinedload(Need.region))
    if status is not None:
        stmt = stmt.where(Need.status == status)
    return keyset_page(stmt, Need.id, limit, after)


def need_of_fund(fund: Fund, need_id: int) -> Need:
    """One need of the fund in any status, with its budget and images; else not found."""
    need = db.session.scalar(
        sa.select(Need)
        .where(Need.id == need_id, Need.fund_id == fund.id)
        .options(
            selectinload(Need.budget_lines),
            selectinload(Need.images),
            selectinload(Need.updates)
            .selectinload(ProgressUpdate.images)
            .joinedload(ProgressUpdateImage.upload),
        )
    )
    if need is None:
        raise need_not_found()
    return need


def return_need(actor: User, need: Need, reason: str) -> Need:
    """Send a submitted need back to its secretary as a draft, with the reason."""
    if need.status != NeedStatus.SUBMITTED:
        raise conflict("invalid_transition", "只有待发布的项目可以退回修改")
    return move_need(actor, need, NeedStatus.DRAFT, action="need.return", reason=reason)


def withdraw_need(actor: User, need: Need) -> Need:
    """Take a submitted need back to draft so its secretary can edit it again."""
    if need.status != NeedStatus.SUBMITTED:
        raise conflict("invalid_transition", "只有待发布的项目可以撤回")
    return move_need(actor, need, NeedStatus.DRAFT, action="need.withdraw")


def changes_since_submission(need: Need) -> dict[str, list[Any]] | None:
    """What the edits changed since the previous submission: `{field: [then, now]}`.

    Read from the audit log: the `need.update` diffs recorded after the baseline
    submission, folded into one diff per field. The baseline is the last `need.submit`
    while the need is a draft again, else the one before the current submission. None
    when the need has no earlier submission to compare with.
    """
    events = db.session.execute(
        sa.select(AuditEvent.id, AuditEvent.action, AuditEvent.changes)
        .where(
            AuditEvent.fund_id == need.fund_id,  # the fund's index narrows the scan
            AuditEvent.object_type == "need",
            AuditEvent.object_id == need.id,
            AuditEvent.action.in_(("need.submit", "need.update")),
        )
        .order_by(AuditEvent.id)
    ).all()
    submits = [e.id for e in events if e.action == "need.submit"]
    if need.status == NeedStatus.DRAFT:
        baseline = submits[-1] if submits else None
    else:
        baseline = submits[-2] if len(submits) >= 2 else None
    if baseline is None:
        return None
    folded: dict[str, list[Any]] = {}
    for event in events:
        if event.id <= baseline or event.action != "need.update":
            continue
        for key, (old, new) in event.changes.items():
            folded[key] = [folded[key][0] if key in folded else old, new]
    return {key: pair for key, pair in folded.items() if pair[0] != pair[1]}


def post_update(
    actor: User,
    need: Need,
    kind: UpdateKind,
    text: str,
    image_ids: Sequence[int] = (),
) -> ProgressUpdate:
    """A progress update, disclosure or final report on a public need (text checked), with
    photos the actor uploaded, in order; the photos are public from now on."""
    if not need.is_public:
        raise conflict("need_not_public", "项目发布后才能发布进展")
    uploads = usable_uploads(actor, image_ids, "attachment_ids", images_only=True)
    check_text(actor.openid, {"text": text}, scene=3)
    update = ProgressUpdate(
        need=need,
        kind=kind,
        text=text,
        author_id=actor.id,
        images=[ProgressUpdateImage(position=i, upload=u) for i, u in enumerate(uploads)],
    )
    publish_uploads(uploads)
    db.session.add(update)
    db.session.flush()
    record(actor, "need.update_posted", need, fund_id=need.fund_id,
           changes={"update_id": update.id, "kind": update.kind.value,
                    "image_ids": [u.id for u in uploads]})  # fmt: skip
    return update
