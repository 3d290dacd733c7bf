"""Public fund pages."""

from __future__ import annotations

from backend.api.base import Blueprint
from backend.api.public_cache import public_answer
from backend.api.schemas.public import FundSchema
from backend.funds.services import FundSummary, fund_summary

blp = Blueprint("funds", __name__, description="社区慈善基金")


@blp.get("/funds/<int:fund_id>")
@public_answer
@blp.response(200, FundSchema)
def get_fund(fund_id: int) -> FundSummary:
    """A fund: its foundation, community, committee threshold and money figures."""
    return fund_summary(fund_id)
