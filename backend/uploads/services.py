"""Storing uploads: type from the content, metadata stripped, thumbnails, WeChat's media check."""

from __future__ import annotations

import hashlib
import io
import logging
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import requests
import sqlalchemy as sa
from PIL import Image, ImageOps
from wechatpy.exceptions import WeChatClientException

from backend.accounts.models import User
from backend.common.errors import DomainError, Kind
from backend.common.text import CONTROL_CHARACTERS
from backend.extensions import db
from backend.uploads.models import MediaCheck, Upload
from backend.uploads.storage import get_storage, new_key, thumbnail_key
from backend.uploads.urls import signed_url
from backend.wechat.client import get_wechat
from backend.wechat.content import wechat_unavailable

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: more pixels than any phone camera takes; beyond this decoding alone costs too much memory
MAX_IMAGE_PIXELS = 40_000_000
THUMBNAIL_MAX_SIDE = 480
JPEG_QUALITY = 90
THUMBNAIL_QUALITY = 85
#: a PDF's `%%EOF` must lie within this many bytes of its end (Acrobat's own tolerance)
PDF_EOF_WINDOW = 1024
MAX_NAME_LENGTH = 255
#: scene 1 of mediaCheckAsync version 2: content a user puts in their own data
MEDIA_CHECK_SCENE = 1
#: PostgreSQL advisory lock ordering media-check requests before their verdict events
MEDIA_CHECK_LOCK = zlib.crc32(b"linshan:media_check")

#: the verdict in `result.suggest` of a wxa_media_check event
SUGGEST_TO_CHECK = {
    "pass": MediaCheck.PASS,
    "risky": MediaCheck.RISKY,
    "review": MediaCheck.REVIEW,
}


@dataclass(frozen=True)
class FileKind:
    """An accepted type: its MIME type, stored extension and Pillow format (None for PDF)."""

    content_type: str
    extension: str
    pillow_format: str | None


JPEG = FileKind("image/jpeg", "jpg", "JPEG")
PNG = FileKind("image/png", "png", "PNG")
WEBP = FileKind("image/webp", "webp", "WEBP")
PDF = FileKind("application/pdf", "pdf", None)
#: every accepted type
FILE_KINDS = (JPEG, PNG, WEBP, PDF)


@dataclass(frozen=True)
class Prepared:
    """What will be stored for an accepted file."""

    kind: FileKind
    data: bytes
    thumbnail: bytes | None = None
    width: int | None = None
    height: int | None = None


def too_large() -> DomainError:
    """The error for a file over the limit."""
    return DomainError(Kind.TOO_LARGE, "file_too_large", "文件不能超过 10 MB")


def sniff(data: bytes) -> FileKind | None:
    """The accepted type the content's magic bytes show, whatever the file is called."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data.startswith(b"%PDF-"):
        return PDF
    return None


def clean_name(filename: str | None) -> str | None:
    """The device's file name without folders or control characters, for people to read."""
    if not filename:
        return None
    # Some browsers send a whole Windows path ("C:\\fakepath\\photo.jpg").
    name = CONTROL_CHARACTERS.sub("", re.split(r"[\\/]", filename)[-1]).strip()
    return name[:MAX_NAME_LENGTH] or None


def unreadable() -> DomainError:
    """The error for a file of an accepted type that cannot be read."""
    return DomainError(Kind.INVALID, "file_unreadable", "文件已损坏或无法读取，请重新选择")


def too_many_pixels() -> DomainError:
    """The error for an image whose pixel count would exhaust memory when decoded."""
    return DomainError(Kind.INVALID, "image_too_large", "图片尺寸过大，请缩小后再上传")


def check_pdf(data: bytes) -> None:
    """A PDF must end with `%%EOF`: a truncated transfer does not."""
    if b"%%EOF" not in data[-PDF_EOF_WINDOW:]:
        raise unreadable()


def decode_image(data: bytes, kind: FileKind) -> Image.Image:
    """Open as exactly `kind` and decode every pixel; bombs and corrupt files are 422s."""
    assert kind.pillow_format is not None
    try:
        image = Image.open(io.BytesIO(data), formats=[kind.pillow_format])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # The warning arrives as an exception where warnings are errors (the tests).
        raise too_many_pixels() from None
    except Exception:  # Pillow raises many kinds for malformed headers
        raise unreadable() from None
    # Checked on the header, before load() allocates the pixels.
    if image.width * image.height > MAX_IMAGE_PIXELS:
        raise too_many_pixels()
    try:
        image.load()
    except Exception:  # truncated or corrupt data: OSError, SyntaxError, struct.error...
        raise unreadable() from None
    return image


def upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says, since the EXIF is about to go."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block must not refuse an otherwise good photo
        log.info("ignoring an unreadable EXIF orientation")
        return image.copy()


def strip_metadata(image: Image.Image) -> None:
    """Drop EXIF (GPS), XMP, text chunks and comments from the image's info, in place."""
    # Only transparency affects how the pixels look; everything else may identify people.
    image.info = {k: v for k, v in image.info.items() if k == "transparency"}


def encode(image: Image.Image, kind: FileKind, icc_profile: bytes | None, lossless: bool) -> bytes:
    """Re-encode in the original format; save() writes only the metadata passed to it."""
    out = io.BytesIO()
    if kind is JPEG:
        image.save(out, "JPEG", quality=JPEG_QUALITY, icc_profile=icc_profile)
    elif kind is PNG:
        image.save(out, "PNG", icc_profile=icc_profile)
    else:
        image.save(out, "WEBP", quality=JPEG_QUALITY, lossless=lossless, icc_profile=icc_profile)
    return out.getvalue()


def flatten(image: Image.Image) -> Image.Image:
    """RGB for JPEG: transparent parts on white (as the mini-program's pages are)."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if not has_alpha:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def make_thumbnail(image: Image.Image, icc_profile: bytes | None) -> bytes:
    """A JPEG at most THUMBNAIL_MAX_SIDE pixels on its long side (never enlarged)."""
    source = image
    if source.mode in ("1", "P"):
        # resize() falls back to nearest-neighbour for these modes: jagged thumbnails.
        source = source.convert("RGBA")
    width, height = source.size
    scale = min(1.0, THUMBNAIL_MAX_SIDE / max(width, height))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    rgb = flatten(source.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0))
    # An RGB profile still describes the converted pixels; a CMYK one no longer does.
    keep_icc = icc_profile if image.mode in ("RGB", "RGBA") else None
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=THUMBNAIL_QUALITY, icc_profile=keep_icc)
    return out.getvalue()


def prepare_image(data: bytes, kind: FileKind) -> Prepared:
    """Decode, turn upright, strip metadata, re-encode and make the thumbnail."""
    # upright() returns a new image, so the decoded one is freed at once (large photos).
    image = upright(decode_image(data, kind))
    icc_profile = image.info.get("icc_profile")
    strip_metadata(image)
    # A lossless WebP (VP8L chunk) stays lossless: re-encoding must not blur a screenshot.
    lossless = kind is WEBP and data[12:16] == b"VP8L"
    return Prepared(
        kind=kind,
        data=encode(image, kind, icc_profile, lossless),
        thumbnail=make_thumbnail(image, icc_profile),
        width=image.width,
        height=image.height,
    )


def prepare(data: bytes) -> Prepared:
    """Check size and type, then make the bytes to store; every refusal is a 4xx."""
    if not data:
        raise DomainError(Kind.BAD_REQUEST, "file_empty", "文件为空，请重新选择")
    if len(data) > MAX_UPLOAD_BYTES:
        raise too_large()
    kind = sniff(data)
    if kind is None:
        raise DomainError(
            Kind.UNSUPPORTED, "unsupported_file_type", "只支持 JPEG、PNG、WebP 图片和 PDF 文件"
        )
    if kind is PDF:
        check_pdf(data)
        return Prepared(kind=kind, data=data)
    return prepare_image(data, kind)


def hold_media_check_lock() -> None:
    """Share the media-check lock until this transaction ends (see `record_media_check`)."""
    db.session.execute(sa.select(sa.func.pg_advisory_xact_lock_shared(MEDIA_CHECK_LOCK)))


def request_media_check(owner: User, media_url: str) -> str:
    """Ask WeChat to check an image asynchronously; its trace_id identifies the verdict."""
    # Taken before WeChat knows the trace_id, so its verdict cannot slip past our commit.
    hold_media_check_lock()
    try:
        answer = get_wechat().wxa.media_check_async_v2(
            media_url, openid=owner.openid or "", scene=MEDIA_CHECK_SCENE
        )
    except WeChatClientException as exc:
        raise wechat_unavailable(exc) from None
    except requests.RequestException as exc:
        log.error("WeChat media check unreachable: %s", exc)
        raise DomainError(
            Kind.UPSTREAM, "wechat_unavailable", "微信服务暂时不可用，请稍后再试"
        ) from None
    return str(answer["trace_id"])


def store_upload(owner: User, filename: str | None, data: bytes) -> Upload:
    """Check, clean and store a file; images are sent to WeChat's media check."""
    prepared = prepare(data)
    storage = get_storage()
    key = new_key(prepared.kind.extension)
    thumb_key = thumbnail_key(key) if prepared.thumbnail is not None else None
    written: list[str] = []
    try:
        storage.save(key, prepared.data, prepared.kind.content_type)
        written.append(key)
        if thumb_key is not None and prepared.thumbnail is not None:
            storage.save(thumb_key, prepared.thumbnail, JPEG.content_type)
            written.append(thumb_key)
        trace_id = None
        if prepared.kind is not PDF:
            # A new upload is private: WeChat fetches it through a signed link.
            trace_id = request_media_check(owner, signed_url(key))
    except BaseException:
        # A refused upload leaves nothing behind.
        for done in written:
            storage.delete(done)
        raise
    upload = Upload(
        owner_id=owner.id,
        content_type=prepared.kind.content_type,
        size=len(prepared.data),
        sha256=hashlib.sha256(prepared.data).hexdigest(),
        storage_key=key,
        thumbnail_key=thumb_key,
        width=prepared.width,
        height=prepared.height,
        original_name=clean_name(filename),
        media_check=MediaCheck.NOT_REQUIRED if trace_id is None else MediaCheck.PENDING,
        media_trace_id=trace_id,
    )
    db.session.add(upload)
    db.session.flush()
    log.info("upload %s stored: %s, %s bytes", upload.id, upload.content_type, upload.size)
    return upload


def upload_by_trace(trace_id: str) -> Upload | None:
    """The upload whose media check has this trace_id."""
    return db.session.scalar(sa.select(Upload).where(Upload.media_trace_id == trace_id))


def record_media_check(trace_id: str, check: MediaCheck) -> Upload | None:
    """Set an upload's media check from WeChat's verdict; None when the trace_id is unknown."""
    upload = upload_by_trace(trace_id)
    if upload is None:
        # The verdict can overtake the commit of the request that asked for it. That request
        # holds the lock shared from before it called WeChat until it commits: waiting for
        # the lock exclusively means any such upload is committed, and visible, afterwards.
        db.session.execute(sa.text("SET LOCAL lock_timeout = '10s'"))
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(MEDIA_CHECK_LOCK)))
        upload = upload_by_trace(trace_id)
    if upload is None:
        return None
    if upload.media_check != check:
        log.info("upload %s: media check %s -> %s", upload.id, upload.media_check, check)
        upload.media_check = check
        db.session.flush()
    return upload


def usable_uploads(
    actor: User,
    upload_ids: Sequence[int],
    field: str,
    *,
    images_only: bool = False,
    error: str | None = None,
) -> list[Upload]:
    """The uploads named, in order: files `actor` uploaded that WeChat did not flag (and
    images only when `images_only`); a 422 `error` (`invalid_<field>` by default) naming
    `field` otherwise."""
    if not upload_ids:
        return []
    error = error or f"invalid_{field}"
    what = "图片" if images_only else "文件"
    if len(set(upload_ids)) != len(upload_ids):
        raise DomainError(Kind.INVALID, error, f"{what}重复", {field: [f"{what}重复"]})
    uploads = {
        u.id: u for u in db.session.scalars(sa.select(Upload).where(Upload.id.in_(upload_ids)))
    }
    bad = [
        i
        for i in upload_ids
        if i not in uploads
        or uploads[i].owner_id != actor.id
        or (images_only and not uploads[i].content_type.startswith("image/"))
        or uploads[i].media_check in (MediaCheck.RISKY, MediaCheck.REVIEW)
    ]
    if bad:
        raise DomainError(
            Kind.INVALID,
            error,
            f"{what}不存在、不是您上传的或未通过内容安全检测",
            {field: [f"不可用：{'、'.join(map(str, bad))}"]},
        )
    return [uploads[i] for i in upload_ids]


def publish_uploads(uploads: Iterable[Upload]) -> None:
    """Serve these files to anyone from now on (they are shown where the public looks)."""
    for upload in uploads:
        upload.public = True
