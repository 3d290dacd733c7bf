"""Donations: the order, its payment parameters, the donor's own donations and receipts."""

from __future__ import annotations

from typing import Any

from flask import current_app, request

from backend.api.base import Blueprint, id_page
from backend.api.idempotency import idempotent
from backend.api.public_cache import own_answer
from backend.api.schemas.base import PageArgsSchema
from backend.api.schemas.donations import (
    DonationCreatedSchema,
    DonationInputSchema,
    MyDonationPageSchema,
    MyDonationSchema,
)
from backend.auth import BEARER, login_required
from backend.common.ratelimit import hit
from backend.donations.models import Donation
from backend.donations.services import DonationRequest, create_donation, own_donation
from backend.spending.allocation import (
    AllocatedDonation,
    allocated_donations_of,
    with_allocations,
)

blp = Blueprint("donations", __name__, description="捐赠")


@blp.post("/donations")
@idempotent
@blp.arguments(DonationInputSchema)
@blp.response(201, DonationCreatedSchema)
@blp.doc(security=BEARER)
def post_donation(data: dict[str, Any]) -> Donation:
    """Create a pending order at WeChat Pay; `payment` goes to `wx.requestPayment` as it is."""
    user = login_required()
    hit(f"donate:{user.id}", current_app.config["SETTINGS"].donations_per_minute)
    return create_donation(
        user,
        DonationRequest(
            amount_fen=data["amount_fen"],
            need_id=data.get("need_id"),
            fund_id=data.get("fund_id"),
            anonymous=data["anonymous"],
            message=data["message"],
            space_code=data.get("space_code"),
        ),
        client_ip=request.remote_addr or "127.0.0.1",
    )


@blp.get("/donations/<bigid:donation_id>")
@blp.response(200, MyDonationSchema)
@blp.doc(security=BEARER)
def get_donation(donation_id: int) -> AllocatedDonation:
    """One of the caller's donations with the expenses its money went to (someone else's
    is a 404, as if it did not exist)."""
    return with_allocations([own_donation(login_required(), donation_id)])[0]


@blp.get("/me/donations")
@own_answer
@blp.arguments(PageArgsSchema, location="query", as_kwargs=True)
@blp.response(200, MyDonationPageSchema)
@blp.doc(security=BEARER)
def my_donations(limit: int, cursor: str | None) -> dict[str, Any]:
    """The caller's donations, newest first, each with the expenses its money went to."""
    user = login_required()
    return id_page("my-donations", cursor, {"user": user.id},
                   lambda after: allocated_donations_of(user.id, limit, after))  # fmt: skip
