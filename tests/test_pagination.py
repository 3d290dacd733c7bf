"""Cursor pagination stays correct while needs are published concurrently."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from backend.common.time import utcnow
from backend.extensions import db
from backend.funds.models import Foundation, Fund
from backend.needs.models import Need, NeedCategory, NeedStatus
from backend.regions.models import RegionLevel
from backend.regions.services import add_region


def make_fund() -> Fund:
    city = add_region("测试市", RegionLevel.CITY, None)
    district = add_region("测试区", RegionLevel.DISTRICT, city)
    street = add_region("测试街道", RegionLevel.STREET, district)
    community = add_region("测试社区", RegionLevel.COMMUNITY, street)
    foundation = Foundation(
        name="测试基金会", credit_code="53000000TEST00001X", mch_id="1900000109"
    )
    fund = Fund(
        foundation=foundation,
        region=community,
        name="测试社区慈善基金",
        committee_threshold_fen=100000,
    )
    db.session.add(fund)
    db.session.flush()
    return fund


def publish(fund: Fund, title: str, published_at) -> Need:
    need = Need(
        fund=fund,
        region=fund.region,
        category=NeedCategory.CONVENIENCE,
        title=title,
        story="测试用的项目说明。",
        goal_fen=100000,
        status=NeedStatus.FUNDRAISING,
        published_at=published_at,
    )
    db.session.add(need)
    return need


@pytest.mark.usefixtures("clean")
def test_paging_while_needs_are_published_meanwhile_skips_and_repeats_nothing(app) -> None:
    base = utcnow() - timedelta(days=30)
    with app.app_context():
        fund = make_fund()
        # Several share a publication time: the id breaks ties.
        for i in range(60):
            publish(fund, f"原有项目{i:02d}", base + timedelta(hours=i // 3))
        db.session.commit()
        fund_id = fund.id
        original = set(db.session.scalars(sa.select(Need.title)))

    stop = threading.Event()
    inserted: list[str] = []

    def publisher() -> None:
        # A second connection publishing new needs (newest first in the list) all along.
        with app.app_context():
            fund = db.session.get(Fund, fund_id)
            n = 0
            while not stop.is_set() and n < 200:
                title = f"新项目{n:03d}"
                publish(fund, title, utcnow() + timedelta(seconds=n))
                db.session.commit()
                inserted.append(title)
                n += 1
            db.session.remove()

    thread = threading.Thread(target=publisher)
    client = app.test_client()
    seen: list[str] = []
    cursor = None
    first = client.get("/api/v1/needs?limit=7").get_json()
    thread.start()
    try:
        page = first
        while True:
            seen += [item["title"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
            page = client.get(f"/api/v1/needs?limit=7&cursor={cursor}").get_json()
    finally:
        stop.set()
        thread.join()

    assert inserted, "the publisher inserted nothing while paging"
    assert len(seen) == len(set(seen)), "a need appeared twice"
    # Every need that existed when paging began is seen exactly once, in order.
    assert original <= set(seen)
    assert set(seen) - original <= set(inserted)
