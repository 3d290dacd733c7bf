"""Where uploaded files live: a small interface, and a local folder as the default."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import Protocol

from flask import Flask, current_app

#: the only keys a storage accepts: random, sharded, with a known extension
KEY_PATTERN = re.compile(r"[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{32}(?:_thumb)?\.(?:jpg|png|webp|pdf)")
THUMBNAIL_SUFFIX = "_thumb"


class Storage(Protocol):
    """What the uploads code needs from a place that keeps files."""

    def save(self, key: str, data: bytes, content_type: str) -> None:
        """Keep `data` under `key`, replacing nothing half-written."""

    def open(self, key: str) -> bytes:
        """The bytes under `key`; FileNotFoundError when there are none."""

    def exists(self, key: str) -> bool:
        """Whether something is kept under `key`."""

    def delete(self, key: str) -> None:
        """Forget `key`; deleting a missing key is not an error."""

    def url(self, key: str) -> str:
        """The public URL of `key`."""

    def link_url(self, key: str) -> str:
        """The URL the app serves `key` at, which signed links (`?sig=`) are made on."""


def is_valid_key(key: str) -> bool:
    """Whether `key` has the shape `new_key` gives (nothing else reaches the disk)."""
    return KEY_PATTERN.fullmatch(key) is not None


def new_key(extension: str) -> str:
    """A fresh random key like `ab/cd/<32 hex>.jpg`; never derived from a user's file name."""
    # Hex only: sharding stays uniform and no word can appear by chance in a URL.
    token = secrets.token_hex(16)
    return f"{token[:2]}/{token[2:4]}/{token}.{extension}"


def thumbnail_key(key: str) -> str:
    """The thumbnail's key beside the original's (always JPEG)."""
    stem, _, _ = key.rpartition(".")
    return f"{stem}{THUMBNAIL_SUFFIX}.jpg"


def original_stem(key: str) -> str:
    """The key without `_thumb` and extension: shared by an original and its thumbnail."""
    stem, _, _ = key.rpartition(".")
    return stem.removesuffix(THUMBNAIL_SUFFIX)


class LocalStorage:
    """Files in a local folder, written atomically; served by the app under `/media/`."""

    def __init__(self, root: Path, base_url: str) -> None:
        """Keep files under `root`; `base_url` is the public URL of that folder."""
        self.root = root
        self.base_url = base_url.rstrip("/")

    def _path(self, key: str) -> Path:
        """The file of a key; a key of another shape is refused before any path is built."""
        if not is_valid_key(key):
            raise ValueError(f"invalid storage key {key!r}")
        return self.root / key

    def save(self, key: str, data: bytes, content_type: str) -> None:
        """Write to a temporary file beside the target, then rename it into place."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(data)
                tmp.flush()
                os.fsync(tmp.fileno())
            # mkstemp makes 0600 files; a web server in front may serve the folder directly.
            os.chmod(tmp_name, 0o644)
            os.replace(tmp_name, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise

    def open(self, key: str) -> bytes:
        """The stored bytes."""
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        """Whether the file is there."""
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        """Remove the file if it is there."""
        self._path(key).unlink(missing_ok=True)

    def url(self, key: str) -> str:
        """`<PUBLIC_BASE_URL>/media/<key>`."""
        return f"{self.base_url}/{key}"

    def link_url(self, key: str) -> str:
        """The same URL: the app serves every file."""
        return self.url(key)


def init_uploads(app: Flask) -> None:
    """Bind the app's storage, served at `<PUBLIC_BASE_URL>/media/`: `<instance>/uploads/`
    (`STORAGE=local`, the default), or a bucket of an S3-compatible store (`STORAGE=s3`)."""
    settings = app.config["SETTINGS"]
    media_base_url = f"{settings.public_base_url}/media"
    storage_settings = settings.storage
    if storage_settings.kind == "s3":
        from backend.uploads import s3

        assert storage_settings.s3_bucket is not None  # checked by Settings
        app.extensions["storage"] = s3.S3Storage(
            s3.make_client(storage_settings),
            storage_settings.s3_bucket,
            media_base_url,
            storage_settings.s3_public_base_url,
        )
        s3.watch_publication()
        app.cli.add_command(s3.uploads_cli)
    else:
        app.extensions["storage"] = LocalStorage(
            Path(app.instance_path) / "uploads", media_base_url
        )


def get_storage() -> Storage:
    """The current app's storage."""
    return current_app.extensions["storage"]
