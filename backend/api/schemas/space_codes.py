"""Schemas of a charity space's codes and posters: the query arguments, and the binary
answers as the OpenAPI document describes them."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from backend.api.schemas.base import Id, QuerySchema
from backend.spaces.poster import PosterFormat


class SpaceCodeArgsSchema(QuerySchema):
    """`?need_id=`: the code of one of the space's needs instead of the space's own."""

    need_id = Id(strict=False, metadata={"description": "a public need of the space's fund"})


class PosterArgsSchema(SpaceCodeArgsSchema):
    """`?format=png|pdf&need_id=`."""

    format = ma.fields.String(
        load_default=PosterFormat.PNG.value,
        validate=ma.validate.OneOf([f.value for f in PosterFormat]),
        metadata={"description": "png (A4 at 150 dpi, 1240×1754) or pdf (A4)"},
    )


def binary_doc(description: str, *media_types: str) -> dict[str, Any]:
    """The `responses` of an operation answering a file of one of `media_types`."""
    content = {media: {"schema": {"type": "string", "format": "binary"}} for media in media_types}
    return {"200": {"description": description, "content": content}}


CODE_DOC = binary_doc("the mini-program code (PNG): scene s=<code> or s=<code>&n=<need id>",
                      "image/png")  # fmt: skip
WEB_QR_DOC = binary_doc("a plain QR code (PNG) of the public web page", "image/png")
POSTER_DOC = binary_doc("the A4 poster, PNG or PDF as asked", "image/png", "application/pdf")
