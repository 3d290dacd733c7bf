"""Load the demo city (`flask --app backend seed-demo`): idempotent, keyed by natural keys.

Regions, the foundation, funds, spaces, needs and targets (`data`); the people who run the
funds and the donors (`people`); then what happened (`history`, from `activity`): donations
credited through the payment path, expenses through the spending services, evidence and
photos. Everything is flushed, never committed: the caller commits once, then counts the
donations on the Redis progress counters (`count_donations`), as the worker would.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import redis
import sqlalchemy as sa

from backend.accounts.models import User
from backend.common.time import BEIJING, beijing_today, utcnow
from backend.demo import data
from backend.demo.history import seed_history
from backend.demo.people import seed_people
from backend.extensions import db
from backend.funds.models import Foundation, Fund
from backend.needs.models import (
    Need,
    NeedBudgetLine,
    NeedCategory,
    NeedStatus,
    ProgressUpdate,
    UpdateKind,
)
from backend.progress.service import apply_pending
from backend.regions.models import ProgrammeTarget, Region, RegionLevel
from backend.regions.services import add_region
from backend.spaces.models import CharitySpace

log = logging.getLogger(__name__)


def _at_beijing_morning(days_ago: int) -> datetime:
    """10:00 Beijing time `days_ago` days before today: believable office hours."""
    day = beijing_today() - timedelta(days=days_ago)
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=BEIJING)


def seed_demo(progress: Callable[[str], None] = log.info) -> dict[str, int]:
    """Create whatever of the demo data is missing; return how many rows of each were added
    (flushes; the caller commits, then calls `count_donations`)."""
    added = {"regions": 0, "funds": 0, "spaces": 0, "needs": 0, "targets": 0}
    now, today = utcnow(), beijing_today()
    communities: dict[str, Region] = {}

    def walk(node: dict[str, Any], parent: Region | None, order: int) -> None:
        region = db.session.scalar(
            sa.select(Region).where(
                Region.name == node["name"],
                Region.parent_id.is_(None) if parent is None else Region.parent_id == parent.id,
            )
        )
        if region is None:
            region = add_region(node["name"], RegionLevel(node["level"]), parent, order)
            added["regions"] += 1
        if "key" in node:
            communities[node["key"]] = region
        for index, child in enumerate(node.get("children", [])):
            walk(child, region, index)

    walk(data.CITY, None, 0)
    progress(f"regions: {added['regions']} added")

    foundation = db.session.scalar(
        sa.select(Foundation).where(Foundation.credit_code == data.FOUNDATION["credit_code"])
    )
    if foundation is None:
        foundation = Foundation(**data.FOUNDATION)
        db.session.add(foundation)
        db.session.flush()

    funds: dict[str, Fund] = {}
    for spec in data.FUNDS:
        fund = db.session.scalar(sa.select(Fund).where(Fund.name == spec["name"]))
        if fund is None:
            fund = Fund(
                foundation=foundation,
                region=communities[spec["community"]],
                name=spec["name"],
                committee_threshold_fen=spec["committee_threshold_fen"],
                public_fundraising=spec["public_fundraising"],
                established_on=beijing_today() - timedelta(days=spec["established_days_ago"]),
            )
            db.session.add(fund)
            added["funds"] += 1
        funds[spec["key"]] = fund
    db.session.flush()
    progress(f"funds: {added['funds']} added")

    for spec in data.SPACES:
        if db.session.scalar(sa.select(CharitySpace).where(CharitySpace.code == spec["code"])):
            continue
        db.session.add(
            CharitySpace(
                code=spec["code"],
                name=spec["name"],
                region=communities[spec["community"]],
                fund=funds[spec["fund"]],
                address=spec["address"],
                opening_hours=spec.get("opening_hours"),
                description=spec.get("description"),
            )
        )
        added["spaces"] += 1
    progress(f"spaces: {added['spaces']} added")

    people, added["users"], added["role_grants"] = seed_people(foundation, funds)
    progress(f"people: {added['users']} users, {added['role_grants']} role grants added")

    existing = {
        tuple(row)
        for row in db.session.execute(
            sa.select(Need.fund_id, Need.title).where(
                Need.fund_id.in_([f.id for f in funds.values()])
            )
        )
    }
    for index, spec in enumerate(data.NEEDS, start=1):
        fund = funds[spec["fund"]]
        if (fund.id, spec["title"]) in existing:
            continue
        db.session.add(_need_from(spec, fund, people.teams[spec["fund"]].secretary))
        added["needs"] += 1
        if index % 10 == 0:
            progress(f"needs: {index}/{len(data.NEEDS)}")
    progress(f"needs: {added['needs']} added")

    year = beijing_today().year
    by_name = {r.name: r for r in db.session.scalars(sa.select(Region))}
    city = by_name[data.CITY["name"]]
    for spec in data.TARGETS:
        region = city if spec["region"] == "city" else by_name[spec["region"]]
        exists = db.session.scalar(
            sa.select(ProgrammeTarget.id).where(
                ProgrammeTarget.region_id == region.id,
                ProgrammeTarget.year == year,
                ProgrammeTarget.metric == spec["metric"],
            )
        )
        if not exists:
            db.session.add(
                ProgrammeTarget(
                    region_id=region.id,
                    year=year,
                    metric=spec["metric"],
                    target=spec["target"],
                    due_on=date(year, 12, 31),
                )
            )
            added["targets"] += 1
    db.session.flush()

    history = seed_history(people, funds, now, today, progress)
    added.update(donations=history.donations, expenses=history.expenses,
                 uploads=history.uploads)  # fmt: skip
    progress(
        f"history: {history.donations} donations, {history.expenses} expenses, "
        f"{history.uploads} pictures added"
    )
    return added


def count_donations(progress: Callable[[str], None] = log.info) -> int:
    """After the seed's commit: count its donations on the Redis progress counters by
    applying the outbox, as the worker would (flushes; the caller commits). How many
    events were applied; without Redis none, and the worker counts them later."""
    applied = 0
    try:
        while batch := apply_pending():
            applied += batch
    except redis.RedisError as exc:
        progress(f"counters: Redis unavailable ({exc.__class__.__name__}); the worker will count")
    return applied


def _need_from(spec: dict[str, Any], fund: Fund, author: User) -> Need:
    status = NeedStatus(spec["status"])
    published_days = spec.get("published_days_ago")
    completed_days = spec.get("completed_days_ago")
    need = Need(
        fund=fund,
        region=fund.region,
        category=NeedCategory(spec["category"]),
        title=spec["title"],
        story=spec["story"],
        goal_fen=spec["goal_fen"],
        deadline=beijing_today() + timedelta(days=spec["deadline_days"]),
        status=status,
        filing_number=spec.get("filing_number"),
        beneficiary_count=spec["beneficiary_count"],
        published_at=_at_beijing_morning(published_days) if published_days is not None else None,
        ended_at=_at_beijing_morning(completed_days) if completed_days is not None else None,
        close_reason=spec.get("close_reason"),
        created_at=_at_beijing_morning((published_days or 0) + 7),
    )
    need.budget_lines = [
        NeedBudgetLine(position=i, item=item, amount_fen=amount)
        for i, (item, amount) in enumerate(spec["budget_lines"])
    ]
    need.updates = [
        ProgressUpdate(
            kind=UpdateKind(update["kind"]),
            text=update["text"],
            author_id=author.id,
            created_at=min(_at_beijing_morning(update["days_ago"]) + timedelta(hours=5), utcnow()),
        )
        for update in spec.get("updates", [])
    ]
    return need
