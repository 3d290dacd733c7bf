"""Logging in through WeChat, the user's profile, and role grants."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from wechatpy.exceptions import WeChatClientException

from backend.accounts.models import ROLE_SCOPE, Role, RoleGrant, ScopeType, User
from backend.common.errors import DomainError, Kind
from backend.common.models import IdempotencyKey
from backend.common.time import utcnow
from backend.extensions import db
from backend.funds.models import Foundation, Fund
from backend.wechat.client import get_wechat
from backend.wechat.content import check_text, wechat_unavailable

log = logging.getLogger(__name__)

# WeChat answers these for a code that is malformed, used or expired.
BAD_CODE_ERRORS = {40029, 40163, 40226}


def login_with_code(code: str) -> User:
    """Exchange a `wx.login` code for the user (created on first login)."""
    try:
        session = get_wechat().wxa.code_to_session(code)
    except WeChatClientException as exc:
        if exc.errcode in BAD_CODE_ERRORS:
            raise DomainError(
                Kind.UNAUTHORIZED, "invalid_login_code", "登录凭证无效或已过期，请重新登录"
            ) from None
        raise wechat_unavailable(exc) from None
    openid = session["openid"]
    # The session_key is not kept: nothing here decrypts user data with it.
    db.session.execute(
        insert(User).values(openid=openid, created_at=utcnow(), updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["openid"])
    )  # fmt: skip
    user = db.session.scalars(sa.select(User).where(User.openid == openid)).one()
    unionid = session.get("unionid")
    if unionid and user.unionid != unionid:
        user.unionid = unionid
    db.session.flush()
    return user


def update_profile(user: User, nickname: str | None, avatar_url: str | None) -> User:
    """Change the nickname (content-checked) and avatar."""
    if nickname is not None:
        check_text(user.openid, {"nickname": nickname})
        user.nickname = nickname
    if avatar_url is not None:
        user.avatar_url = avatar_url
    db.session.flush()
    return user


def bind_phone(user: User, code: str) -> User:
    """Bind the phone number behind a `getPhoneNumber` code."""
    try:
        result = get_wechat().wxa.get_phone_number(code)
    except WeChatClientException as exc:
        if exc.errcode in BAD_CODE_ERRORS:
            raise DomainError(
                Kind.BAD_REQUEST, "invalid_phone_code", "手机号授权已失效，请重新授权"
            ) from None
        raise wechat_unavailable(exc) from None
    user.phone = result["phone_info"]["purePhoneNumber"]
    db.session.flush()
    return user


def mask_phone(phone: str | None) -> str | None:
    """A phone number with its middle hidden: 139****1234."""
    if not phone:
        return None
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"


def delete_account(user: User) -> None:
    """Remove personal data and roles (the donations package forgets the donor's public
    traces first: `donations.services.forget_donor`)."""
    # Stored answers to idempotent calls repeat the donation's name and message.
    db.session.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.user_id == user.id))
    user.openid = None
    user.unionid = None
    user.nickname = None
    user.avatar_url = None
    user.phone = None
    user.deleted_at = utcnow()
    user.grants.clear()
    db.session.flush()


def find_user(ref: str) -> User | None:
    """A user by id (digits) or by openid."""
    if ref.isdigit():
        return db.session.get(User, int(ref))
    return db.session.scalar(sa.select(User).where(User.openid == ref))


def scope_exists(scope_type: ScopeType, scope_id: int | None) -> bool:
    """Whether the fund or foundation named by a grant exists."""
    if scope_type == ScopeType.FUND:
        return db.session.get(Fund, scope_id) is not None
    if scope_type == ScopeType.FOUNDATION:
        return db.session.get(Foundation, scope_id) is not None
    return scope_id is None


def grant_role(
    user: User, role: Role, scope_id: int | None, granted_by: User | None = None
) -> RoleGrant:
    """Give `role` to `user` in its scope; granting twice returns the existing grant."""
    scope_type = ROLE_SCOPE[role]
    if not scope_exists(scope_type, scope_id):
        raise DomainError(Kind.NOT_FOUND, f"{scope_type.value}_not_found", "授权范围不存在")
    existing = db.session.scalar(
        sa.select(RoleGrant).where(
            RoleGrant.user_id == user.id,
            RoleGrant.role == role,
            RoleGrant.scope_type == scope_type,
            RoleGrant.scope_id.is_(None) if scope_id is None else RoleGrant.scope_id == scope_id,
        )
    )
    if existing is not None:
        return existing
    grant = RoleGrant(
        user=user,
        role=role,
        scope_type=scope_type,
        scope_id=scope_id,
        granted_by_id=granted_by.id if granted_by else None,
    )
    db.session.add(grant)
    db.session.flush()
    log.info("granted %s on %s %s to user %s", role, scope_type, scope_id, user.id)
    return grant


def revoke_grant(grant: RoleGrant) -> None:
    """Take a grant away."""
    log.info(
        "revoked %s on %s %s from user %s",
        grant.role,
        grant.scope_type,
        grant.scope_id,
        grant.user_id,
    )
    db.session.delete(grant)
    db.session.flush()
