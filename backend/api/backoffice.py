"""Back office of a fund: its needs, settings, people and audit log (fund roles only)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask_smorest import Blueprint
from sqlalchemy.orm import joinedload, selectinload

from backend.accounts.models import Role, RoleGrant, User
from backend.accounts.permissions import Permission, require
from backend.api.backoffice_schemas import (
    NEED_STATUS_VALUES,
    AuditPageSchema,
    BackOfficeNeedDetailSchema,
    FundPatchSchema,
    FundRolesSchema,
    GrantInputSchema,
    GrantOutSchema,
    NeedInputSchema,
)
from backend.api.base import PageArgsSchema, decode_id_cursor, encode_cursor
from backend.api.lookups import fund_or_404
from backend.api.schemas import BeijingDateTime, FundSchema, QuerySchema, RefSchema
from backend.audit.services import events_page
from backend.auth import BEARER, login_required
from backend.errors import ApiError
from backend.extensions import db
from backend.funds.backoffice import appoint, dismiss, fund_grants, governance_of, update_fund
from backend.funds.models import Fund
from backend.funds.services import FundSummary, fund_summary
from backend.needs.backoffice import create_need
from backend.needs.models import Need, NeedStatus

blp = Blueprint("backoffice", __name__, description="后台：基金的项目、设置、人员与审计")


def fund_for(permission: Permission, fund_id: int) -> tuple[User, Fund]:
    """The caller and the fund, when the caller holds `permission` over it (404, 401, 403)."""
    fund = fund_or_404(fund_id)
    actor = login_required()
    require(actor, permission, fund)
    return actor, fund


class FundNeedsArgsSchema(QuerySchema):
    """`?status=` of a fund's need list."""

    status = ma.fields.String(validate=ma.validate.OneOf(NEED_STATUS_VALUES))


class BackOfficeNeedSchema(ma.Schema):
    """A need as the fund's team sees it, drafts included."""

    id = ma.fields.Integer()
    title = ma.fields.String()
    category = ma.fields.String()
    status = ma.fields.String()
    region = ma.fields.Nested(RefSchema)
    goal_fen = ma.fields.Integer()
    deadline = ma.fields.Date(allow_none=True)
    filing_number = ma.fields.String(allow_none=True)
    created_at = BeijingDateTime()
    updated_at = BeijingDateTime()
    published_at = BeijingDateTime(allow_none=True)


class BackOfficeNeedListSchema(ma.Schema):
    """Every need of the fund."""

    items = ma.fields.List(ma.fields.Nested(BackOfficeNeedSchema))


@blp.get("/funds/<int:fund_id>/needs")
@blp.arguments(FundNeedsArgsSchema, location="query", as_kwargs=True)
@blp.response(200, BackOfficeNeedListSchema)
@blp.doc(security=BEARER)
def list_fund_needs(fund_id: int, status: str | None = None) -> dict[str, list[Need]]:
    """Every need of the fund, drafts included, newest first (fund roles only)."""
    _, fund = fund_for(Permission.READ_BACK_OFFICE, fund_id)
    stmt = (
        sa.select(Need)
        .where(Need.fund_id == fund.id)
        .options(joinedload(Need.region))
        .order_by(Need.created_at.desc(), Need.id.desc())
    )
    if status is not None:
        stmt = stmt.where(Need.status == NeedStatus(status))
    return {"items": list(db.session.scalars(stmt))}


@blp.post("/funds/<int:fund_id>/needs")
@blp.arguments(NeedInputSchema)
@blp.response(201, BackOfficeNeedDetailSchema)
@blp.doc(security=BEARER)
def create_fund_need(data: dict[str, Any], fund_id: int) -> Need:
    """Create a draft need (secretary of the fund); budget lines must add up to the goal."""
    actor, fund = fund_for(Permission.MANAGE_NEEDS, fund_id)
    return create_need(actor, fund, data)


@blp.get("/funds/<int:fund_id>/needs/<int:need_id>")
@blp.response(200, BackOfficeNeedDetailSchema)
@blp.doc(security=BEARER)
def get_fund_need(fund_id: int, need_id: int) -> Need:
    """One need of the fund in any status, as the fund's team sees it."""
    _, fund = fund_for(Permission.READ_BACK_OFFICE, fund_id)
    need = db.session.scalar(
        sa.select(Need)
        .where(Need.id == need_id, Need.fund_id == fund.id)
        .options(selectinload(Need.budget_lines), selectinload(Need.images))
    )
    if need is None:
        raise ApiError(404, "need_not_found", "该项目不存在")
    return need


@blp.patch("/funds/<int:fund_id>")
@blp.arguments(FundPatchSchema)
@blp.response(200, FundSchema)
@blp.doc(security=BEARER)
def patch_fund(data: dict[str, Any], fund_id: int) -> FundSummary | None:
    """Change fund settings: committee threshold, public fundraising (foundation admin)."""
    actor, fund = fund_for(Permission.MANAGE_FUND, fund_id)
    update_fund(actor, fund, data)
    return fund_summary(fund.id)


@blp.get("/funds/<int:fund_id>/roles")
@blp.response(200, FundRolesSchema)
@blp.doc(security=BEARER)
def list_fund_roles(fund_id: int) -> dict[str, Any]:
    """The fund's secretaries, committee and supervisors, and whether the rules are met."""
    _, fund = fund_for(Permission.READ_BACK_OFFICE, fund_id)
    return {"items": fund_grants(fund.id), "governance": governance_of(fund.id)}


@blp.post("/funds/<int:fund_id>/roles")
@blp.arguments(GrantInputSchema)
@blp.response(201, GrantOutSchema)
@blp.doc(security=BEARER)
def create_fund_role(data: dict[str, Any], fund_id: int) -> RoleGrant:
    """Appoint a secretary, committee member or supervisor (foundation admin)."""
    actor, fund = fund_for(Permission.MANAGE_FUND, fund_id)
    return appoint(actor, fund, data["user_id"], Role(data["role"]))


@blp.delete("/funds/<int:fund_id>/roles/<int:grant_id>")
@blp.response(204)
@blp.doc(security=BEARER)
def delete_fund_role(fund_id: int, grant_id: int) -> None:
    """Take a fund role away (foundation admin)."""
    actor, fund = fund_for(Permission.MANAGE_FUND, fund_id)
    dismiss(actor, fund, grant_id)


@blp.get("/funds/<int:fund_id>/audit")
@blp.arguments(PageArgsSchema, location="query", as_kwargs=True)
@blp.response(200, AuditPageSchema)
@blp.doc(security=BEARER)
def list_fund_audit(fund_id: int, limit: int, cursor: str | None) -> dict[str, Any]:
    """Who did what to the fund's needs, settings and people, newest first (read-only)."""
    _, fund = fund_for(Permission.READ_BACK_OFFICE, fund_id)
    before = decode_id_cursor("audit", cursor, {"fund_id": fund.id})
    events, more = events_page(fund.id, limit, before)
    next_cursor = encode_cursor("audit", [events[-1].id], {"fund_id": fund.id}) if more else None
    return {"items": events, "next_cursor": next_cursor}
