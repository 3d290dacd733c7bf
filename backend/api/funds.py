"""Public fund pages."""

from __future__ import annotations

from flask_smorest import Blueprint

from backend.api.schemas import FundSchema
from backend.errors import ApiError
from backend.funds.services import FundSummary, fund_summary

blp = Blueprint("funds", __name__, description="社区慈善基金")


@blp.get("/funds/<int:fund_id>")
@blp.response(200, FundSchema)
def get_fund(fund_id: int) -> FundSummary:
    """A fund: its foundation, community, committee threshold and money figures."""
    summary = fund_summary(fund_id)
    if summary is None:
        raise ApiError(404, "fund_not_found", "该基金不存在")
    return summary
