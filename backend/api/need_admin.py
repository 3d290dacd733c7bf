"""Back office of a need: edits, every status move, progress updates."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from backend.accounts.models import User
from backend.accounts.permissions import Permission, require
from backend.api.backoffice_schemas import (
    BackOfficeNeedDetailSchema,
    NeedPatchSchema,
    ProgressInputSchema,
    PublishSchema,
    ReasonSchema,
)
from backend.api.schemas import UpdateSchema
from backend.audit.services import record
from backend.auth import BEARER, login_required
from backend.errors import ApiError
from backend.extensions import db
from backend.needs.backoffice import move_need, publish_need, update_need
from backend.needs.models import Need, NeedStatus, ProgressUpdate, UpdateKind
from backend.wechat.content import check_text

blp = Blueprint("need_admin", __name__, description="后台：项目的编辑、流转与进展")


def need_for(permission: Permission, need_id: int) -> tuple[User, Need]:
    """The caller and the need, when the caller holds `permission` over its fund."""
    actor = login_required()
    need = db.session.get(Need, need_id, with_for_update=True)
    if need is None:
        raise ApiError(404, "need_not_found", "该项目不存在")
    require(actor, permission, need.fund)
    return actor, need


@blp.patch("/needs/<int:need_id>")
@blp.arguments(NeedPatchSchema(partial=True))
@blp.response(200, BackOfficeNeedDetailSchema)
@blp.doc(security=BEARER)
def patch_need(data: dict[str, Any], need_id: int) -> Need:
    """Edit a draft or submitted need (secretary)."""
    actor, need = need_for(Permission.MANAGE_NEEDS, need_id)
    return update_need(actor, need, data)


@blp.post("/needs/<int:need_id>/submit")
@blp.response(200, BackOfficeNeedDetailSchema)
@blp.doc(security=BEARER)
def submit_need(need_id: int) -> Need:
    """Ask the foundation to publish the need (secretary)."""
    actor, need = need_for(Permission.MANAGE_NEEDS, need_id)
    return move_need(actor, need, NeedStatus.SUBMITTED, action="need.submit")


@blp.post("/needs/<int:need_id>/return")
@blp.arguments(ReasonSchema)
@blp.response(200, BackOfficeNeedDetailSchema)
@blp.doc(security=BEARER)
def return_need(data: dict[str, str], need_id: int) -> Need:
    """Send a submitted need back to its secretary with the reason (foundation admin)."""
    actor, need = need_for(Permission.PUBLISH_NEEDS, need_id)
    if need.status != NeedStatus.SUBMITTED:
        raise ApiError(409, "invalid_transition", "只有待发布的项目可以退回修改")
    return move_need(actor, need, NeedStatus.DRAFT, action="need.return", reason=data["reason"])


@blp.post("/needs/<int:need_id>/publish")
@blp.arguments(PublishSchema)
@blp.response(200, BackOfficeNeedDetailSchema)
@blp.doc(security=BEARER)
def publish(data: dict[str, Any], need_id: int) -> Need:
    """Start fundraising (foundation admin); public fundraising needs the filing number."""
    actor, need = need_for(Permission.PUBLISH_NEEDS, need_id)
    return publish_need(actor, need, data.get("filing_number"))


@blp.post("/needs/<int:need_id>/start")
@blp.response(200, BackOfficeNeedDetailSchema)
@blp.doc(security=BEARER)
def start_need(need_id: int) -> Need:
    """Start carrying the need out (secretary)."""
    actor, need = need_for(Permission.MANAGE_NEEDS, need_id)
    return move_need(actor, need, NeedStatus.IN_PROGRESS, action="need.start")


@blp.post("/needs/<int:need_id>/complete")
@blp.response(200, BackOfficeNeedDetailSchema)
@blp.doc(security=BEARER)
def complete_need(need_id: int) -> Need:
    """Mark the need done (secretary); the final report is due within three months."""
    actor, need = need_for(Permission.MANAGE_NEEDS, need_id)
    return move_need(actor, need, NeedStatus.COMPLETED, action="need.complete")


@blp.post("/needs/<int:need_id>/close")
@blp.arguments(ReasonSchema)
@blp.response(200, BackOfficeNeedDetailSchema)
@blp.doc(security=BEARER)
def close_need(data: dict[str, str], need_id: int) -> Need:
    """Close the need with a public reason (secretary or foundation admin)."""
    actor, need = need_for(Permission.CLOSE_NEEDS, need_id)
    return move_need(actor, need, NeedStatus.CLOSED, action="need.close", reason=data["reason"])


@blp.post("/needs/<int:need_id>/updates")
@blp.arguments(ProgressInputSchema)
@blp.response(201, UpdateSchema)
@blp.doc(security=BEARER)
def post_update(data: dict[str, str], need_id: int) -> ProgressUpdate:
    """Post a progress update, disclosure or final report on a public need (secretary)."""
    actor, need = need_for(Permission.MANAGE_NEEDS, need_id)
    if not need.is_public:
        raise ApiError(409, "need_not_public", "项目发布后才能发布进展")
    check_text(actor.openid, {"text": data["text"]}, scene=3)
    update = ProgressUpdate(need=need, kind=UpdateKind(data["kind"]), text=data["text"],
                            author_id=actor.id)  # fmt: skip
    db.session.add(update)
    db.session.flush()
    record(actor, "need.update_posted", need, fund_id=need.fund_id,
           changes={"update_id": update.id, "kind": update.kind.value})  # fmt: skip
    return update
