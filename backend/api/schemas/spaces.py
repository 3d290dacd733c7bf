"""Schemas of charity spaces: the public list and scan page, and the back office's edits."""

from __future__ import annotations

import marshmallow as ma

from backend.api.schemas.base import Id, PageArgsSchema, PageSchema, RefSchema, one_line, plain_text
from backend.api.schemas.public import NeedItemSchema, RegionArgsSchema
from backend.spaces.backoffice import MAX_SHOWN_NEEDS
from backend.uploads.urls import media_url


class SpaceListArgsSchema(RegionArgsSchema, PageArgsSchema):
    """Filters and paging of the space list."""

    fund_id = Id(strict=False, metadata={"description": "only the spaces of this fund"})


class SpaceSchema(ma.Schema):
    """A charity space."""

    code = ma.fields.String(metadata={"description": "the code on its QR codes and posters"})
    name = ma.fields.String()
    address = ma.fields.String()
    opening_hours = ma.fields.String(allow_none=True)
    description = ma.fields.String(allow_none=True)
    photo_url = ma.fields.Function(
        lambda space: media_url(space.photo, space.photo.storage_key) if space.photo else None,
        metadata={"type": "string", "nullable": True, "description": "a photo of the place"},
    )
    region = ma.fields.Nested(RefSchema)
    fund = ma.fields.Nested(RefSchema)


class SpacePageSchema(PageSchema):
    """A page of spaces."""

    items = ma.fields.List(ma.fields.Nested(SpaceSchema))


class SpaceFiguresSchema(ma.Schema):
    """What donations started from the space's codes brought in (refunds subtracted)."""

    donation_count = ma.fields.Integer()
    raised_fen = ma.fields.Integer()
    donor_count = ma.fields.Integer()


class DistrictRankSchema(ma.Schema):
    """The space's place among its district's spaces by money raised (1 = most)."""

    district = ma.fields.Nested(RefSchema)
    rank = ma.fields.Integer()
    of = ma.fields.Integer(metadata={"description": "how many spaces the district has"})


class SpaceDetailSchema(SpaceSchema):
    """A space with the needs it shows, its figures and its place in its district."""

    needs = ma.fields.Nested(NeedItemSchema, many=True)
    needs_chosen = ma.fields.Boolean(
        metadata={"description": "the space chose these needs (else: its fund's open needs)"}
    )
    photo_upload_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "the upload shown as its photo (to keep it)"}
    )
    figures = ma.fields.Nested(SpaceFiguresSchema)
    district_rank = ma.fields.Nested(DistrictRankSchema, allow_none=True)


class SpaceInputSchema(ma.Schema):
    """A space as a secretary or the foundation admin describes it."""

    fund_id = Id(required=True)
    code = ma.fields.String(
        validate=ma.validate.Regexp(
            r"^[a-z0-9][a-z0-9-]{1,15}$", error="编码为 2–16 位小写字母、数字或连字符"
        ),
        metadata={"description": "chosen code (never changes); generated when absent"},
    )
    name = ma.fields.String(required=True, validate=[ma.validate.Length(min=2, max=64), one_line])
    region_id = Id(required=True)
    address = ma.fields.String(
        required=True, validate=[ma.validate.Length(min=2, max=200), one_line]
    )
    opening_hours = ma.fields.String(
        allow_none=True, validate=[ma.validate.Length(max=100), one_line]
    )
    description = ma.fields.String(
        allow_none=True, validate=[ma.validate.Length(max=1000), plain_text]
    )
    photo_upload_id = Id(allow_none=True)
    need_ids = ma.fields.List(
        Id(),
        validate=ma.validate.Length(max=MAX_SHOWN_NEEDS),
        metadata={"description": "the needs shown, in order; empty: the fund's open needs"},
    )


class SpacePatchSchema(SpaceInputSchema):
    """Fields of a space to change (the code and the fund never change)."""

    class Meta:
        exclude = ("fund_id", "code")
