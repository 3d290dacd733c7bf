"""User and RoleGrant."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.common.models import TimestampMixin, enum_column
from backend.common.time import utcnow
from backend.extensions import db


class User(TimestampMixin, db.Model):
    """A person who logged in through the mini-program; every user is a resident."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the mini-program openid; NULL once the account is deleted
    openid: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    #: the open platform unionid, where WeChat gives one
    unionid: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    #: display name chosen by the user
    nickname: Mapped[str | None] = mapped_column(sa.String(64))
    #: avatar image URL
    avatar_url: Mapped[str | None] = mapped_column(sa.String(512))
    #: bound phone number; back office only, never returned in full
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    #: when the account was deleted (personal data removed, donations kept pseudonymised)
    deleted_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    grants: Mapped[list[RoleGrant]] = relationship(
        back_populates="user", cascade="all, delete-orphan", foreign_keys="RoleGrant.user_id"
    )


class Role(enum.StrEnum):
    """Roles beyond resident; the first three are scoped to a fund."""

    SECRETARY = "secretary"  # 书记
    COMMITTEE = "committee"  # 管委会
    SUPERVISOR = "supervisor"  # 监督员
    FOUNDATION_ADMIN = "foundation_admin"
    PLATFORM_ADMIN = "platform_admin"


class ScopeType(enum.StrEnum):
    """What a grant is scoped to."""

    FUND = "fund"
    FOUNDATION = "foundation"
    PLATFORM = "platform"


#: the scope each role is granted in
ROLE_SCOPE = {
    Role.SECRETARY: ScopeType.FUND,
    Role.COMMITTEE: ScopeType.FUND,
    Role.SUPERVISOR: ScopeType.FUND,
    Role.FOUNDATION_ADMIN: ScopeType.FOUNDATION,
    Role.PLATFORM_ADMIN: ScopeType.PLATFORM,
}


class RoleGrant(db.Model):
    """One role given to one user in one scope."""

    __tablename__ = "role_grants"
    __table_args__ = (
        sa.UniqueConstraint(
            "user_id", "role", "scope_type", "scope_id", postgresql_nulls_not_distinct=True
        ),
        sa.CheckConstraint(
            "(scope_type = 'platform') = (scope_id IS NULL)", name="scope_id_matches_type"
        ),
        sa.CheckConstraint(
            "(role IN ('secretary', 'committee', 'supervisor') AND scope_type = 'fund')"
            " OR (role = 'foundation_admin' AND scope_type = 'foundation')"
            " OR (role = 'platform_admin' AND scope_type = 'platform')",
            name="role_matches_scope",
        ),
        sa.Index("ix_role_grants_scope", "scope_type", "scope_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: who holds the role
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: the role held
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
    #: fund, foundation or platform
    scope_type: Mapped[ScopeType] = mapped_column(enum_column(ScopeType, "scope_type"))
    #: the fund's or foundation's id; NULL for platform
    scope_id: Mapped[int | None]
    #: who granted it (NULL from the command line)
    granted_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    #: when it was granted (UTC)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    user: Mapped[User] = relationship(back_populates="grants", foreign_keys=[user_id])
