"""Back office of a fund: its needs, settings, people and audit log (fund roles only)."""

from __future__ import annotations

from typing import Any

from backend.accounts.models import Role, RoleGrant
from backend.accounts.permissions import Permission
from backend.api.base import Blueprint, id_page
from backend.api.lookups import fund_for
from backend.api.schemas.backoffice import (
    AuditPageSchema,
    BackOfficeNeedDetailSchema,
    BackOfficeNeedPageSchema,
    FundNeedsArgsSchema,
    FundPatchSchema,
    FundRolesSchema,
    GrantInputSchema,
    GrantOutSchema,
    NeedInputSchema,
)
from backend.api.schemas.base import PageArgsSchema
from backend.api.schemas.public import FundSchema
from backend.audit.services import events_page
from backend.auth import BEARER
from backend.funds.backoffice import (
    appoint,
    dismiss,
    fund_grants_page,
    governance_of,
    update_fund,
)
from backend.funds.services import FundSummary, fund_summary
from backend.needs.backoffice import create_need, fund_needs_page, need_of_fund
from backend.needs.models import Need, NeedStatus

blp = Blueprint("backoffice", __name__, description="后台：基金的项目、设置、人员与审计")


@blp.get("/funds/<int:fund_id>/needs")
@blp.arguments(FundNeedsArgsSchema, location="query", as_kwargs=True)
@blp.response(200, BackOfficeNeedPageSchema)
@blp.doc(security=BEARER)
def list_fund_needs(
    fund_id: int, limit: int, cursor: str | None, status: str | None = None
) -> dict[str, Any]:
    """Every need of the fund, drafts included, newest first (fund roles only)."""
    _, fund = fund_for(Permission.READ_BACK_OFFICE, fund_id)
    state = NeedStatus(status) if status else None
    return id_page("fund-needs", cursor, {"fund": fund.id, "status": status},
                   lambda after: fund_needs_page(fund, state, limit, after))  # fmt: skip


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
    return need_of_fund(fund, need_id)


@blp.patch("/funds/<int:fund_id>")
@blp.arguments(FundPatchSchema)
@blp.response(200, FundSchema)
@blp.doc(security=BEARER)
def patch_fund(data: dict[str, Any], fund_id: int) -> FundSummary:
    """Change fund settings: committee threshold, public fundraising (foundation admin)."""
    actor, fund = fund_for(Permission.MANAGE_FUND, fund_id)
    update_fund(actor, fund, data)
    return fund_summary(fund.id)


@blp.get("/funds/<int:fund_id>/roles")
@blp.arguments(PageArgsSchema, location="query", as_kwargs=True)
@blp.response(200, FundRolesSchema)
@blp.doc(security=BEARER)
def list_fund_roles(fund_id: int, limit: int, cursor: str | None) -> dict[str, Any]:
    """The fund's secretaries, committee and supervisors in the order they were appointed,
    and whether the rules are met (fund roles only)."""
    _, fund = fund_for(Permission.READ_BACK_OFFICE, fund_id)
    page = id_page("fund-roles", cursor, {"fund": fund.id},
                   lambda after: fund_grants_page(fund.id, limit, after))  # fmt: skip
    return {**page, "governance": governance_of(fund.id)}


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
    return id_page("audit", cursor, {"fund_id": fund.id},
                   lambda after: events_page(fund.id, limit, after))  # fmt: skip
