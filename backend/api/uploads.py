"""Uploading images and PDFs, and serving the stored files under `/media/`."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import Blueprint as FlaskBlueprint
from flask import Response, current_app, request
from flask_smorest import Blueprint
from flask_smorest.fields import Upload as UploadField
from werkzeug.datastructures import FileStorage

from backend.api.base import ErrorSchema
from backend.api.schemas import BeijingDateTime
from backend.auth import BEARER, login_required
from backend.errors import ApiError
from backend.extensions import db
from backend.uploads.models import MediaCheck, Upload
from backend.uploads.services import MAX_UPLOAD_BYTES, store_upload, too_large
from backend.uploads.storage import get_storage, is_valid_key, original_stem

blp = Blueprint("uploads", __name__, description="上传图片与 PDF")
#: the stored files, outside /api: plain Flask, no OpenAPI document of its own
media = FlaskBlueprint("media", __name__)

EXTENSIONS = ("jpg", "png", "webp", "pdf")
#: keys are random and files never change, so caches may keep them for a year
IMMUTABLE = "public, max-age=31536000, immutable"
#: an image WeChat has not yet passed may still be withdrawn: caches must ask again
REVALIDATE = "public, no-cache"


class UploadArgsSchema(ma.Schema):
    """`multipart/form-data` with the file in the `file` part."""

    # Not required here: a missing part is a 400 file_missing, not a validation 422.
    file = UploadField(metadata={"description": "JPEG, PNG, WebP or PDF, up to 10 MB"})


class UploadSchema(ma.Schema):
    """A stored file."""

    id = ma.fields.Integer()
    url = ma.fields.Function(lambda upload: get_storage().url(upload.storage_key))
    thumbnail_url = ma.fields.Function(
        lambda upload: get_storage().url(upload.thumbnail_key) if upload.thumbnail_key else None,
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
    created_at = BeijingDateTime()


@blp.before_request
def refuse_oversized_body() -> None:
    """Answer an announced oversized body with the same error as a 10-12 MB file."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if request.method == "POST" and limit and (request.content_length or 0) > limit:
        raise too_large()


@blp.post("/uploads")
@blp.arguments(UploadArgsSchema, location="files")
@blp.response(201, UploadSchema)
@blp.alt_response(400, schema=ErrorSchema, description="file_missing, file_empty")
@blp.alt_response(413, schema=ErrorSchema, description="file_too_large")
@blp.alt_response(415, schema=ErrorSchema, description="unsupported_file_type")
@blp.alt_response(422, schema=ErrorSchema, description="file_unreadable, image_too_large")
@blp.doc(security=BEARER)
def post_upload(args: dict[str, Any]) -> Upload:
    """Upload an image (JPEG, PNG, WebP) or a PDF; the type is read from the content."""
    owner = login_required()
    file: FileStorage | None = args.get("file")
    if file is None:
        raise ApiError(400, "file_missing", "请选择要上传的文件", {"file": ["missing"]})
    # One byte past the limit is enough to know it is too large.
    data = file.stream.read(MAX_UPLOAD_BYTES + 1)
    return store_upload(owner, file.filename, data)


@blp.get("/uploads/<int:upload_id>")
@blp.response(200, UploadSchema)
@blp.doc(security=BEARER)
def get_upload(upload_id: int) -> Upload:
    """One of the caller's own uploads, with its media check."""
    user = login_required()
    upload = db.session.get(Upload, upload_id)
    # Someone else's upload answers like a missing one: ids are not to be probed.
    if upload is None or upload.owner_id != user.id:
        raise ApiError(404, "upload_not_found", "文件不存在")
    return upload


def media_not_found() -> ApiError:
    """The answer for any key that is not served."""
    return ApiError(404, "media_not_found", "文件不存在")


@media.get("/media/<path:key>")
def serve_media(key: str) -> Response:
    """A stored file or thumbnail, with its stored type; unknown and withdrawn ones 404."""
    if not is_valid_key(key):
        raise media_not_found()
    stem = original_stem(key)
    # Only files of a committed upload are served: not those of a rolled-back request.
    upload = db.session.scalar(
        sa.select(Upload).where(Upload.storage_key.in_([f"{stem}.{ext}" for ext in EXTENSIONS]))
    )
    if upload is None or key not in (upload.storage_key, upload.thumbnail_key):
        raise media_not_found()
    if upload.media_check == MediaCheck.RISKY:
        raise media_not_found()
    try:
        data = get_storage().open(key)
    except FileNotFoundError:
        raise media_not_found() from None
    content_type = upload.content_type if key == upload.storage_key else "image/jpeg"
    response = Response(data, mimetype=content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    settled = upload.media_check in (MediaCheck.PASS, MediaCheck.NOT_REQUIRED)
    response.headers["Cache-Control"] = IMMUTABLE if settled else REVALIDATE
    response.add_etag()
    return response.make_conditional(request, accept_ranges=True, complete_length=len(data))
