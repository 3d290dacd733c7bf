"""Loading the objects a request names, with the caller's rights: one answer for what does
not exist and for what the caller may not know exists."""

from __future__ import annotations

from backend.accounts.models import User
from backend.accounts.permissions import Permission, can, require
from backend.auth import current_user, login_required
from backend.common.errors import not_found
from backend.extensions import db
from backend.funds.models import Fund
from backend.funds.services import get_fund
from backend.needs.models import Need
from backend.needs.services import need_not_found
from backend.regions.models import Region
from backend.spaces.models import CharitySpace
from backend.spaces.services import get_space
from backend.spending.models import Expense
from backend.spending.services import expense_not_found, get_expense


def region_or_404(region_id: int | None) -> Region | None:
    """The region named by a `region_id` filter (None when absent); unknown ids are a 404."""
    if region_id is None:
        return None
    region = db.session.get(Region, region_id)
    if region is None:
        raise not_found("region_not_found", "区域不存在")
    return region


def fund_or_404(fund_id: int) -> Fund:
    """The fund named in the path, or a 404."""
    return get_fund(fund_id)


def need_or_404(need_id: int, *, lock: bool = False) -> Need:
    """A need the caller may see: a published one for anyone, any other only for the roles
    of its fund. Anyone else gets the same 404 as for a need that does not exist."""
    need = db.session.get(Need, need_id, with_for_update=lock)
    if need is None or not (
        need.is_public or can(current_user(), Permission.READ_BACK_OFFICE, need.fund)
    ):
        raise need_not_found()
    return need


def fund_for(permission: Permission, fund_id: int) -> tuple[User, Fund]:
    """The caller and the fund, when the caller holds `permission` over it (404, 401, 403)."""
    fund = fund_or_404(fund_id)
    actor = login_required()
    require(actor, permission, fund)
    return actor, fund


def need_for(permission: Permission, need_id: int) -> tuple[User, Need]:
    """The caller and the need (row-locked), when the caller holds `permission` over its
    fund: 401 first, then 404 for a need the caller may not see, then 403."""
    actor = login_required()
    need = need_or_404(need_id, lock=True)
    require(actor, permission, need.fund)
    return actor, need


def expense_for(permission: Permission, expense_id: int) -> tuple[User, Expense]:
    """The caller and the expense (row-locked), when the caller holds `permission` over its
    fund: 401 first, then 404 for callers who may not read the fund's back office, then 403."""
    actor = login_required()
    expense = get_expense(expense_id, lock=True)
    if not can(actor, Permission.READ_BACK_OFFICE, expense.fund):
        raise expense_not_found()
    require(actor, permission, expense.fund)
    return actor, expense


def space_for(permission: Permission, code: str) -> tuple[User, CharitySpace]:
    """The caller and the space (row-locked), when the caller holds `permission` over its
    fund: 401 first, then 404 for a space that does not exist, then 403."""
    actor = login_required()
    space = get_space(code, lock=True)
    require(actor, permission, space.fund)
    return actor, space
