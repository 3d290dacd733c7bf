"""Reading funds for the public."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, load_only

from backend.accounts.models import ScopeType, User
from backend.accounts.permissions import roles_over
from backend.common.errors import DomainError, not_found
from backend.extensions import db
from backend.funds.backoffice import Governance, governance_of
from backend.funds.models import Fund
from backend.ledger.services import balance, fund_accounts
from backend.needs.disclosure import overdue_count
from backend.needs.models import Need
from backend.progress import service as progress


@dataclass(frozen=True)
class FundSummary:
    """A fund with its public figures."""

    fund: Fund
    need_count: int
    raised_fen: int
    balance_fen: int
    governance: Governance
    #: public needs whose disclosure (信息公开) is past its deadline today
    overdue_disclosure_count: int

    @property
    def spent_fen(self) -> int:
        """What left the fund: raised (net of refunds) minus what the journal still holds."""
        return self.raised_fen - self.balance_fen


def fund_not_found() -> DomainError:
    """The one answer for a fund that does not exist."""
    return not_found("fund_not_found", "该基金不存在")


def get_fund(fund_id: int) -> Fund:
    """The fund with this id; not found otherwise."""
    fund = db.session.get(Fund, fund_id)
    if fund is None:
        raise fund_not_found()
    return fund


def fund_summary(fund_id: int) -> FundSummary:
    """The fund and its figures; not found for an unknown id."""
    fund = db.session.scalar(
        sa.select(Fund)
        .where(Fund.id == fund_id)
        .options(joinedload(Fund.foundation), joinedload(Fund.region))
    )
    if fund is None:
        raise fund_not_found()
    # What the disclosure duty reads, nothing more (no stories).
    needs = db.session.scalars(
        sa.select(Need)
        .where(Need.fund_id == fund.id, Need.public())
        .options(load_only(Need.status, Need.published_at, Need.ended_at))
    ).all()
    # The fund's own figures (its needs and its general pool): donations and the journal.
    return FundSummary(
        fund=fund,
        need_count=len(needs),
        overdue_disclosure_count=overdue_count(needs),
        raised_fen=progress.source().fund_totals([fund.id])[fund.id][0],
        balance_fen=balance(fund_account_names(fund.id)),
        governance=governance_of(fund.id),
    )


def fund_account_names(fund_id: int) -> list[str]:
    """The journal accounts of a fund: its pool and every need's."""
    return fund_accounts(
        fund_id, db.session.scalars(sa.select(Need.id).where(Need.fund_id == fund_id))
    )


@dataclass(frozen=True)
class CoveredFund:
    """A fund a user's grants cover, with the roles they hold over it."""

    fund: Fund
    roles: list[str]

    def __getattr__(self, name: str) -> object:
        return getattr(self.fund, name)


def funds_covered(user: User) -> list[CoveredFund]:
    """The funds `user` holds a role over (through the fund, its foundation or the
    platform), in id order, each with those roles: what a back office starts from."""
    grants = user.grants
    stmt = (
        sa.select(Fund)
        .options(joinedload(Fund.foundation), joinedload(Fund.region))
        .order_by(Fund.id)
    )
    if not any(g.scope_type == ScopeType.PLATFORM for g in grants):
        stmt = stmt.where(
            sa.or_(
                Fund.id.in_([g.scope_id for g in grants if g.scope_type == ScopeType.FUND]),
                Fund.foundation_id.in_(
                    [g.scope_id for g in grants if g.scope_type == ScopeType.FOUNDATION]
                ),
            )
        )
    return [
        CoveredFund(fund, sorted(role.value for role in roles_over(user, fund)))
        for fund in db.session.scalars(stmt)
    ]
