"""Back office: the fund's disclosure duties (信息公开), the list a secretary works from."""

from __future__ import annotations

from datetime import date
from typing import Any

from backend.accounts.permissions import Permission
from backend.api.base import Blueprint, decode_cursor, encode_cursor, invalid_cursor
from backend.api.lookups import fund_for
from backend.api.schemas.backoffice import DisclosureDutiesArgsSchema, DisclosureDutyPageSchema
from backend.auth import BEARER
from backend.needs.disclosure import NEEDING_ATTENTION, DisclosureState, duties_page

blp = Blueprint("disclosures", __name__, description="后台：基金的信息公开期限")


@blp.get("/funds/<int:fund_id>/disclosures")
@blp.arguments(DisclosureDutiesArgsSchema, location="query", as_kwargs=True)
@blp.response(200, DisclosureDutyPageSchema)
@blp.doc(security=BEARER)
def list_disclosure_duties(
    fund_id: int, limit: int, cursor: str | None, state: str | None = None
) -> dict[str, Any]:
    """The fund's public needs whose disclosure is overdue or due soon (or in `state`), most
    urgent first: earliest deadline, then need id (fund roles only)."""
    _, fund = fund_for(Permission.READ_BACK_OFFICE, fund_id)
    states = (DisclosureState(state),) if state else NEEDING_ATTENTION
    filters = {"fund": fund.id, "state": state}
    after = None
    if cursor:
        key = decode_cursor("disclosures", cursor, filters)
        try:
            after = (date.fromisoformat(key[0]), int(key[1]))
        except (IndexError, TypeError, ValueError):
            raise invalid_cursor() from None
    page = duties_page(fund.id, states, limit, after)
    next_cursor = None
    if page.more and page.items:
        due, need_id = page.items[-1].sort_key
        next_cursor = encode_cursor("disclosures", [due.isoformat(), need_id], filters)
    return {"items": page.items, "next_cursor": next_cursor}
