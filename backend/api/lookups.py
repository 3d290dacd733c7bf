"""Loading objects named in a request, with the contract's 404s."""

from __future__ import annotations

from backend.errors import ApiError
from backend.extensions import db
from backend.funds.models import Fund
from backend.regions.models import Region


def region_or_404(region_id: int | None) -> Region | None:
    """The region named by a `region_id` filter (None when absent); unknown ids are a 404."""
    if region_id is None:
        return None
    region = db.session.get(Region, region_id)
    if region is None:
        raise ApiError(404, "region_not_found", "区域不存在")
    return region


def fund_or_404(fund_id: int) -> Fund:
    """The fund named in the path, or a 404."""
    fund = db.session.get(Fund, fund_id)
    if fund is None:
        raise ApiError(404, "fund_not_found", "该基金不存在")
    return fund
