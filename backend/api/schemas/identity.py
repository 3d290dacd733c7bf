"""Schemas of login and the user's own account."""

from __future__ import annotations

import marshmallow as ma

from backend.accounts.services import mask_phone
from backend.api.schemas.base import BeijingDateTime, RefSchema, one_line


class LoginSchema(ma.Schema):
    """`{code}` from `wx.login`."""

    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=128))


class GrantSchema(ma.Schema):
    """A role the user holds, and its scope."""

    id = ma.fields.Integer()
    role = ma.fields.String()
    scope_type = ma.fields.String()
    scope_id = ma.fields.Integer(allow_none=True)


class MeSchema(ma.Schema):
    """The user's own account (no openid, no phone number, no session key)."""

    id = ma.fields.Integer()
    nickname = ma.fields.String(allow_none=True)
    avatar_url = ma.fields.String(allow_none=True)
    phone_bound = ma.fields.Function(lambda user: user.phone is not None)
    phone_masked = ma.fields.Function(lambda user: mask_phone(user.phone))
    roles = ma.fields.List(ma.fields.Nested(GrantSchema), attribute="grants")


class LoginResultSchema(ma.Schema):
    """A bearer token and the user."""

    token = ma.fields.String()
    expires_at = BeijingDateTime()
    user = ma.fields.Nested(MeSchema)


class ProfileSchema(ma.Schema):
    """Fields of the profile a user may change."""

    nickname = ma.fields.String(validate=[ma.validate.Length(min=1, max=20), one_line])
    avatar_url = ma.fields.Url(schemes={"https"}, validate=ma.validate.Length(max=512))


class PhoneSchema(ma.Schema):
    """`{code}` from a `getPhoneNumber` button."""

    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=128))


class CoveredFundSchema(ma.Schema):
    """A fund the user holds a role over, with those roles."""

    id = ma.fields.Integer()
    name = ma.fields.String()
    region = ma.fields.Nested(RefSchema)
    foundation = ma.fields.Nested(RefSchema)
    roles = ma.fields.List(
        ma.fields.String(),
        metadata={
            "description": "secretary, committee, supervisor, foundation_admin, platform_admin"
        },
    )
