"""Uploads in an S3-compatible object store (Tencent COS in production, any S3 API).

Every node of a deployment reads and writes the same bucket, so a file uploaded through
one node is served by any other. Objects are written private. The app's `/media/` route
serves them exactly as it serves the local folder (streaming from the bucket: the sniffed
type, `nosniff`, the sandboxing CSP, PDFs as attachments, private files only through a
current signed link). With `S3_PUBLIC_BASE_URL` (a CDN or the bucket's own URL), the URLs
of published files point there instead, and a published upload's objects are made
`public-read` once the transaction that published it has committed; a published image
WeChat later flags is made private again. Evidence is thus never readable from the bucket
before it is published.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import click
import sqlalchemy as sa
from flask import current_app, has_app_context
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from backend.uploads.storage import is_valid_key

if TYPE_CHECKING:
    from backend.config import StorageSettings

log = logging.getLogger(__name__)

#: images are shown inline, PDFs (scripts, forms) are downloaded, as `/media/` serves them
ATTACHMENT_TYPES = frozenset({"application/pdf"})
#: what a CDN may do with a public object: keep it, asking again (a flagged image goes)
OBJECT_CACHE_CONTROL = "public, no-cache"
#: session.info keys: object keys to make public / private once the transaction commits
_PUBLISH = "linshan.s3_publish"
_WITHDRAW = "linshan.s3_withdraw"
#: connection and read timeouts (seconds) and retries of a call to the object store
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 30
MAX_ATTEMPTS = 3


def object_headers(key: str, content_type: str) -> dict[str, str]:
    """The headers an object is stored with, so that whoever serves it from the bucket
    sends the sniffed type, and a PDF as a download."""
    disposition = "attachment" if content_type in ATTACHMENT_TYPES else "inline"
    name = key.rpartition("/")[2]
    return {
        "ContentType": content_type,
        "ContentDisposition": f'{disposition}; filename="{name}"',
        "CacheControl": OBJECT_CACHE_CONTROL,
    }


class S3Storage:
    """Files as objects of one bucket, reached with boto3 (thread-safe client)."""

    def __init__(
        self, client: Any, bucket: str, media_base_url: str, public_base_url: str | None
    ) -> None:
        """`media_base_url`: the app's `/media/`; `public_base_url`: where published objects
        are read directly (None: through the app too)."""
        self.client = client
        self.bucket = bucket
        self.media_base_url = media_base_url.rstrip("/")
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None

    @staticmethod
    def _checked(key: str) -> str:
        if not is_valid_key(key):
            raise ValueError(f"invalid storage key {key!r}")
        return key

    def save(self, key: str, data: bytes, content_type: str) -> None:
        """One PUT: an object appears whole or not at all."""
        self.client.put_object(
            Bucket=self.bucket,
            Key=self._checked(key),
            Body=data,
            ACL="private",
            **object_headers(key, content_type),
        )

    def open(self, key: str) -> bytes:
        """The object's bytes; FileNotFoundError when there is none."""
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._checked(key))
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(key) from None
        with answer["Body"] as body:
            return body.read()

    def exists(self, key: str) -> bool:
        """Whether the object is there (a HEAD)."""
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._checked(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        """Remove the object (S3 answers a missing key like a removed one)."""
        self.client.delete_object(Bucket=self.bucket, Key=self._checked(key))

    def url(self, key: str) -> str:
        """A published file's URL: under `S3_PUBLIC_BASE_URL` when set, else the app's."""
        return f"{self.public_base_url or self.media_base_url}/{key}"

    def link_url(self, key: str) -> str:
        """The app's `/media/` URL of `key`, which signed links are made on."""
        return f"{self.media_base_url}/{key}"

    def set_public(self, keys: Iterable[str], public: bool) -> None:
        """Let anyone read these objects from the bucket, or no longer."""
        acl = "public-read" if public else "private"
        for key in keys:
            self.client.put_object_acl(Bucket=self.bucket, Key=self._checked(key), ACL=acl)


def make_client(settings: StorageSettings) -> Any:
    """A boto3 S3 client for the configured endpoint, region and keys."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
        signature_version="s3v4",
        # COS and most S3 services accept both; virtual-hosted is the one AWS keeps.
        s3={"addressing_style": settings.s3_addressing_style},
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=settings.s3_secret_access_key,
        config=config,
    )


def _upload_keys(upload: Any) -> list[str]:
    return [k for k in (upload.storage_key, upload.thumbnail_key) if k]


def _watching() -> S3Storage | None:
    """The current app's storage when published objects must be made public-read."""
    if not has_app_context():
        return None
    storage = current_app.extensions.get("storage")
    if isinstance(storage, S3Storage) and storage.public_base_url:
        return storage
    return None


def _note_changes(session: Session, _context: object) -> None:
    """Note the uploads this flush published or withdrew (applied after the commit)."""
    from backend.uploads.models import MediaCheck, Upload

    if _watching() is None:
        return
    for obj in (*session.new, *session.dirty):
        if not isinstance(obj, Upload):
            continue
        visible = bool(obj.public) and obj.media_check != MediaCheck.RISKY
        if obj in session.new:
            if not visible:
                continue  # written private: nothing to change
        else:
            state = sa.inspect(obj).attrs
            if not (state.public.history.has_changes() or state.media_check.history.has_changes()):
                continue
            if not visible and not obj.public and not state.public.history.has_changes():
                continue  # a private upload's verdict: its objects are private already
        target, other = (_PUBLISH, _WITHDRAW) if visible else (_WITHDRAW, _PUBLISH)
        keys = _upload_keys(obj)
        session.info.setdefault(target, set()).update(keys)
        session.info.setdefault(other, set()).difference_update(keys)


def _forget(session: Session, *_args: object) -> None:
    session.info.pop(_PUBLISH, None)
    session.info.pop(_WITHDRAW, None)


def _apply(session: Session) -> None:
    """Change the objects' ACLs for the committed publications and withdrawals."""
    publish = session.info.pop(_PUBLISH, set())
    withdraw = session.info.pop(_WITHDRAW, set())
    storage = _watching()
    if storage is None:
        return
    for keys, public in ((sorted(publish), True), (sorted(withdraw), False)):
        if not keys:
            continue
        try:
            storage.set_public(keys, public)
        except Exception:
            log.exception(
                "ALERT object store: %s not made %s; `flask uploads sync-acl` repairs it",
                keys,
                "public" if public else "private",
            )


def sync_public_acls(storage: S3Storage) -> tuple[int, list[str]]:
    """Set every upload's objects public-read or private as PostgreSQL says (a repair
    after the object store refused a change): the number of objects set, and the keys of
    uploads whose objects the bucket does not hold."""
    from backend.extensions import db
    from backend.uploads.models import MediaCheck, Upload

    count, missing = 0, []
    rows = db.session.execute(
        sa.select(Upload.storage_key, Upload.thumbnail_key, Upload.public, Upload.media_check)
    )
    for key, thumb, public, check in rows:
        keys = [k for k in (key, thumb) if k]
        try:
            storage.set_public(keys, bool(public) and check != MediaCheck.RISKY)
        except storage.client.exceptions.NoSuchKey:
            missing.append(key)
            continue
        count += len(keys)
    return count, missing


def watch_publication() -> None:
    """Make published uploads' objects public-read after each commit that publishes them
    (listeners on every session, acting only for an app whose storage needs it)."""
    for name, listener in (
        ("after_flush", _note_changes),
        ("after_commit", _apply),
        ("after_rollback", _forget),
    ):
        if not sa.event.contains(Session, name, listener):
            sa.event.listen(Session, name, listener)


@click.group("uploads", help="The uploaded files' object store.")
def uploads_cli() -> None:
    """`flask uploads …` (registered when STORAGE=s3)."""


@uploads_cli.command("sync-acl")
@with_appcontext
def sync_acl_command() -> None:
    """Make published uploads' objects public-read and the others private, as PostgreSQL says."""
    storage = current_app.extensions["storage"]
    if not isinstance(storage, S3Storage) or not storage.public_base_url:
        raise click.ClickException(
            "nothing to sync: only STORAGE=s3 with S3_PUBLIC_BASE_URL makes objects public"
        )
    count, missing = sync_public_acls(storage)
    for key in missing:
        click.echo(f"missing from the bucket: {key}", err=True)
    click.echo(f"{count} objects set, {len(missing)} uploads missing")
