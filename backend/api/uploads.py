"""Uploading images and PDFs, and serving the stored files under `/media/`."""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from flask import Blueprint as FlaskBlueprint
from flask import Response, current_app, request
from werkzeug.datastructures import FileStorage

from backend.api.base import Blueprint
from backend.api.schemas.base import ErrorSchema
from backend.api.schemas.uploads import UploadArgsSchema, UploadSchema
from backend.auth import BEARER, login_required
from backend.common.errors import DomainError, Kind
from backend.extensions import db
from backend.uploads.models import MediaCheck, Upload
from backend.uploads.services import FILE_KINDS, MAX_UPLOAD_BYTES, store_upload, too_large
from backend.uploads.storage import get_storage, is_valid_key, original_stem
from backend.uploads.urls import SIGNATURE_PARAM, link_opens

blp = Blueprint("uploads", __name__, description="上传图片与 PDF")
#: the stored files, outside /api: plain Flask, no OpenAPI document of its own
media = FlaskBlueprint("media", __name__)

#: keys are random and files never change, so caches may keep them for a year
IMMUTABLE = "public, max-age=31536000, immutable"
#: an image WeChat has not yet passed may still be withdrawn: caches must ask again
REVALIDATE = "public, no-cache"
#: a private file, opened by a signed link: kept by no cache, shared or not
PRIVATE = "private, no-store"
#: what a stored file is served as, by its key's extension (chosen from the sniffed type)
SERVED_TYPES = {kind.extension: kind.content_type for kind in FILE_KINDS}
OPAQUE = "application/octet-stream"
EXTENSION_OF_TYPE = {**{v: k for k, v in SERVED_TYPES.items()}, OPAQUE: "bin"}
#: images are shown in the browser; anything else (PDFs: scripts, forms) is downloaded
INLINE_TYPES = frozenset(kind.content_type for kind in FILE_KINDS if kind.pillow_format)
#: a user's file is a sandboxed document: no scripts, plugins, forms or framing
MEDIA_CSP = (
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; sandbox"
)
#: RFC 5987 attr-char beyond letters and digits (quote keeps "_.-~" anyway)
RFC5987_SAFE = "!#$&+^`|"
UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9 ()._-]+")
MAX_STEM_LENGTH = 100


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
        raise DomainError(
            Kind.BAD_REQUEST, "file_missing", "请选择要上传的文件", {"file": ["请选择文件"]}
        )
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
        raise DomainError(Kind.NOT_FOUND, "upload_not_found", "文件不存在")
    return upload


def media_not_found() -> DomainError:
    """The answer for any key that is not served."""
    return DomainError(Kind.NOT_FOUND, "media_not_found", "文件不存在")


def served_type(upload: Upload, key: str) -> str:
    """The type a file is served as: the one sniffed at upload, never one from a file name
    (thumbnails are JPEG); anything unexpected is served as opaque bytes."""
    if key == upload.thumbnail_key:
        return "image/jpeg"
    by_extension = SERVED_TYPES.get(key.rpartition(".")[2])
    return by_extension if by_extension == upload.content_type else OPAQUE


def download_name(upload: Upload, key: str, content_type: str) -> str:
    """The name a browser saves the file under, always with the extension of the type served
    (a name never chooses how a file is opened): for a private download (the fund's team,
    by a signed link) the uploader's, invisible and control characters removed; a public
    file reveals none, since a name like 张三身份证.pdf may say what the redacted copy hides."""
    name = upload.original_name if content_type not in INLINE_TYPES and not upload.public else None
    name = "".join(c for c in name or "" if unicodedata.category(c)[0] != "C")
    stem = name.rpartition(".")[0] if "." in name.strip(".") else name
    stem = stem.strip(" .")[:MAX_STEM_LENGTH] or f"linshan-{upload.id}"
    if key == upload.thumbnail_key:
        stem += "-thumbnail"
    return f"{stem}.{EXTENSION_OF_TYPE[content_type]}"


def ascii_fallback(name: str, upload: Upload) -> str:
    """A plain ASCII `filename` for clients without RFC 5987: accents dropped; a name in
    another script becomes `linshan-<id>`."""
    stem, _, extension = name.rpartition(".")
    decomposed = unicodedata.normalize("NFKD", stem)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = UNSAFE_ASCII.sub("_", plain).strip(" ._") if plain.isascii() else ""
    return f"{plain or f'linshan-{upload.id}'}.{extension}"


def content_disposition(upload: Upload, key: str, content_type: str) -> str:
    """Images inline, anything else (PDFs) as a download, with an ASCII `filename` and the
    original name in `filename*` (RFC 6266 / RFC 5987)."""
    disposition = "inline" if content_type in INLINE_TYPES else "attachment"
    name = download_name(upload, key, content_type)
    fallback = ascii_fallback(name, upload)
    return (
        f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe=RFC5987_SAFE)}"
    )


@media.after_request
def protect_our_origin(response: Response) -> Response:
    """Whatever a user's file holds, nothing in it runs in our origin or is sniffed as HTML."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = MEDIA_CSP
    # The files are fetched without a login (public ones plainly, private ones by a signed
    # link), so other origins, the mini-program's web-view and pages with COEP may embed
    # them; no Referer carries a signed link further.
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def cache_control(upload: Upload) -> str:
    """How long caches may keep a file: a private one not at all; a public one for good once
    WeChat passed it (or it needs no check), else only after asking again."""
    if not upload.public:
        return PRIVATE
    settled = upload.media_check in (MediaCheck.PASS, MediaCheck.NOT_REQUIRED)
    return IMMUTABLE if settled else REVALIDATE


@media.get("/media/<path:key>")
def serve_media(key: str) -> Response:
    """A stored file or thumbnail with its sniffed type: a public one to anyone, a private one
    only through a current signed link (`?sig=`); unknown, withdrawn and unsigned ones 404."""
    if not is_valid_key(key):
        raise media_not_found()
    stem = original_stem(key)
    # Only files of a committed upload are served: not those of a rolled-back request.
    upload = db.session.scalar(
        sa.select(Upload).where(Upload.storage_key.in_([f"{stem}.{ext}" for ext in SERVED_TYPES]))
    )
    if upload is None or key not in (upload.storage_key, upload.thumbnail_key):
        raise media_not_found()
    if upload.media_check == MediaCheck.RISKY:
        raise media_not_found()
    # A private file answers like a missing one: its existence is not to be probed.
    if not upload.public and not link_opens(key, request.args.get(SIGNATURE_PARAM)):
        raise media_not_found()
    try:
        data = get_storage().open(key)
    except FileNotFoundError:
        raise media_not_found() from None
    content_type = served_type(upload, key)
    response = Response(data, mimetype=content_type)
    response.headers["Content-Disposition"] = content_disposition(upload, key, content_type)
    response.headers["Cache-Control"] = cache_control(upload)
    response.add_etag()
    return response.make_conditional(request, accept_ranges=True, complete_length=len(data))
