"""Schemas of subscribe message consents."""

from __future__ import annotations

import marshmallow as ma

from backend.api.schemas.base import one_line


class ConsentInputSchema(ma.Schema):
    """`{template_ids}`: the templates the user accepted in `wx.requestSubscribeMessage`."""

    template_ids = ma.fields.List(
        ma.fields.String(validate=[ma.validate.Length(min=1, max=64), one_line]),
        required=True,
        validate=ma.validate.Length(min=1, max=10),
    )


class TemplateSchema(ma.Schema):
    """A subscribe message the app sends, and how many more the user has allowed."""

    kind = ma.fields.String(metadata={"description": "donation_paid, money_spent"})
    template_id = ma.fields.String()
    title = ma.fields.String()
    remaining = ma.fields.Integer(
        metadata={"description": "unused acceptances: each allows one message"}
    )


class SubscriptionsSchema(ma.Schema):
    """The templates in use (those switched off are absent), with the user's consents."""

    templates = ma.fields.List(ma.fields.Nested(TemplateSchema))
