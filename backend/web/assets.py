"""The pages' static file (one stylesheet) at versioned URLs, and their one inline script.

`/assets/web/<version>/site.css`: the version is a digest of the file, so a browser may
keep it a year (`immutable`); a new stylesheet gets a new URL. An old version asked for
after a deploy gets the current file, revalidated every time (`no-cache`).
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, abort, request
from markupsafe import Markup

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
#: a year: the URL changes whenever the file does
LONG_CACHE = "public, max-age=31536000, immutable"

assets = Blueprint("web_assets", __name__)


#: the static files and their types (each read once per process)
TYPES = {".css": "text/css"}


@cache
def asset_bytes(filename: str) -> bytes | None:
    """The bytes of a static file of the pages; None when there is no such file."""
    path = STATIC_DIR / filename
    if path.suffix not in TYPES or not path.is_file() or path.parent != STATIC_DIR:
        return None
    return path.read_bytes()


@cache
def asset_version(filename: str) -> str:
    """A short digest of the file's bytes."""
    return hashlib.sha256(asset_bytes(filename) or b"").hexdigest()[:12]


def asset_url(filename: str) -> str:
    """The versioned URL of a static file of the pages."""
    return f"/assets/web/{asset_version(filename)}/{filename}"


@assets.get("/assets/web/<string(length=12):version>/<string:filename>")
def asset(version: str, filename: str) -> Response:
    """A static file of the pages; cached for a year at its current version's URL."""
    body = asset_bytes(filename)
    if body is None:
        abort(404)
    response = Response(body, mimetype=TYPES[Path(filename).suffix])
    response.set_etag(asset_version(filename))
    current = version == asset_version(filename)
    response.headers["Cache-Control"] = LONG_CACHE if current else "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response.make_conditional(request)


#: the live-progress script of a need's page, inlined and allowed by its hash (CSP)
_SCRIPT_TEXT = (HERE / "progress.js").read_text(encoding="utf-8")
PROGRESS_SCRIPT = Markup(_SCRIPT_TEXT)  # noqa: S704 - our own file, no user input
SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(_SCRIPT_TEXT.encode()).digest()).decode()
