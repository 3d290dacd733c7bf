"""Public region tree."""

from __future__ import annotations

from backend.api.base import Blueprint
from backend.api.public_cache import public_answer
from backend.api.schemas.public import RegionNodeSchema
from backend.regions.services import RegionNode, region_tree

blp = Blueprint("regions", __name__, description="区域：市、区、街道、社区")


@blp.get("/regions")
@public_answer
@blp.response(200, RegionNodeSchema(many=True))
def list_regions() -> list[RegionNode]:
    """The region tree: root regions, each with its children nested."""
    return region_tree()
