"""Schemas of the statistics endpoint (`GET /api/v1/stats`)."""

from __future__ import annotations

import marshmallow as ma

from backend.api.schemas.base import RefSchema
from backend.stats.services import MONTHS


class TargetSchema(ma.Schema):
    """A planned figure of the programme and how far it is reached.

    Pace: the plan is read as a straight line from 0 on 1 January of `year` to `target` at
    the end of `due_on` (Beijing days). `expected` is that line's value at the start of
    today, `target × days past ÷ days of the plan`, rounded up; `on_track` is true when
    `actual ≥ expected`, and once `due_on` has passed, only when the target is reached."""

    metric = ma.fields.String(
        metadata={
            "description": "fund_count, need_count, space_count, raised_fen, spent_fen,"
            " donation_count or beneficiary_count (the roll-up's figure of that name)"
        }
    )
    year = ma.fields.Integer()
    target = ma.fields.Integer(metadata={"description": "the planned value (fen for money)"})
    actual = ma.fields.Integer()
    percent = ma.fields.Integer(metadata={"description": "whole percent of the target reached"})
    due_on = ma.fields.Date(metadata={"description": "the last Beijing day of the plan"})
    days_left = ma.fields.Integer(
        metadata={"description": "Beijing days until due_on: 0 on the day, negative once past"}
    )
    expected = ma.fields.Integer(
        metadata={"description": "what a linear pace would have reached by the start of today"}
    )
    on_track = ma.fields.Boolean(metadata={"description": "actual ≥ expected"})
    reached = ma.fields.Boolean(metadata={"description": "actual ≥ target"})


class MonthSchema(ma.Schema):
    """Money in and out in one Beijing month."""

    month = ma.fields.String(
        attribute="label", metadata={"description": "the Beijing month, YYYY-MM"}
    )
    raised_fen = ma.fields.Integer(
        metadata={"description": "donations paid in the month, net of refunds"}
    )
    donation_count = ma.fields.Integer(
        metadata={"description": "donations paid in the month that still count"}
    )
    spent_fen = ma.fields.Integer(metadata={"description": "expenses disbursed in the month"})


class StatsSchema(ma.Schema):
    """The roll-up of a region and below (the whole platform without `region_id`).

    raised_fen and donation_count are the sums, over the public needs of the region and
    below, of each need's progress figures (received donations net of refunds; donations
    still counted); spent_fen is what the region's funds have disbursed."""

    region = ma.fields.Nested(RefSchema, allow_none=True)
    fund_count = ma.fields.Integer()
    need_count = ma.fields.Integer(metadata={"description": "public needs"})
    needs_by_status = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    raised_fen = ma.fields.Integer()
    spent_fen = ma.fields.Integer()
    donation_count = ma.fields.Integer()
    beneficiary_count = ma.fields.Integer()
    space_count = ma.fields.Integer()
    targets = ma.fields.List(
        ma.fields.Nested(TargetSchema),
        metadata={
            "description": "this year's programme targets (root regions' summed for the platform)"
        },
    )
    monthly = ma.fields.List(
        ma.fields.Nested(MonthSchema),
        metadata={
            "description": f"the last {MONTHS} Beijing months, the current one included,"
            " oldest first; months with nothing are 0"
        },
    )
    as_of = ma.fields.Date(metadata={"description": "the Beijing day the figures are for"})
