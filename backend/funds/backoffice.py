"""Fund settings, the committee and supervisors, in the back office."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from backend.accounts.models import Role, RoleGrant, ScopeType, User
from backend.accounts.services import grant_role, revoke_grant
from backend.audit.services import diff, record
from backend.common.errors import DomainError, Kind
from backend.common.paging import Page, keyset_page
from backend.extensions import db
from backend.funds.models import Fund

#: the roles granted on a fund
FUND_ROLES = (Role.SECRETARY, Role.COMMITTEE, Role.SUPERVISOR)
MIN_COMMITTEE = 5


@dataclass(frozen=True)
class Governance:
    """Whether the fund's people meet the rules: an odd committee of 5 or more, a supervisor."""

    committee_count: int
    supervisor_count: int
    secretary_count: int
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """No rule is broken."""
        return not self.problems


def governance_of(fund_id: int) -> Governance:
    """Count the fund's grants and say which rules are not met."""
    counts = Counter(
        db.session.scalars(
            sa.select(RoleGrant.role).where(
                RoleGrant.scope_type == ScopeType.FUND, RoleGrant.scope_id == fund_id
            )
        )
    )
    committee = counts[Role.COMMITTEE]
    problems = []
    if committee < MIN_COMMITTEE or committee % 2 == 0:
        problems.append(f"管委会须为不少于{MIN_COMMITTEE}人的奇数，现有{committee}人")
    if counts[Role.SUPERVISOR] < 1:
        problems.append("尚未任命监督员")
    if counts[Role.SECRETARY] < 1:
        problems.append("尚未指定负责日常工作的书记")
    return Governance(committee, counts[Role.SUPERVISOR], counts[Role.SECRETARY], problems)


def update_fund(actor: User, fund: Fund, data: dict[str, Any]) -> Fund:
    """Change fund settings; the change is recorded."""
    before = {key: getattr(fund, key) for key in data}
    for key, value in data.items():
        setattr(fund, key, value)
    db.session.flush()
    changes = diff(before, data)
    if changes:
        record(actor, "fund.update", fund, fund_id=fund.id, changes=changes)
    return fund


def fund_grants_page(fund_id: int, limit: int, after: int | None) -> Page[RoleGrant]:
    """The fund's grants in the order they were made."""
    stmt = sa.select(RoleGrant).where(
        RoleGrant.scope_type == ScopeType.FUND, RoleGrant.scope_id == fund_id
    )
    return keyset_page(stmt, RoleGrant.id, limit, after, descending=False)


def appoint(actor: User | None, fund: Fund, user_id: int, role: Role) -> RoleGrant:
    """Grant a fund role to a user; the grant is recorded."""
    if role not in FUND_ROLES:
        raise DomainError(
            Kind.INVALID,
            "invalid_role",
            "只能任命书记、管委会成员或监督员",
            {"role": ["只能是书记、管委会成员或监督员"]},
        )
    user = db.session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise DomainError(Kind.NOT_FOUND, "user_not_found", "用户不存在")
    existing = {g.id for g in user.grants}
    grant = grant_role(user, role, fund.id, granted_by=actor)
    if grant.id not in existing:
        record(actor, "role.grant", grant, fund_id=fund.id,
               changes={"user_id": user.id, "role": role.value})  # fmt: skip
    return grant


def dismiss(actor: User | None, fund: Fund, grant_id: int) -> None:
    """Take a fund role away; the revocation is recorded."""
    grant = db.session.get(RoleGrant, grant_id)
    if grant is None or grant.scope_type != ScopeType.FUND or grant.scope_id != fund.id:
        raise DomainError(Kind.NOT_FOUND, "grant_not_found", "该任命不存在")
    record(actor, "role.revoke", grant, fund_id=fund.id,
           changes={"user_id": grant.user_id, "role": grant.role.value})  # fmt: skip
    revoke_grant(grant)
