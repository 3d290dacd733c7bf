"""The demo data meets what the product needs to show, and loading it twice changes nothing."""

from __future__ import annotations

from collections import Counter

import pytest
import sqlalchemy as sa

from backend.demo.seed import seed_demo
from backend.extensions import db
from backend.models import CharitySpace, Fund, Need, Region
from backend.needs.disclosure import DisclosureState, disclosure_of
from backend.needs.models import PUBLIC_STATUSES, NeedCategory, NeedStatus
from backend.regions.models import RegionLevel


def counts() -> dict[str, int]:
    return {
        model.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in (Region, Fund, CharitySpace, Need)
    }


@pytest.mark.usefixtures("app_ctx")
def test_demo_data_shape_and_idempotence() -> None:
    seed_demo(progress=lambda line: None)
    db.session.commit()
    first = counts()
    levels = Counter(r.level for r in db.session.scalars(sa.select(Region)))
    assert levels == {
        RegionLevel.CITY: 1,
        RegionLevel.DISTRICT: 2,
        RegionLevel.STREET: 3,
        RegionLevel.COMMUNITY: 8,
    }
    funds = db.session.scalars(sa.select(Fund)).all()
    assert len(funds) == 8
    assert all(f.committee_threshold_fen >= 100000 for f in funds)
    assert first["charity_spaces"] >= 3
    needs = db.session.scalars(sa.select(Need)).all()
    public = [n for n in needs if n.status in PUBLIC_STATUSES]
    assert len(public) >= 30
    assert {n.category for n in public} == set(NeedCategory)
    assert {n.status for n in public} == set(PUBLIC_STATUSES)
    assert len({n.fund_id for n in public}) >= 4
    assert (
        sum(1 for n in public if n.status == NeedStatus.FUNDRAISING and n.goal_fen >= 500000) >= 1
    )
    assert any(n.status == NeedStatus.DRAFT for n in needs)
    for n in needs:
        assert sum(line.amount_fen for line in n.budget_lines) == n.goal_fen, n.title
        assert disclosure_of(n).state != DisclosureState.OVERDUE, n.title
    # A fund that fundraises publicly shows a filing number on every published need.
    for n in public:
        if n.fund.public_fundraising:
            assert n.filing_number, n.title

    seed_demo(progress=lambda line: None)
    db.session.commit()
    assert counts() == first
