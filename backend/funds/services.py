"""Reading funds for the public."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from backend.extensions import db
from backend.funds.backoffice import Governance, governance_of
from backend.funds.models import Fund
from backend.needs.models import Need


@dataclass(frozen=True)
class FundSummary:
    """A fund with its public figures."""

    fund: Fund
    need_count: int
    raised_fen: int
    balance_fen: int
    governance: Governance

    @property
    def spent_fen(self) -> int:
        """What left the fund: raised (net of refunds) minus what the journal still holds."""
        return self.raised_fen - self.balance_fen


def fund_summary(fund_id: int) -> FundSummary | None:
    """The fund and its figures, or None for an unknown id."""
    fund = db.session.scalar(
        sa.select(Fund)
        .where(Fund.id == fund_id)
        .options(joinedload(Fund.foundation), joinedload(Fund.region))
    )
    if fund is None:
        return None
    need_ids = db.session.scalars(
        sa.select(Need.id).where(Need.fund_id == fund.id, Need.public())
    ).all()
    from backend.ledger.services import balance, fund_accounts
    from backend.progress.service import fund_sums

    # The fund's own figures (its needs and its general pool): donations and the journal.
    return FundSummary(
        fund=fund,
        need_count=len(need_ids),
        raised_fen=fund_sums([fund.id])[fund.id][0],
        balance_fen=balance(fund_accounts(fund.id)),
        governance=governance_of(fund.id),
    )
