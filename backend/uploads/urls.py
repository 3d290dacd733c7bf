"""The URLs of stored files: plain for public ones, signed and short-lived for private ones.

A private file (not yet shown where the public looks) is served only with `?sig=`: a
signature, made with the app's secret for this purpose alone, of the file's own key and
the time it was made (the app's clock). It is valid for `LINK_SECONDS`; a file's link
never opens another file, not even its thumbnail.
"""

from __future__ import annotations

from urllib.parse import urlencode

from itsdangerous import BadData

from backend.common.signing import timed_serializer
from backend.uploads.models import Upload
from backend.uploads.storage import get_storage

#: the purpose of media-link signatures (no other signature of the app is one)
LINK_SALT = "linshan.media-link"
#: how long a signed link opens its file
LINK_SECONDS = 3600
#: the query parameter carrying the signature
SIGNATURE_PARAM = "sig"


def signed_url(key: str) -> str:
    """The URL of the file under `key` with a signature valid for `LINK_SECONDS`."""
    signature = timed_serializer(LINK_SALT).dumps(key)
    # The app's own /media/ URL: it checks the signature (a public base URL may be a CDN).
    return f"{get_storage().link_url(key)}?{urlencode({SIGNATURE_PARAM: signature})}"


def media_url(upload: Upload, key: str) -> str:
    """The URL to hand out for `key` (the upload's file or its thumbnail): plain when the
    upload is public, signed when it is private."""
    return get_storage().url(key) if upload.public else signed_url(key)


def link_opens(key: str, signature: str | None) -> bool:
    """Whether `signature` is a current link signature made for exactly `key`."""
    if not signature:
        return False
    try:
        signed_key = timed_serializer(LINK_SALT).loads(signature, max_age=LINK_SECONDS)
    except BadData:  # forged, malformed, expired, or dated in the future
        return False
    return signed_key == key
