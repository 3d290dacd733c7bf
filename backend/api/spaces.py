"""Public charity spaces (scan targets)."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from backend.api.base import decode_id_cursor, encode_cursor
from backend.api.lookups import region_or_404
from backend.api.schemas import SpaceDetailSchema, SpaceListArgsSchema, SpacePageSchema
from backend.errors import ApiError
from backend.needs.services import with_figures
from backend.spaces.services import get_space, open_needs_of, spaces_page

blp = Blueprint("spaces", __name__, description="慈善空间")


@blp.get("/spaces")
@blp.arguments(SpaceListArgsSchema, location="query", as_kwargs=True)
@blp.response(200, SpacePageSchema)
def list_spaces(limit: int, cursor: str | None, region_id: int | None = None) -> dict[str, Any]:
    """Charity spaces in a region and below, in the order they were opened."""
    region = region_or_404(region_id)
    filters = {"region_id": region_id}
    after = decode_id_cursor("spaces", cursor, filters)
    spaces, more = spaces_page(region, limit, after)
    next_cursor = encode_cursor("spaces", [spaces[-1].id], filters) if more and spaces else None
    return {"items": spaces, "next_cursor": next_cursor}


@blp.get("/spaces/<string:code>")
@blp.response(200, SpaceDetailSchema)
def get_space_by_code(code: str) -> dict[str, Any]:
    """A charity space by the code on its QR codes, with the needs it collects for."""
    space = get_space(code)
    if space is None:
        raise ApiError(404, "space_not_found", "该慈善空间不存在")
    return {
        "code": space.code,
        "name": space.name,
        "address": space.address,
        "opening_hours": space.opening_hours,
        "description": space.description,
        "region": space.region,
        "fund": space.fund,
        "needs": with_figures(open_needs_of(space)),
    }
