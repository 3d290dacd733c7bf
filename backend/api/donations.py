"""Donations: the order, its payment parameters, the donor's own donations and receipts."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import Response, current_app, jsonify, request
from flask_smorest import Blueprint

from backend.accounts.services import CONTROL_CHARACTERS
from backend.api.base import PageArgsSchema, decode_id_cursor, encode_cursor
from backend.api.schemas import BeijingDateTime
from backend.auth import BEARER, login_required
from backend.common.idempotency import remember, replay, request_key
from backend.common.ratelimit import hit
from backend.donations.models import Donation
from backend.donations.services import DonationRequest, create_donation, payment_parameters
from backend.errors import ApiError
from backend.extensions import db

blp = Blueprint("donations", __name__, description="捐赠")


def _message_ok(value: str) -> None:
    if CONTROL_CHARACTERS.search(value):
        raise ma.ValidationError("must not contain control characters")


class DonationInputSchema(ma.Schema):
    """A donation to a need, or to a fund's general pool (give one of need_id, fund_id)."""

    need_id = ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1))
    fund_id = ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1))
    amount_fen = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(min=1))
    anonymous = ma.fields.Boolean(load_default=False)
    message = ma.fields.String(load_default="", validate=[ma.validate.Length(max=200), _message_ok])
    space_code = ma.fields.String(validate=ma.validate.Length(min=2, max=16))

    @ma.validates_schema
    def one_target(self, data: dict[str, Any], **kwargs: Any) -> None:
        """Exactly one of need_id and fund_id."""
        if ("need_id" in data) == ("fund_id" in data):
            raise ma.ValidationError("give need_id or fund_id, not both", "need_id")


class PaymentSchema(ma.Schema):
    """Parameters for `wx.requestPayment`, signed (MD5), to pass on as they are."""

    appId = ma.fields.String()
    timeStamp = ma.fields.String()
    nonceStr = ma.fields.String()
    package = ma.fields.String()
    signType = ma.fields.String()
    paySign = ma.fields.String()


class DonationSchema(ma.Schema):
    """A donation as its donor sees it."""

    id = ma.fields.Integer()
    out_trade_no = ma.fields.String()
    status = ma.fields.String()
    amount_fen = ma.fields.Integer()
    refunded_fen = ma.fields.Integer()
    need_id = ma.fields.Integer(allow_none=True)
    fund_id = ma.fields.Integer()
    anonymous = ma.fields.Boolean()
    public_name = ma.fields.String()
    message = ma.fields.String()
    created_at = BeijingDateTime()
    expires_at = BeijingDateTime()
    paid_at = BeijingDateTime(allow_none=True)


class DonationCreatedSchema(DonationSchema):
    """A new pending order and what the mini-program needs to pay it."""

    payment = ma.fields.Nested(PaymentSchema)


class AllocationSchema(ma.Schema):
    """Which expense a donation's money went to."""

    expense_id = ma.fields.Integer()
    amount_fen = ma.fields.Integer()
    purpose = ma.fields.String()


class MyDonationSchema(DonationSchema):
    """A donation with where its money went."""

    # Expenses are allocated to donations once spending exists; until then, none.
    allocations = ma.fields.Function(lambda donation: [], metadata={"type": "array"})


class MyDonationPageSchema(ma.Schema):
    """A page of the user's donations, newest first."""

    items = ma.fields.List(ma.fields.Nested(MyDonationSchema))
    next_cursor = ma.fields.String(allow_none=True)


SCOPE = "POST /api/v1/donations"


@blp.post("/donations")
@blp.arguments(DonationInputSchema)
@blp.response(201, DonationCreatedSchema)
@blp.doc(
    security=BEARER,
    parameters=[{"in": "header", "name": "Idempotency-Key", "schema": {"type": "string"},
                 "description": "a retry with the same key and body returns the first answer"}],
)  # fmt: skip
def post_donation(data: dict[str, Any]) -> Response:
    """Create a pending order at WeChat Pay; `payment` goes to `wx.requestPayment` as it is."""
    user = login_required()
    key = request_key()
    if key is not None:
        first = replay(user.id, SCOPE, key)
        if first is not None:
            status, body = first
            return Response(jsonify(body).get_data(), status=status, mimetype="application/json")
    hit(f"donate:{user.id}", current_app.config["SETTINGS"].donations_per_minute)
    donation = create_donation(
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
    body = DonationCreatedSchema().dump(donation)
    body["payment"] = payment_parameters(donation)
    if key is not None:
        remember(user.id, SCOPE, key, 201, body)
    return Response(jsonify(body).get_data(), status=201, mimetype="application/json")


def own_donation(donation_id: int) -> Donation:
    """The caller's donation; someone else's is a 404, as if it did not exist."""
    user = login_required()
    donation = db.session.get(Donation, donation_id)
    if donation is None or donation.user_id != user.id:
        raise ApiError(404, "donation_not_found", "捐赠记录不存在")
    return donation


@blp.get("/donations/<int:donation_id>")
@blp.response(200, DonationSchema)
@blp.doc(security=BEARER)
def get_donation(donation_id: int) -> Donation:
    """One of the caller's donations."""
    return own_donation(donation_id)


@blp.get("/me/donations")
@blp.arguments(PageArgsSchema, location="query", as_kwargs=True)
@blp.response(200, MyDonationPageSchema)
@blp.doc(security=BEARER)
def my_donations(limit: int, cursor: str | None) -> dict[str, Any]:
    """The caller's donations, newest first, each with the expenses its money went to."""
    user = login_required()
    stmt = (
        sa.select(Donation)
        .where(Donation.user_id == user.id)
        .order_by(Donation.id.desc())
        .limit(limit + 1)
    )
    before = decode_id_cursor("my-donations", cursor, {"user": user.id})
    if before is not None:
        stmt = stmt.where(Donation.id < before)
    rows = list(db.session.scalars(stmt))
    items = rows[:limit]
    more = len(rows) > limit
    next_cursor = encode_cursor("my-donations", [items[-1].id], {"user": user.id}) if more else None
    return {"items": items, "next_cursor": next_cursor}
