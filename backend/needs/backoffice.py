"""The life of a need in the back office: drafts, edits, and every status move."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from backend.accounts.models import User
from backend.audit.services import diff, record
from backend.common.time import beijing_today, utcnow
from backend.errors import ApiError
from backend.extensions import db
from backend.funds.models import Fund
from backend.needs.models import (
    ALLOWED_TRANSITIONS,
    Need,
    NeedBudgetLine,
    NeedCategory,
    NeedImage,
    NeedStatus,
)
from backend.uploads.models import MediaCheck, Upload
from backend.wechat.content import check_text

#: statuses in which the secretary may still edit a need
EDITABLE = (NeedStatus.DRAFT, NeedStatus.SUBMITTED)
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
        raise ApiError(
            422,
            "budget_mismatch",
            f"预算明细合计 {total / 100:.2f} 元，与筹款目标 {goal_fen / 100:.2f} 元不一致",
            {"budget_lines": [f"lines add up to {total} fen, the goal is {goal_fen} fen"]},
        )


def _check_deadline(deadline: date | None) -> None:
    if deadline is None:
        return
    today = beijing_today()
    if deadline <= today or (deadline - today).days > MAX_DEADLINE_DAYS:
        raise ApiError(
            422,
            "invalid_deadline",
            "筹款截止日期须在明天到一年之内",
            {"deadline": ["must be after today and within a year"]},
        )


def _images(actor: User, image_ids: Sequence[int]) -> list[Upload]:
    """The uploads named, in order: images the actor uploaded that WeChat did not flag."""
    if len(set(image_ids)) != len(image_ids):
        raise ApiError(422, "invalid_images", "图片重复", {"image_ids": ["duplicate ids"]})
    uploads = {
        u.id: u for u in db.session.scalars(sa.select(Upload).where(Upload.id.in_(image_ids)))
    }
    bad = [
        i
        for i in image_ids
        if i not in uploads
        or uploads[i].owner_id != actor.id
        or not uploads[i].content_type.startswith("image/")
        or uploads[i].media_check in (MediaCheck.RISKY, MediaCheck.REVIEW)
    ]
    if bad:
        raise ApiError(
            422,
            "invalid_images",
            "图片不存在、不是您上传的或未通过内容安全检测",
            {"image_ids": [f"not usable: {', '.join(map(str, bad))}"]},
        )
    return [uploads[i] for i in image_ids]


def _set_images(need: Need, uploads: list[Upload]) -> None:
    need.images.clear()
    db.session.flush()
    if uploads:
        from backend.uploads.storage import get_storage

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
    """Edit a draft or submitted need; only the fields given change."""
    if need.status not in EDITABLE:
        raise ApiError(
            409, "need_not_editable", f"项目已{STATUS_LABELS[need.status]}，不能再修改内容"
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
        raise ApiError(
            409,
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


def publish_need(actor: User, need: Need, filing_number: str | None) -> Need:
    """Start fundraising; a fund that raises publicly needs the filing number (备案编号)."""
    if need.fund.public_fundraising and not filing_number:
        raise ApiError(
            422,
            "filing_number_required",
            "该基金为公开募捐，发布项目须填写公开募捐备案编号",
            {"filing_number": ["required for public fundraising"]},
        )
    if filing_number:
        need.filing_number = filing_number
    return move_need(actor, need, NeedStatus.FUNDRAISING, action="need.publish")
