"""Login through WeChat and the user's own account."""

from __future__ import annotations

from typing import Any

from flask import current_app, request

from backend.accounts.models import User
from backend.accounts.services import (
    bind_phone,
    delete_account,
    login_with_code,
    update_profile,
)
from backend.accounts.tokens import issue_token
from backend.api.base import Blueprint
from backend.api.schemas.identity import (
    CoveredFundSchema,
    LoginResultSchema,
    LoginSchema,
    MeSchema,
    PhoneSchema,
    ProfileSchema,
)
from backend.auth import BEARER, login_required
from backend.common.ratelimit import hit
from backend.donations.services import forget_donor
from backend.funds.services import CoveredFund, funds_covered
from backend.messages.services import forget_subscriber

blp = Blueprint("identity", __name__, description="登录与个人账户")


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


@blp.get("/me/funds")
@blp.response(200, CoveredFundSchema(many=True))
@blp.doc(security=BEARER)
def get_my_funds() -> list[CoveredFund]:
    """The funds the user holds a role over (through the fund, its foundation or the
    platform), with those roles: where the back office starts."""
    return funds_covered(login_required())


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
    user = login_required()
    forget_donor(user)
    forget_subscriber(user)
    delete_account(user)
