"""Back-office views of a fund, for the fund's roles only."""

from __future__ import annotations

import marshmallow as ma
import sqlalchemy as sa
from flask_smorest import Blueprint
from sqlalchemy.orm import joinedload

from backend.accounts.permissions import Permission, require
from backend.api.schemas import BeijingDateTime, QuerySchema, RefSchema
from backend.auth import BEARER, current_user
from backend.errors import ApiError
from backend.extensions import db
from backend.funds.models import Fund
from backend.needs.models import Need, NeedStatus

blp = Blueprint("backoffice", __name__, description="后台：基金的项目、角色与审计")


def fund_or_404(fund_id: int) -> Fund:
    """The fund named in the path, or a 404."""
    fund = db.session.get(Fund, fund_id)
    if fund is None:
        raise ApiError(404, "fund_not_found", "该基金不存在")
    return fund


class FundNeedsArgsSchema(QuerySchema):
    """`?status=` of a fund's need list."""

    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in NeedStatus]))


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
    fund = fund_or_404(fund_id)
    require(current_user(), Permission.READ_BACK_OFFICE, fund)
    stmt = (
        sa.select(Need)
        .where(Need.fund_id == fund.id)
        .options(joinedload(Need.region))
        .order_by(Need.created_at.desc(), Need.id.desc())
    )
    if status is not None:
        stmt = stmt.where(Need.status == NeedStatus(status))
    return {"items": list(db.session.scalars(stmt))}
