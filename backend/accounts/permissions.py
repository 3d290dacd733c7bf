"""The one authorization mechanism: what each role may do, checked against the object.

Every back-office endpoint names a Permission and the fund it acts on; `require` answers
401 for anonymous callers and 403 when no grant of the user covers that fund. Grants are
scoped: a secretary of fund A holds nothing over fund B; a foundation admin covers the
funds of their foundation; a supervisor reads everything of their fund and changes nothing.
"""

from __future__ import annotations

import enum

from backend.accounts.models import Role, ScopeType, User
from backend.common.errors import forbidden, unauthorized
from backend.funds.models import Fund


class Permission(enum.StrEnum):
    """Things a user may be allowed to do to a fund and what belongs to it."""

    READ_BACK_OFFICE = "read_back_office"  # drafts, expenses, roles, the audit log
    MANAGE_NEEDS = "manage_needs"  # create, edit, submit needs, post updates
    RUN_NEEDS = "run_needs"  # start and complete a funded need
    PUBLISH_NEEDS = "publish_needs"  # publish (the foundation raises the money)
    CLOSE_NEEDS = "close_needs"  # close with a public reason
    DECIDE_EXPENSES = "decide_expenses"  # approve or reject
    SUBMIT_EXPENSES = "submit_expenses"
    DISBURSE = "disburse"
    MANAGE_FUND = "manage_fund"  # settings and role grants
    REFUND = "refund"
    MANAGE_SPACES = "manage_spaces"  # create and edit charity spaces, choose what they show
    RECONCILE = "reconcile"  # the WeChat Pay bill against the books (deployment-wide)


#: which roles carry which permission over a fund they cover
POLICY: dict[Permission, frozenset[Role]] = {
    Permission.READ_BACK_OFFICE: frozenset(
        {
            Role.SECRETARY,
            Role.COMMITTEE,
            Role.SUPERVISOR,
            Role.FOUNDATION_ADMIN,
            Role.PLATFORM_ADMIN,
        }
    ),
    Permission.MANAGE_NEEDS: frozenset({Role.SECRETARY}),
    Permission.RUN_NEEDS: frozenset({Role.SECRETARY, Role.FOUNDATION_ADMIN}),
    Permission.PUBLISH_NEEDS: frozenset({Role.FOUNDATION_ADMIN}),
    Permission.CLOSE_NEEDS: frozenset({Role.SECRETARY, Role.FOUNDATION_ADMIN}),
    Permission.DECIDE_EXPENSES: frozenset({Role.SECRETARY, Role.COMMITTEE}),
    Permission.SUBMIT_EXPENSES: frozenset({Role.SECRETARY}),
    Permission.DISBURSE: frozenset({Role.FOUNDATION_ADMIN}),
    Permission.MANAGE_FUND: frozenset({Role.FOUNDATION_ADMIN, Role.PLATFORM_ADMIN}),
    Permission.REFUND: frozenset({Role.FOUNDATION_ADMIN}),
    Permission.MANAGE_SPACES: frozenset({Role.SECRETARY, Role.FOUNDATION_ADMIN}),
    Permission.RECONCILE: frozenset({Role.FOUNDATION_ADMIN, Role.PLATFORM_ADMIN}),
}


def roles_over(user: User, fund: Fund) -> set[Role]:
    """The roles `user` holds that cover `fund`."""
    roles: set[Role] = set()
    for grant in user.grants:
        if (
            grant.scope_type == ScopeType.PLATFORM
            or (grant.scope_type == ScopeType.FOUNDATION and grant.scope_id == fund.foundation_id)
            or (grant.scope_type == ScopeType.FUND and grant.scope_id == fund.id)
        ):
            roles.add(grant.role)
    return roles


def can(user: User | None, permission: Permission, fund: Fund) -> bool:
    """Whether `user` may do `permission` to `fund` (and what belongs to it)."""
    if user is None:
        return False
    return bool(roles_over(user, fund) & POLICY[permission])


def require(user: User | None, permission: Permission, fund: Fund) -> None:
    """Raise 401 for anonymous callers and 403 when the user's grants do not cover `fund`."""
    if user is None:
        raise unauthorized()
    if not can(user, permission, fund):
        raise forbidden()


def require_deployment_wide(user: User | None, permission: Permission) -> None:
    """401 for anonymous callers, 403 unless one of the user's grants, whatever its scope,
    carries `permission`: for what belongs to the deployment rather than to a fund (the
    merchant account's bill)."""
    if user is None:
        raise unauthorized()
    if not any(grant.role in POLICY[permission] for grant in user.grants):
        raise forbidden()
