"""Public needs: the list with its filters, and a need's page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import Response, jsonify
from flask_smorest import Blueprint

from backend.api.base import decode_cursor, encode_cursor
from backend.api.lookups import region_or_404
from backend.api.schemas import (
    BeijingDateTime,
    NeedDetailSchema,
    NeedListArgsSchema,
    NeedPageSchema,
)
from backend.common.time import BEIJING
from backend.errors import ApiError
from backend.extensions import db
from backend.needs.figures import Figures
from backend.needs.models import Need, NeedCategory, NeedStatus
from backend.needs.services import (
    NeedCard,
    NeedFilters,
    get_public_need,
    public_needs_page,
    with_figures,
)
from backend.progress.service import Progress, published_progress, read_needs, rebuild_need

blp = Blueprint("needs", __name__, description="社区需求（小微项目）")


@blp.get("/needs")
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
            raise ApiError(400, "invalid_cursor", "翻页参数无效", {"cursor": ["invalid"]}) from None
    needs, more = public_needs_page(filters, limit, after)
    next_cursor = None
    if more and needs:
        last = needs[-1]
        next_cursor = encode_cursor(
            "needs", [last.published_at.isoformat(), last.id], filters.as_key()
        )
    return {"items": with_figures(needs), "next_cursor": next_cursor}


class ProgressSchema(ma.Schema):
    """A need's live progress; `stale` is true when Redis could not be read."""

    need_id = ma.fields.Integer()
    goal_fen = ma.fields.Integer()
    raised_fen = ma.fields.Integer()
    donation_count = ma.fields.Integer()
    percent = ma.fields.Integer()
    excess_fen = ma.fields.Integer()
    updated_at = BeijingDateTime(allow_none=True)
    stale = ma.fields.Boolean()


@blp.get("/needs/<int:need_id>/progress")
@blp.response(200, ProgressSchema)
def get_progress(need_id: int) -> Response:
    """Live progress from the Redis counter (PostgreSQL, marked stale, if Redis is down)."""
    fast = published_progress(need_id)
    if fast is not None:
        # The hot path: one Redis read, no SQL, no schema pass.
        goal, value = fast
        progress = Progress(value.raised_fen, value.donation_count, value.updated_at, stale=False)
    else:
        need = db.session.scalar(sa.select(Need).where(Need.id == need_id, Need.public()))
        if need is None:
            raise ApiError(404, "need_not_found", "该项目不存在或尚未公开")
        goal, progress = need.goal_fen, read_needs([need.id])[need.id]
        if not progress.stale:
            # A counter started before publication lacks the goal: add it, once.
            rebuild_need(need.id, wait=False)
    figures = Figures(progress.raised_fen, progress.donation_count)
    updated = progress.updated_at.astimezone(BEIJING).isoformat() if progress.updated_at else None
    return jsonify(
        need_id=need_id,
        goal_fen=goal,
        raised_fen=progress.raised_fen,
        donation_count=progress.donation_count,
        percent=figures.percent_of(goal),
        excess_fen=figures.excess_over(goal),
        updated_at=updated,
        stale=progress.stale,
    )


@blp.get("/needs/<int:need_id>")
@blp.response(200, NeedDetailSchema)
def get_need(need_id: int) -> NeedCard:
    """A published need: story, budget, who raises the money, images, updates, disclosure."""
    need = get_public_need(need_id)
    if need is None:
        raise ApiError(404, "need_not_found", "该项目不存在或尚未公开")
    return with_figures([need])[0]
