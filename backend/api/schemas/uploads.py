"""Schemas of uploads."""

from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload as UploadField

from backend.api.schemas.base import BeijingDateTime
from backend.uploads.models import MediaCheck
from backend.uploads.urls import media_url


class UploadArgsSchema(ma.Schema):
    """`multipart/form-data` with the file in the `file` part."""

    # Not required here: a missing part is a 400 file_missing, not a validation 422.
    file = UploadField(metadata={"description": "JPEG, PNG, WebP or PDF, up to 10 MB"})


class UploadSchema(ma.Schema):
    """A stored file."""

    id = ma.fields.Integer()
    url = ma.fields.Function(
        lambda upload: media_url(upload, upload.storage_key),
        metadata={
            "description": "plain once the file is public; for a private file a signed link "
            "that opens it for an hour"
        },
    )
    thumbnail_url = ma.fields.Function(
        lambda upload: media_url(upload, upload.thumbnail_key) if upload.thumbnail_key else None,
        allow_none=True,
        metadata={"description": "JPEG, at most 480 px on the long side; null for PDFs"},
    )
    content_type = ma.fields.String(
        metadata={"enum": ["image/jpeg", "image/png", "image/webp", "application/pdf"]}
    )
    size = ma.fields.Integer(metadata={"description": "bytes stored (metadata stripped)"})
    width = ma.fields.Integer(allow_none=True)
    height = ma.fields.Integer(allow_none=True)
    media_check = ma.fields.String(
        metadata={
            "enum": [check.value for check in MediaCheck],
            "description": "WeChat's content check: images start pending",
        }
    )
    original_name = ma.fields.String(allow_none=True)
    public = ma.fields.Boolean(
        metadata={"description": "served to anyone (used where the public sees it)"}
    )
    created_at = BeijingDateTime()
