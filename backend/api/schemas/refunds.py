"""Schemas of refunds, a need's donations as the back office sees them, and leftovers."""

from __future__ import annotations

import marshmallow as ma

from backend.api.schemas.base import Amount, BeijingDateTime, ObjectSchema, PageSchema, one_line
from backend.refunds.models import LeftoverAction, RefundStatus


class RefundInputSchema(ma.Schema):
    """A full or partial refund of a paid donation."""

    amount_fen = Amount(required=True, metadata={"description": "at most what is refundable"})
    reason = ma.fields.String(
        required=True, validate=[ma.validate.Length(min=1, max=200), one_line]
    )


class RefundSchema(ObjectSchema):
    """A refund: requested (held, not yet accepted by WeChat), processing, succeeded, failed."""

    id = ma.fields.Integer()
    donation_id = ma.fields.Integer()
    out_refund_no = ma.fields.String()
    amount_fen = ma.fields.Integer()
    reason = ma.fields.String()
    status = ma.fields.String(metadata={"enum": [s.value for s in RefundStatus]})
    failure = ma.fields.String(allow_none=True)
    created_at = BeijingDateTime()
    settled_at = BeijingDateTime(allow_none=True)


class RefundListSchema(ma.Schema):
    """A donation's refunds, oldest first."""

    items = ma.fields.List(ma.fields.Nested(RefundSchema))


class NeedDonationSchema(ObjectSchema):
    """A need's donation as the fund's back office sees it (the masked name only)."""

    id = ma.fields.Integer()
    public_name = ma.fields.String()
    message = ma.fields.String()
    status = ma.fields.String()
    amount_fen = ma.fields.Integer()
    refunded_fen = ma.fields.Integer()
    refunding_fen = ma.fields.Integer()
    allocated_fen = ma.fields.Integer()
    refundable_fen = ma.fields.Integer()
    pooled = ma.fields.Boolean()
    paid_at = BeijingDateTime(allow_none=True)


class NeedDonationPageSchema(PageSchema):
    """A page of a need's received donations, newest first."""

    items = ma.fields.List(ma.fields.Nested(NeedDonationSchema))


class LeftoverInputSchema(ma.Schema):
    """The committee's decision on a finished need's money left."""

    action = ma.fields.String(
        required=True, validate=ma.validate.OneOf([a.value for a in LeftoverAction])
    )
    decision = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=500))


class LeftoverDecisionSchema(ObjectSchema):
    """What was decided, when, and for how much."""

    action = ma.fields.String(metadata={"enum": [a.value for a in LeftoverAction]})
    amount_fen = ma.fields.Integer()
    decision = ma.fields.String()
    created_at = BeijingDateTime()


class LeftoverSchema(ObjectSchema):
    """A need's money left, and the decision on it (null until made)."""

    need_id = ma.fields.Integer()
    status = ma.fields.String()
    left_fen = ma.fields.Integer()
    refundable_count = ma.fields.Integer()
    open_refunds = ma.fields.Integer()
    decision = ma.fields.Nested(LeftoverDecisionSchema, allow_none=True)
