"""Public needs: the list with its filters, a need's page and its live progress."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backend.api.base import Blueprint, decode_cursor, encode_cursor, invalid_cursor
from backend.api.lookups import region_or_404
from backend.api.public_cache import public_answer
from backend.api.schemas.public import (
    NeedDetailSchema,
    NeedListArgsSchema,
    NeedPageSchema,
    ProgressSchema,
)
from backend.needs.models import NeedCategory, NeedStatus
from backend.needs.services import (
    NeedCard,
    NeedFilters,
    NeedProgress,
    need_progress,
    public_need,
    public_needs_page,
    with_figures,
)

blp = Blueprint("needs", __name__, description="社区需求（小微项目）")


@blp.get("/needs")
@public_answer
@blp.arguments(NeedListArgsSchema, location="query", as_kwargs=True)
@blp.response(200, NeedPageSchema)
def list_needs(limit: int, cursor: str | None, **filter_args: Any) -> dict[str, Any]:
    """Published needs, newest first (by publication time, then id), in a region and below."""
    filters = NeedFilters(
        region=region_or_404(filter_args.get("region_id")),
        fund_id=filter_args.get("fund_id"),
        category=NeedCategory(filter_args["category"]) if "category" in filter_args else None,
        status=NeedStatus(filter_args["status"]) if "status" in filter_args else None,
        q=filter_args.get("q"),
    )
    after = None
    if cursor:
        key = decode_cursor("needs", cursor, filters.as_key())
        try:
            after = (datetime.fromisoformat(key[0]), int(key[1]))
        except (IndexError, TypeError, ValueError):
            raise invalid_cursor() from None
    page = public_needs_page(filters, limit, after)
    next_cursor = None
    if page.more and page.items:
        last = page.items[-1]
        next_cursor = encode_cursor(
            "needs", [last.published_at.isoformat(), last.id], filters.as_key()
        )
    return {"items": with_figures(page.items), "next_cursor": next_cursor}


@blp.get("/needs/<int:need_id>/progress")
@blp.response(200, ProgressSchema)
def get_progress(need_id: int) -> NeedProgress:
    """Live progress from the Redis counter (PostgreSQL, marked stale, if Redis is down)."""
    return need_progress(need_id)


@blp.get("/needs/<int:need_id>")
@public_answer
@blp.response(200, NeedDetailSchema)
def get_need(need_id: int) -> NeedCard:
    """A published need: story, budget, who raises the money, images, updates, disclosure."""
    return with_figures([public_need(need_id, page=True)], photos=True)[0]
