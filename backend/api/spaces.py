"""Public charity spaces (scan targets)."""

from __future__ import annotations

from typing import Any

from backend.api.base import Blueprint, id_page
from backend.api.lookups import region_or_404
from backend.api.schemas.public import SpaceDetailSchema, SpaceListArgsSchema, SpacePageSchema
from backend.spaces.services import SpaceDetail, space_detail, spaces_page

blp = Blueprint("spaces", __name__, description="慈善空间")


@blp.get("/spaces")
@blp.arguments(SpaceListArgsSchema, location="query", as_kwargs=True)
@blp.response(200, SpacePageSchema)
def list_spaces(limit: int, cursor: str | None, region_id: int | None = None) -> dict[str, Any]:
    """Charity spaces in a region and below, in the order they were opened."""
    region = region_or_404(region_id)
    return id_page("spaces", cursor, {"region_id": region_id},
                   lambda after: spaces_page(region, limit, after))  # fmt: skip


@blp.get("/spaces/<string:code>")
@blp.response(200, SpaceDetailSchema)
def get_space_by_code(code: str) -> SpaceDetail:
    """A charity space by the code on its QR codes, with the needs it collects for."""
    return space_detail(code)
