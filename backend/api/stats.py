"""Public roll-up of the programme's figures."""

from __future__ import annotations

from backend.api.base import Blueprint
from backend.api.lookups import region_or_404
from backend.api.public_cache import public_answer
from backend.api.schemas.public import RegionArgsSchema
from backend.api.schemas.stats import StatsSchema
from backend.stats.services import Stats, rollup

blp = Blueprint("stats", __name__, description="统计")


@blp.get("/stats")
@public_answer
@blp.arguments(RegionArgsSchema, location="query", as_kwargs=True)
@blp.response(200, StatsSchema)
def get_stats(region_id: int | None = None) -> Stats:
    """Funds, needs, money, beneficiaries and spaces of a region and below; targets with
    their pace; money raised and spent in each of the last 12 Beijing months."""
    return rollup(region_or_404(region_id))
