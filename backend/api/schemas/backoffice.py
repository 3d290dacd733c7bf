"""Schemas of the back-office endpoints."""

from __future__ import annotations

import marshmallow as ma

from backend.api.schemas.base import (
    BeijingDateTime,
    Id,
    PageArgsSchema,
    PageSchema,
    RefSchema,
    one_line,
    plain_text,
)
from backend.api.schemas.public import (
    CATEGORY_VALUES,
    DISCLOSURE_STATE_VALUES,
    BudgetLineSchema,
    GovernanceSchema,
    UpdateSchema,
)
from backend.needs.backoffice import changes_since_submission
from backend.needs.models import NeedStatus


class BudgetLineInputSchema(ma.Schema):
    """One budget line: what the money buys and how much."""

    item = ma.fields.String(required=True, validate=[ma.validate.Length(min=1, max=50), one_line])
    amount_fen = ma.fields.Integer(
        required=True, strict=True, validate=ma.validate.Range(min=1, max=100_000_000)
    )


class NeedInputSchema(ma.Schema):
    """A need as the secretary writes it (amounts in integer fen)."""

    title = ma.fields.String(required=True, validate=[ma.validate.Length(min=2, max=30), one_line])
    category = ma.fields.String(required=True, validate=ma.validate.OneOf(CATEGORY_VALUES))
    story = ma.fields.String(
        required=True, validate=[ma.validate.Length(min=20, max=2000), plain_text]
    )
    goal_fen = ma.fields.Integer(
        required=True, strict=True, validate=ma.validate.Range(min=100, max=100_000_000)
    )
    deadline = ma.fields.Date(allow_none=True, load_default=None)
    beneficiary_count = ma.fields.Integer(
        strict=True, load_default=0, validate=ma.validate.Range(min=0, max=1_000_000)
    )
    budget_lines = ma.fields.List(
        ma.fields.Nested(BudgetLineInputSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=20),
    )
    image_ids = ma.fields.List(Id(), load_default=list, validate=ma.validate.Length(max=9))


class NeedPatchSchema(NeedInputSchema):
    """Any fields of a need to change (use with `partial=True`: no defaults filled in)."""


class ReasonSchema(ma.Schema):
    """A reason the public or the secretary will read."""

    reason = ma.fields.String(
        required=True, validate=[ma.validate.Length(min=4, max=500), plain_text]
    )


class PublishSchema(ma.Schema):
    """Publication: the version reviewed, and the filing number where the fund raises
    publicly."""

    filing_number = ma.fields.String(
        load_default=None, validate=[ma.validate.Length(min=4, max=64), one_line]
    )
    version = ma.fields.Integer(
        required=True,
        strict=True,
        validate=ma.validate.Range(min=1),
        metadata={"description": "the need's `version` the admin reviewed; another is a 409"},
    )


class ProgressInputSchema(ma.Schema):
    """A progress update, periodic disclosure or final report."""

    text = ma.fields.String(
        required=True, validate=[ma.validate.Length(min=10, max=2000), plain_text]
    )
    kind = ma.fields.String(
        load_default="progress", validate=ma.validate.OneOf(["progress", "disclosure", "final"])
    )
    attachment_ids = ma.fields.List(
        Id(),
        load_default=list,
        validate=ma.validate.Length(max=9),
        metadata={"description": "photos (images you uploaded), in order; public once posted"},
    )


class BackOfficeNeedDetailSchema(ma.Schema):
    """Everything about a need, for the fund's team (drafts included)."""

    id = ma.fields.Integer()
    fund = ma.fields.Nested(RefSchema)
    region = ma.fields.Nested(RefSchema)
    title = ma.fields.String()
    category = ma.fields.String()
    story = ma.fields.String()
    status = ma.fields.String()
    goal_fen = ma.fields.Integer()
    deadline = ma.fields.Date(allow_none=True)
    beneficiary_count = ma.fields.Integer()
    filing_number = ma.fields.String(allow_none=True)
    cover_url = ma.fields.String(allow_none=True)
    budget_lines = ma.fields.List(ma.fields.Nested(BudgetLineSchema))
    images = ma.fields.Function(
        lambda need: [{"upload_id": i.upload_id, "url": i.url} for i in need.images]
    )
    updates = ma.fields.List(ma.fields.Nested(UpdateSchema))
    created_at = BeijingDateTime()
    updated_at = BeijingDateTime()
    published_at = BeijingDateTime(allow_none=True)
    ended_at = BeijingDateTime(allow_none=True)
    close_reason = ma.fields.String(allow_none=True)
    version = ma.fields.Integer(
        metadata={"description": "bumped by every edit; publishing names the version reviewed"}
    )
    changes_since_submission = ma.fields.Function(
        changes_since_submission,
        allow_none=True,
        metadata={
            "description": "{field: [at the previous submission, now]}; null when the need "
            "was not submitted before"
        },
    )


class FundPatchSchema(ma.Schema):
    """Fund settings the foundation admin may change."""

    committee_threshold_fen = ma.fields.Integer(
        strict=True, validate=ma.validate.Range(min=0, max=1_000_000_000)
    )
    public_fundraising = ma.fields.Boolean()


class GrantOutSchema(ma.Schema):
    """A fund role held by a user."""

    id = ma.fields.Integer()
    role = ma.fields.String()
    user = ma.fields.Function(lambda g: {"id": g.user.id, "nickname": g.user.nickname})
    created_at = BeijingDateTime()


class FundRolesSchema(PageSchema):
    """A page of the fund's people, and whether they meet the rules."""

    items = ma.fields.List(ma.fields.Nested(GrantOutSchema))
    governance = ma.fields.Nested(GovernanceSchema)


class GrantInputSchema(ma.Schema):
    """Appoint a user to a fund role."""

    user_id = Id(required=True)
    role = ma.fields.String(
        required=True, validate=ma.validate.OneOf(["secretary", "committee", "supervisor"])
    )


class AuditEventSchema(ma.Schema):
    """One recorded action."""

    id = ma.fields.Integer()
    created_at = BeijingDateTime()
    actor_id = ma.fields.Integer(allow_none=True)
    action = ma.fields.String()
    object_type = ma.fields.String()
    object_id = ma.fields.Integer(allow_none=True)
    changes = ma.fields.Dict()
    reason = ma.fields.String(allow_none=True)
    ip_address = ma.fields.String(allow_none=True)
    request_id = ma.fields.String(allow_none=True)


class AuditPageSchema(PageSchema):
    """A page of the audit log, newest first."""

    items = ma.fields.List(ma.fields.Nested(AuditEventSchema))


NEED_STATUS_VALUES = [s.value for s in NeedStatus]


class FundNeedsArgsSchema(PageArgsSchema):
    """`?status=` of a fund's need list."""

    status = ma.fields.String(validate=ma.validate.OneOf(NEED_STATUS_VALUES))


class BackOfficeNeedSchema(ma.Schema):
    """A need as the fund's team sees it, drafts included."""

    id = ma.fields.Integer()
    title = ma.fields.String()
    category = ma.fields.String()
    status = ma.fields.String()
    region = ma.fields.Nested(RefSchema)
    goal_fen = ma.fields.Integer()
    deadline = ma.fields.Date(allow_none=True)
    filing_number = ma.fields.String(allow_none=True)
    created_at = BeijingDateTime()
    updated_at = BeijingDateTime()
    published_at = BeijingDateTime(allow_none=True)


class BackOfficeNeedPageSchema(PageSchema):
    """A page of the fund's needs, drafts included."""

    items = ma.fields.List(ma.fields.Nested(BackOfficeNeedSchema))


class DisclosureDutiesArgsSchema(PageArgsSchema):
    """`?state=` of the fund's disclosure list (overdue and due soon when absent)."""

    state = ma.fields.String(
        validate=ma.validate.OneOf(DISCLOSURE_STATE_VALUES),
        metadata={"description": "only needs in this state; overdue and due_soon by default"},
    )


class DisclosureDutySchema(ma.Schema):
    """A public need and how it stands with its disclosure duty (信息公开)."""

    need_id = ma.fields.Integer(attribute="need.id")
    title = ma.fields.String(attribute="need.title")
    status = ma.fields.String(attribute="need.status", metadata={"enum": NEED_STATUS_VALUES})
    state = ma.fields.String(
        attribute="disclosure.state", metadata={"enum": DISCLOSURE_STATE_VALUES}
    )
    next_due = ma.fields.Date(
        attribute="disclosure.next_due",
        allow_none=True,
        metadata={"description": "the last Beijing day to disclose by"},
    )
    last_disclosed_on = ma.fields.Date(attribute="disclosure.last_disclosed_on", allow_none=True)
    days_overdue = ma.fields.Integer(
        metadata={"description": "Beijing days past next_due; 0 if not overdue"}
    )


class DisclosureDutyPageSchema(PageSchema):
    """A page of the fund's disclosure duties, most urgent first (earliest deadline)."""

    items = ma.fields.List(ma.fields.Nested(DisclosureDutySchema))
