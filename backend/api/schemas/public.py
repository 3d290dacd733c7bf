"""Schemas of the public endpoints: needs, progress, funds (statistics:
schemas.stats; ledgers: schemas.ledger; spaces: schemas.spaces)."""

from __future__ import annotations

import marshmallow as ma

from backend.api.schemas.base import (
    BeijingDateTime,
    Id,
    PageArgsSchema,
    PageSchema,
    QuerySchema,
    RefSchema,
)
from backend.needs.disclosure import DisclosureState
from backend.needs.models import CATEGORY_LABELS, PUBLIC_STATUSES, NeedCategory
from backend.uploads.urls import media_url

CATEGORY_VALUES = [c.value for c in NeedCategory]
DISCLOSURE_STATE_VALUES = [s.value for s in DisclosureState]
PUBLIC_STATUS_VALUES = [s.value for s in PUBLIC_STATUSES]


class DisclosureSchema(ma.Schema):
    """The need's disclosure duty (信息公开) as of today (Beijing)."""

    state = ma.fields.String(metadata={"enum": DISCLOSURE_STATE_VALUES})
    next_due = ma.fields.Date(
        allow_none=True, metadata={"description": "the last Beijing day to disclose by"}
    )
    last_disclosed_on = ma.fields.Date(allow_none=True)


class NeedItemSchema(ma.Schema):
    """A need as it appears in lists."""

    id = ma.fields.Integer()
    title = ma.fields.String()
    category = ma.fields.String(metadata={"enum": CATEGORY_VALUES})
    category_label = ma.fields.Function(
        lambda need: CATEGORY_LABELS[need.category], metadata={"description": "类别 in Chinese"}
    )
    status = ma.fields.String(metadata={"enum": PUBLIC_STATUS_VALUES})
    region = ma.fields.Nested(RefSchema)
    fund = ma.fields.Nested(RefSchema)
    cover_url = ma.fields.String(allow_none=True)
    goal_fen = ma.fields.Integer()
    raised_fen = ma.fields.Integer()
    donation_count = ma.fields.Integer()
    percent = ma.fields.Integer()
    deadline = ma.fields.Date(allow_none=True)
    published_at = BeijingDateTime()
    disclosure = ma.fields.Nested(DisclosureSchema)
    disclosure_overdue = ma.fields.Function(
        lambda card: card.disclosure.state == DisclosureState.OVERDUE,
        metadata={"description": "past its disclosure deadline (信息公开逾期)"},
    )


class NeedPageSchema(PageSchema):
    """A page of needs."""

    items = ma.fields.Nested(NeedItemSchema, many=True)


class BudgetLineSchema(ma.Schema):
    """One line of a need's budget."""

    item = ma.fields.String()
    amount_fen = ma.fields.Integer()


class UpdateImageSchema(ma.Schema):
    """A photo of a progress update."""

    url = ma.fields.Function(lambda image: media_url(image.upload, image.upload.storage_key))
    thumbnail_url = ma.fields.Function(
        lambda image: (
            media_url(image.upload, image.upload.thumbnail_key)
            if image.upload.thumbnail_key
            else None
        ),
        allow_none=True,
        metadata={"description": "JPEG, at most 480 px on the long side"},
    )


class UpdateSchema(ma.Schema):
    """A progress update, disclosure or final report."""

    id = ma.fields.Integer()
    kind = ma.fields.String(metadata={"enum": ["progress", "disclosure", "final"]})
    text = ma.fields.String()
    images = ma.fields.List(
        ma.fields.Nested(UpdateImageSchema), metadata={"description": "photos, in order"}
    )
    created_at = BeijingDateTime()


class NeedDetailSchema(NeedItemSchema):
    """The whole public page of a need."""

    story = ma.fields.String()
    budget_lines = ma.fields.List(ma.fields.Nested(BudgetLineSchema))
    beneficiary_count = ma.fields.Integer()
    foundation = ma.fields.Function(
        lambda card: {"id": card.fund.foundation.id, "name": card.fund.foundation.name},
        metadata={"description": "the foundation raising the money (募捐主体)"},
    )
    foundation_name = ma.fields.Function(lambda card: card.fund.foundation.name)
    filing_number = ma.fields.String(
        allow_none=True, metadata={"description": "公开募捐备案编号, where there is one"}
    )
    images = ma.fields.Function(lambda card: [image.url for image in card.images])
    updates = ma.fields.List(ma.fields.Nested(UpdateSchema))
    excess_fen = ma.fields.Integer(metadata={"description": "raised beyond the goal"})
    ended_at = BeijingDateTime(allow_none=True)
    close_reason = ma.fields.String(allow_none=True)


class NeedListArgsSchema(PageArgsSchema):
    """Filters of the public need list."""

    region_id = Id(strict=False, metadata={"description": "this region and below"})
    fund_id = Id(strict=False)
    category = ma.fields.String(validate=ma.validate.OneOf(CATEGORY_VALUES))
    status = ma.fields.String(
        validate=ma.validate.OneOf(PUBLIC_STATUS_VALUES),
        metadata={"description": "one of the public statuses"},
    )
    q = ma.fields.String(
        validate=ma.validate.Length(min=1, max=50), metadata={"description": "words in the title"}
    )


class RegionNodeSchema(ma.Schema):
    """A region and, nested, everything below it."""

    id = ma.fields.Integer()
    name = ma.fields.String()
    level = ma.fields.String(metadata={"enum": ["city", "district", "street", "community"]})
    parent_id = ma.fields.Integer(allow_none=True)
    children = ma.fields.List(ma.fields.Nested(lambda: RegionNodeSchema()))


class GovernanceSchema(ma.Schema):
    """Whether the fund's committee and supervisors meet the rules (counts only)."""

    committee_count = ma.fields.Integer()
    supervisor_count = ma.fields.Integer()
    secretary_count = ma.fields.Integer()
    complete = ma.fields.Boolean()
    problems = ma.fields.List(ma.fields.String())


class FundSchema(ma.Schema):
    """A fund's public summary."""

    id = ma.fields.Integer(attribute="fund.id")
    name = ma.fields.String(attribute="fund.name")
    foundation = ma.fields.Nested(RefSchema, attribute="fund.foundation")
    region = ma.fields.Nested(RefSchema, attribute="fund.region")
    committee_threshold_fen = ma.fields.Integer(attribute="fund.committee_threshold_fen")
    public_fundraising = ma.fields.Boolean(attribute="fund.public_fundraising")
    established_on = ma.fields.Date(attribute="fund.established_on", allow_none=True)
    balance_fen = ma.fields.Integer()
    raised_fen = ma.fields.Integer()
    spent_fen = ma.fields.Integer()
    need_count = ma.fields.Integer()
    overdue_disclosure_count = ma.fields.Integer(
        metadata={"description": "public needs past their disclosure deadline (信息公开逾期)"}
    )
    governance = ma.fields.Nested(GovernanceSchema)


class RegionArgsSchema(QuerySchema):
    """`?region_id=`: a region and everything below it."""

    region_id = Id(strict=False)


class ProgressSchema(ma.Schema):
    """A need's live progress; `stale` is true when Redis could not be read."""

    need_id = ma.fields.Integer()
    goal_fen = ma.fields.Integer()
    raised_fen = ma.fields.Integer()
    donation_count = ma.fields.Integer()
    percent = ma.fields.Integer()
    excess_fen = ma.fields.Integer()
    updated_at = BeijingDateTime(allow_none=True)
    stale = ma.fields.Boolean()
