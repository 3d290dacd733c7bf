"""Back office of a need: edits, every status move, progress updates."""

from __future__ import annotations

from typing import Any

from backend.accounts.permissions import Permission
from backend.api.base import Blueprint
from backend.api.lookups import need_for
from backend.api.schemas.backoffice import (
    BackOfficeNeedDetailSchema,
    NeedPatchSchema,
    ProgressInputSchema,
    PublishSchema,
    ReasonSchema,
)
from backend.api.schemas.public import UpdateSchema
from backend.auth import BEARER
from backend.needs import backoffice
from backend.needs.backoffice import move_need, publish_need, update_need
from backend.needs.models import Need, NeedStatus, ProgressUpdate, UpdateKind

blp = Blueprint("need_admin", __name__, description="后台：项目的编辑、流转与进展")


@blp.patch("/needs/<int:need_id>")
@blp.arguments(NeedPatchSchema(partial=True))
@blp.response(200, BackOfficeNeedDetailSchema)
@blp.doc(security=BEARER)
def patch_need(data: dict[str, Any], need_id: int) -> Need:
    """Edit a draft need (secretary); a submitted one must be withdrawn first (409)."""
    actor, need = need_for(Permission.MANAGE_NEEDS, need_id)
    return update_need(actor, need, data)


@blp.post("/needs/<int:need_id>/submit")
@blp.response(200, BackOfficeNeedDetailSchema)
@blp.doc(security=BEARER)
def submit_need(need_id: int) -> Need:
    """Ask the foundation to publish the need (secretary)."""
    actor, need = need_for(Permission.MANAGE_NEEDS, need_id)
    return move_need(actor, need, NeedStatus.SUBMITTED, action="need.submit")


@blp.post("/needs/<int:need_id>/withdraw")
@blp.response(200, BackOfficeNeedDetailSchema)
@blp.doc(security=BEARER)
def withdraw_need(need_id: int) -> Need:
    """Take a submitted need back to draft to edit it again (secretary)."""
    actor, need = need_for(Permission.MANAGE_NEEDS, need_id)
    return backoffice.withdraw_need(actor, need)


@blp.post("/needs/<int:need_id>/return")
@blp.arguments(ReasonSchema)
@blp.response(200, BackOfficeNeedDetailSchema)
@blp.doc(security=BEARER)
def return_to_draft(data: dict[str, str], need_id: int) -> Need:
    """Send a submitted need back to its secretary with the reason (foundation admin)."""
    actor, need = need_for(Permission.PUBLISH_NEEDS, need_id)
    return backoffice.return_need(actor, need, data["reason"])


@blp.post("/needs/<int:need_id>/publish")
@blp.arguments(PublishSchema)
@blp.response(200, BackOfficeNeedDetailSchema)
@blp.doc(security=BEARER)
def publish(data: dict[str, Any], need_id: int) -> Need:
    """Start fundraising on the version reviewed (foundation admin; another version is a
    409); public fundraising needs the filing number."""
    actor, need = need_for(Permission.PUBLISH_NEEDS, need_id)
    return publish_need(actor, need, data.get("filing_number"), data["version"])


@blp.post("/needs/<int:need_id>/start")
@blp.response(200, BackOfficeNeedDetailSchema)
@blp.doc(security=BEARER)
def start_need(need_id: int) -> Need:
    """Start carrying the need out (secretary or foundation admin)."""
    actor, need = need_for(Permission.RUN_NEEDS, need_id)
    return move_need(actor, need, NeedStatus.IN_PROGRESS, action="need.start")


@blp.post("/needs/<int:need_id>/complete")
@blp.response(200, BackOfficeNeedDetailSchema)
@blp.doc(security=BEARER)
def complete_need(need_id: int) -> Need:
    """Mark the need done (secretary or foundation admin); the final report is due within
    three months."""
    actor, need = need_for(Permission.RUN_NEEDS, need_id)
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
def create_update(data: dict[str, Any], need_id: int) -> ProgressUpdate:
    """Post a progress update, disclosure or final report on a public need, with up to nine
    photos (secretary); the photos become public."""
    actor, need = need_for(Permission.MANAGE_NEEDS, need_id)
    return backoffice.post_update(
        actor, need, UpdateKind(data["kind"]), data["text"], data["attachment_ids"]
    )
