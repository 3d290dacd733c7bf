"""Login through WeChat and the user's own account."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app, request
from flask_smorest import Blueprint

from backend.accounts.models import User
from backend.accounts.services import (
    CONTROL_CHARACTERS,
    bind_phone,
    delete_account,
    login_with_code,
    mask_phone,
    update_profile,
)
from backend.accounts.tokens import issue_token
from backend.api.schemas import BeijingDateTime
from backend.auth import BEARER, login_required
from backend.common.ratelimit import hit

blp = Blueprint("identity", __name__, description="登录与个人账户")


def no_control_characters(value: str) -> None:
    """Refuse invisible and control characters."""
    if CONTROL_CHARACTERS.search(value):
        raise ma.ValidationError("must not contain control characters")


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

    nickname = ma.fields.String(validate=[ma.validate.Length(min=1, max=20), no_control_characters])
    avatar_url = ma.fields.Url(schemes={"https"}, validate=ma.validate.Length(max=512))


class PhoneSchema(ma.Schema):
    """`{code}` from a `getPhoneNumber` button."""

    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=128))


@blp.post("/auth/wechat-login")
@blp.arguments(LoginSchema)
@blp.response(200, LoginResultSchema)
def wechat_login(args: dict[str, str]) -> dict[str, Any]:
    """Exchange a `wx.login` code for a bearer token; the first login creates the user."""
    hit(f"login:{request.remote_addr}", current_app.config["SETTINGS"].logins_per_minute)
    user = login_with_code(args["code"])
    issued = issue_token(user.id)
    return {"token": issued.token, "expires_at": issued.expires_at, "user": user}


@blp.get("/me")
@blp.response(200, MeSchema)
@blp.doc(security=BEARER)
def get_me() -> User:
    """The logged-in user's account and roles."""
    return login_required()


@blp.patch("/me")
@blp.arguments(ProfileSchema)
@blp.response(200, MeSchema)
@blp.doc(security=BEARER)
def patch_me(args: dict[str, str]) -> User:
    """Change the nickname (checked by WeChat's content security) or avatar."""
    return update_profile(login_required(), args.get("nickname"), args.get("avatar_url"))


@blp.post("/me/phone")
@blp.arguments(PhoneSchema)
@blp.response(200, MeSchema)
@blp.doc(security=BEARER)
def post_phone(args: dict[str, str]) -> User:
    """Bind a phone number through WeChat; it is never returned in full."""
    return bind_phone(login_required(), args["code"])


@blp.delete("/me")
@blp.response(204)
@blp.doc(security=BEARER)
def delete_me() -> None:
    """Delete the account: personal data removed, donations kept pseudonymised."""
    delete_account(login_required())
