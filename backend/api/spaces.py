"""Charity spaces: the public list and scan page; opening and editing them."""

from __future__ import annotations

from typing import Any

from backend.accounts.permissions import Permission
from backend.api.base import Blueprint, id_page
from backend.api.lookups import fund_for, region_or_404, space_for
from backend.api.public_cache import public_answer
from backend.api.schemas.spaces import (
    SpaceDetailSchema,
    SpaceInputSchema,
    SpaceListArgsSchema,
    SpacePageSchema,
    SpacePatchSchema,
)
from backend.auth import BEARER
from backend.spaces.backoffice import create_space, update_space
from backend.spaces.services import spaces_page
from backend.stats.spaces import SpaceDetail, space_detail

blp = Blueprint("spaces", __name__, description="慈善空间")


@blp.get("/spaces")
@public_answer
@blp.arguments(SpaceListArgsSchema, location="query", as_kwargs=True)
@blp.response(200, SpacePageSchema)
def list_spaces(limit: int, cursor: str | None, region_id: int | None = None,
                fund_id: int | None = None) -> dict[str, Any]:  # fmt: skip
    """Charity spaces in a region and below (of one fund, with `fund_id`), in the order
    they were opened."""
    region = region_or_404(region_id)
    return id_page("spaces", cursor, {"region_id": region_id, "fund_id": fund_id},
                   lambda after: spaces_page(region, fund_id, limit, after))  # fmt: skip


@blp.get("/spaces/<string:code>")
@public_answer
@blp.response(200, SpaceDetailSchema)
def get_space_by_code(code: str) -> SpaceDetail:
    """A charity space by the code on its QR codes: the needs it shows, what donations
    started from its codes brought in and its place among its district's spaces."""
    return space_detail(code)


@blp.post("/spaces")
@blp.arguments(SpaceInputSchema)
@blp.response(201, SpaceDetailSchema)
@blp.doc(security=BEARER)
def post_space(data: dict[str, Any]) -> SpaceDetail:
    """Open a charity space of a fund (its secretary or the foundation admin)."""
    actor, fund = fund_for(Permission.MANAGE_SPACES, data.pop("fund_id"))
    return space_detail(create_space(actor, fund, data).code)


@blp.patch("/spaces/<string:code>")
@blp.arguments(SpacePatchSchema(partial=True))
@blp.response(200, SpaceDetailSchema)
@blp.doc(security=BEARER)
def patch_space(data: dict[str, Any], code: str) -> SpaceDetail:
    """Edit a space: name, address, hours, photo, region, the needs it shows."""
    actor, space = space_for(Permission.MANAGE_SPACES, code)
    return space_detail(update_space(actor, space, data).code)
