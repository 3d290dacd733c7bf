"""Uploads: type from the content, metadata stripped, thumbnails, serving, WeChat's media check.

The media check goes through the WeChat sandbox over HTTP; its verdict comes back as a
signed push to the app, served on a real port for those tests.
"""

from __future__ import annotations

import hashlib
import io
import logging
import secrets
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.serving import make_server
from werkzeug.test import encode_multipart

from backend.extensions import db
from backend.uploads.models import MediaCheck, Upload
from backend.uploads.services import hold_media_check_lock
from backend.wechat_sandbox import SandboxServer
from backend.wechat_sandbox.config import DEFAULT_MESSAGE_TOKEN
from backend.wechat_sandbox.security import signed_push_url
from backend.wechat_sandbox.server import QuietRequestHandler
from tests.permissions import login
from tests.support import assert_error_shape

pytestmark = pytest.mark.usefixtures("clean")

MB = 1024 * 1024
GPS_IFD = 0x8825
ORIENTATION = 0x0112
XMP_WITH_GPS = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="39,54.25N"/>'
    b"</rdf:RDF></x:xmpmeta>"
)
MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


# --- files to upload ---------------------------------------------------------------------


def photo_with_gps(size: tuple[int, int] = (1200, 800), orientation: int = 6) -> bytes:
    """A JPEG as a phone takes it: camera model, orientation, GPS position, XMP."""
    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, size[0] // 2, size[1]))
    exif = Image.Exif()
    exif[0x0110] = "Linshan Test Camera"
    exif[ORIENTATION] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: (39.0, 54.0, 15.0), 3: "E", 4: (116.0, 23.0, 30.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92, exif=exif, xmp=XMP_WITH_GPS)
    data = out.getvalue()
    # The fixture itself must carry what the upload is to strip.
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(GPS_IFD)
    return data


def png_with_metadata() -> bytes:
    """A transparent PNG with an eXIf chunk and a text chunk."""
    from PIL.PngImagePlugin import PngInfo

    image = Image.new("RGBA", (900, 1600), (0, 128, 0, 128))
    info = PngInfo()
    info.add_text("Comment", "taken at 39.9N 116.4E")
    exif = Image.Exif()
    exif[0x0110] = "Linshan Test Camera"
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info, exif=exif)
    return out.getvalue()


def webp(lossless: bool = False) -> bytes:
    """A small WebP."""
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (10, 120, 200)).save(out, "WEBP", lossless=lossless)
    return out.getvalue()


def png_bomb(side: int = 20_000) -> bytes:
    """A 1-bit PNG of side x side pixels of one colour: tiny on disk, huge decoded."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte, then the packed pixels
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


# --- helpers -----------------------------------------------------------------------------


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def resident(client: FlaskClient) -> dict[str, str]:
    """Authorization headers of a logged-in resident."""
    return auth(login(client, "uploader")["token"])


def upload(
    client: FlaskClient, headers: dict[str, str], data: bytes, name: str = "photo.jpg"
) -> Any:
    """POST the bytes as the multipart `file` part."""
    # Encoded in memory: the test client would spool a large body to a file it never closes.
    part = FileStorage(io.BytesIO(data), filename=name, content_type="application/octet-stream")
    boundary, body = encode_multipart({"file": part})
    return client.post(
        "/api/v1/uploads",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=headers,
    )


def stored_files(app: Flask) -> set[Path]:
    """Every file in the storage folder."""
    root: Path = app.extensions["storage"].root
    return {path for path in root.rglob("*") if path.is_file()} if root.exists() else set()


def fetch(client: FlaskClient, url: str, **kwargs: Any) -> Any:
    """GET a media URL as handed out (a private file's signature included) through the test
    client."""
    parts = urlsplit(url)
    return client.get(f"{parts.path}?{parts.query}" if parts.query else parts.path, **kwargs)


def publish(app: Flask, upload_id: int) -> None:
    """Make an upload public, as using it where the public looks does."""
    with app.app_context():
        db.session.execute(sa.update(Upload).where(Upload.id == upload_id).values(public=True))
        db.session.commit()


def row(app: Flask, upload_id: int) -> Upload:
    """The upload as the database has it now."""
    with app.app_context():
        found = db.session.get(Upload, upload_id)
        assert found is not None
        db.session.expunge(found)
        return found


def upload_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Upload)) or 0


def assert_refused(
    app: Flask, client: FlaskClient, headers: dict[str, str], data: bytes, name: str,
    code: int, error: str,
) -> None:  # fmt: skip
    """The upload is refused with `code`/`error`, and neither a row nor a file is left."""
    before = stored_files(app)
    response = upload(client, headers, data, name)
    assert response.status_code == code, response.get_json()
    assert_error_shape(response.get_json(), code, error)
    assert upload_count(app) == 0
    assert stored_files(app) == before


def sandbox_config(sandbox: SandboxServer, **changes: Any) -> None:
    """Change the running sandbox's settings through its control call."""
    answer = requests.post(f"{sandbox.url}sandbox/config", json=changes, timeout=5)
    assert answer.status_code == 200, answer.text


def wait_for_check(
    client: FlaskClient, headers: dict[str, str], upload_id: int, expected: str
) -> str:
    """Poll the upload (at most 5 s) until its media check is `expected`; the last state."""
    deadline = time.monotonic() + 5
    while True:
        state = client.get(f"/api/v1/uploads/{upload_id}", headers=headers).get_json()
        if state["media_check"] == expected or time.monotonic() > deadline:
            return state["media_check"]
        time.sleep(0.05)


@pytest.fixture
def push_url(app: Flask, wechat_sandbox: SandboxServer) -> Iterator[str]:
    """The app served on a real port, and the sandbox pushing media checks to it."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/api/v1/wechat/events"
    sandbox_config(wechat_sandbox, media_callback_url=url)
    yield url
    sandbox_config(wechat_sandbox, media_callback_url=None)
    server.shutdown()
    thread.join(5)
    server.server_close()


def media_check_event(trace_id: str, suggest: str = "pass") -> dict[str, Any]:
    """A wxa_media_check event as WeChat pushes it (version 2)."""
    return {
        "ToUserName": "gh_0123456789ab",
        "FromUserName": "o-someone",
        "CreateTime": int(time.time()),
        "MsgType": "event",
        "Event": "wxa_media_check",
        "appid": "wx0000000000sandbox",
        "trace_id": trace_id,
        "version": 2,
        "result": {"suggest": suggest, "label": 100},
        "detail": [],
        "errcode": 0,
        "errmsg": "ok",
    }


def signed_path(token: str = DEFAULT_MESSAGE_TOKEN, nonce: str | None = None) -> str:
    """The events path with a signature made by the sandbox's own code (a new nonce each
    time unless given: the app refuses a nonce it has seen)."""
    nonce = nonce or str(1_000_000_000 + secrets.randbelow(9_000_000_000))
    url = signed_push_url("http://app/api/v1/wechat/events", token, int(time.time()), nonce)
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


# --- accepted files ----------------------------------------------------------------------


def test_a_photo_is_stored_upright_without_exif_or_location(app, client, resident) -> None:
    original = photo_with_gps()
    response = upload(client, resident, original, "IMG_0001.JPG")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert set(body) >= {"id", "url", "thumbnail_url", "content_type", "size", "width",
                         "height", "media_check"}  # fmt: skip
    assert body["content_type"] == "image/jpeg"
    # Orientation 6 (turn 90°) is applied to the pixels before the EXIF goes.
    assert (body["width"], body["height"]) == (800, 1200)
    assert body["media_check"] == "pending"
    assert body["url"].startswith(app.config["SETTINGS"].public_base_url + "/media/")

    served = fetch(client, body["url"])
    assert served.status_code == 200
    stored = served.get_data()
    assert stored != original
    assert len(stored) == body["size"]
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG"
    assert image.size == (800, 1200)
    exif = image.getexif()
    assert not exif.get_ifd(GPS_IFD)
    assert len(exif) == 0
    assert "exif" not in image.info and "xmp" not in image.info
    assert b"Exif" not in stored
    assert b"GPSLatitude" not in stored
    assert b"Linshan Test Camera" not in stored

    saved = row(app, body["id"])
    assert saved.sha256 == hashlib.sha256(stored).hexdigest()
    assert saved.original_name == "IMG_0001.JPG"
    assert saved.media_trace_id  # the sandbox answered a trace_id
    assert saved.storage_key.endswith(".jpg") and "IMG_0001" not in saved.storage_key


def test_the_thumbnail_is_a_small_jpeg_of_the_upright_image(client, resident) -> None:
    body = upload(client, resident, photo_with_gps(size=(2400, 1600))).get_json()
    thumb = fetch(client, body["thumbnail_url"])
    assert thumb.status_code == 200
    assert thumb.mimetype == "image/jpeg"
    image = Image.open(io.BytesIO(thumb.get_data()))
    assert image.format == "JPEG"
    assert image.size == (320, 480)
    assert not image.getexif()


def test_png_and_webp_keep_their_format_and_lose_their_metadata(app, client, resident) -> None:
    png = upload(client, resident, png_with_metadata(), "sticker.png")
    assert png.status_code == 201, png.get_json()
    png_body = png.get_json()
    assert png_body["content_type"] == "image/png"
    stored = fetch(client, png_body["url"]).get_data()
    image = Image.open(io.BytesIO(stored))
    assert image.format == "PNG"
    assert image.mode == "RGBA"
    assert "Comment" not in image.info and "exif" not in image.info
    assert b"39.9N" not in stored
    thumb = Image.open(io.BytesIO(fetch(client, png_body["thumbnail_url"]).get_data()))
    assert max(thumb.size) == 480 and thumb.mode == "RGB"

    for lossless in (False, True):
        answer = upload(client, resident, webp(lossless), "picture.webp")
        assert answer.status_code == 201, answer.get_json()
        body = answer.get_json()
        assert body["content_type"] == "image/webp"
        assert (body["width"], body["height"]) == (640, 480)
        data = fetch(client, body["url"]).get_data()
        assert Image.open(io.BytesIO(data)).format == "WEBP"
        # A lossless original stays lossless (VP8L), a lossy one lossy (VP8).
        assert data[12:16] == (b"VP8L" if lossless else b"VP8 ")
    assert upload_count(app) == 3


def test_the_name_is_ignored_when_the_content_is_an_allowed_type(app, client, resident) -> None:
    answer = upload(client, resident, png_with_metadata(), "../../DCIM/photo.jpg")
    assert answer.status_code == 201
    body = answer.get_json()
    assert body["content_type"] == "image/png"
    assert urlsplit(body["url"]).path.endswith(".png")
    assert row(app, body["id"]).original_name == "photo.jpg"


def test_a_pdf_is_stored_as_it_is_without_thumbnail_or_media_check(app, client, resident) -> None:
    answer = upload(client, resident, MINIMAL_PDF, "receipt.pdf")
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["content_type"] == "application/pdf"
    assert body["media_check"] == "not_required"
    assert body["thumbnail_url"] is None
    assert body["width"] is None and body["height"] is None
    assert body["size"] == len(MINIMAL_PDF)
    served = fetch(client, body["url"])
    assert served.get_data() == MINIMAL_PDF
    assert served.mimetype == "application/pdf"
    assert row(app, body["id"]).media_trace_id is None


# --- refused files -----------------------------------------------------------------------


def test_zero_bytes_or_no_file_is_a_400_and_nothing_is_stored(app, client, resident) -> None:
    assert_refused(app, client, resident, b"", "empty.jpg", 400, "file_empty")
    missing = client.post(
        "/api/v1/uploads", data={"other": "x"}, content_type="multipart/form-data",
        headers=resident,
    )  # fmt: skip
    assert missing.status_code == 400
    assert_error_shape(missing.get_json(), 400, "file_missing")
    not_multipart = client.post("/api/v1/uploads", json={"file": "x"}, headers=resident)
    assert_error_shape(not_multipart.get_json(), 400, "file_missing")


def test_content_that_is_not_an_allowed_type_is_refused_whatever_its_name(
    app, client, resident
) -> None:
    assert_refused(app, client, resident, b"just some text\n", "photo.jpg", 415,
                   "unsupported_file_type")  # fmt: skip
    exe = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200
    assert_refused(app, client, resident, exe, "holiday.jpg", 415, "unsupported_file_type")
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    assert_refused(app, client, resident, gif.getvalue(), "a.gif", 415, "unsupported_file_type")


def test_corrupt_or_truncated_files_are_unreadable(app, client, resident) -> None:
    photo = photo_with_gps()
    assert_refused(app, client, resident, photo[: len(photo) // 2], "cut.jpg", 422,
                   "file_unreadable")  # fmt: skip
    assert_refused(app, client, resident, b"\xff\xd8\xff" + b"\x00" * 500, "noise.jpg", 422,
                   "file_unreadable")  # fmt: skip
    truncated_pdf = MINIMAL_PDF[: len(MINIMAL_PDF) // 2]
    assert_refused(app, client, resident, truncated_pdf, "cut.pdf", 422, "file_unreadable")


def test_size_limits(app, client, resident) -> None:
    limit = 10 * MB
    # Exactly 10 MB passes the size check (and then fails as the junk it is).
    assert_refused(app, client, resident, b"\xff\xd8\xff" + b"\x00" * (limit - 3), "big.jpg",
                   422, "file_unreadable")  # fmt: skip
    assert_refused(app, client, resident, b"\xff\xd8\xff" + b"\x00" * (limit - 2), "big.jpg",
                   413, "file_too_large")  # fmt: skip
    # Above MAX_CONTENT_LENGTH (12 MB) the body is refused before it is parsed.
    assert_refused(app, client, resident, b"\x00" * (12 * MB + 1), "huge.jpg", 413,
                   "file_too_large")  # fmt: skip


def test_decompression_bombs_are_refused(app, client, resident) -> None:
    bomb = png_bomb()
    assert len(bomb) < 200_000
    assert_refused(app, client, resident, bomb, "bomb.png", 422, "image_too_large")
    # 48 megapixels: under Pillow's own limit, over ours.
    large = io.BytesIO()
    Image.new("1", (8000, 6000)).save(large, "PNG")
    assert_refused(app, client, resident, large.getvalue(), "large.png", 422, "image_too_large")


def test_uploading_needs_a_login(app, client) -> None:
    assert_refused(app, client, {}, photo_with_gps(), "photo.jpg", 401, "unauthorized")


def test_only_the_owner_reads_an_upload(client, resident, clock) -> None:
    # The clock stands still: the signed links of both answers are the same.
    body = upload(client, resident, MINIMAL_PDF, "a.pdf").get_json()
    mine = client.get(f"/api/v1/uploads/{body['id']}", headers=resident)
    assert mine.status_code == 200
    assert mine.get_json() == {**body, "media_check": "not_required"}
    other = auth(login(client, "someone_else")["token"])
    theirs = client.get(f"/api/v1/uploads/{body['id']}", headers=other)
    assert_error_shape(theirs.get_json(), 404, "upload_not_found")
    assert client.get(f"/api/v1/uploads/{body['id']}").status_code == 401
    missing = client.get("/api/v1/uploads/999999", headers=resident)
    assert_error_shape(missing.get_json(), 404, "upload_not_found")


def test_when_wechat_is_unreachable_an_image_is_refused_and_nothing_kept(
    app, make_app, resident
) -> None:
    # No port 1 listens: the media check cannot be asked for.
    offline = make_app(env={"WECHAT_API_BASE": "http://127.0.0.1:1/"})
    assert_refused(app, offline.test_client(), resident, photo_with_gps(), "photo.jpg", 502,
                   "wechat_unavailable")  # fmt: skip


# --- serving -----------------------------------------------------------------------------


def test_media_are_served_with_their_type_and_cache_headers(app, client, resident) -> None:
    photo = upload(client, resident, photo_with_gps()).get_json()
    pdf = upload(client, resident, MINIMAL_PDF, "a.pdf").get_json()

    # Private (just uploaded), opened by the signed link: no cache may keep it.
    private = fetch(client, pdf["url"])
    assert private.status_code == 200
    assert private.headers["Cache-Control"] == "private, no-store"
    publish(app, pdf["id"])
    served = fetch(client, pdf["url"])
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "application/pdf"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "immutable" in served.headers["Cache-Control"]
    again = fetch(client, pdf["url"], headers={"If-None-Match": served.headers["ETag"]})
    assert again.status_code == 304
    part = fetch(client, pdf["url"], headers={"Range": "bytes=0-4"})
    assert part.status_code == 206
    assert part.get_data() == b"%PDF-"

    image = fetch(client, photo["url"])
    assert image.headers["Content-Type"] == "image/jpeg"
    assert image.headers["X-Content-Type-Options"] == "nosniff"
    assert image.headers["Cache-Control"] == "private, no-store"
    publish(app, photo["id"])
    image = fetch(client, photo["url"])
    # Public but not yet passed by WeChat: caches must come back before reusing it.
    assert "no-cache" in image.headers["Cache-Control"]


def test_unknown_keys_and_path_tricks_are_json_404s(app, client) -> None:
    (Path(app.instance_path) / "secret.txt").write_text("do not serve")
    for path in (
        "/media/00/00/00000000000000000000000000000000.jpg",
        "/media/../secret.txt",
        "/media/%2e%2e/secret.txt",
        "/media/..%2fsecret.txt",
        "/media/ab/cd/..%2F..%2F..%2Fsecret.txt",
        "/media//etc/passwd",
        "/media/ab/cd/0123456789abcdef0123456789abcdef.exe",
    ):
        # Werkzeug answers "//" with a redirect to the merged path: follow it.
        response = client.get(path, follow_redirects=True)
        assert response.status_code == 404, path
        assert_error_shape(response.get_json(), 404, "media_not_found")
        assert b"do not serve" not in response.get_data()


def test_files_of_a_failed_upload_are_not_served(app, client, resident) -> None:
    # A file in the storage without a committed upload (a request that rolled back).
    storage = app.extensions["storage"]
    key = "12/34/1234567890abcdef1234567890abcdef.jpg"
    storage.save(key, photo_with_gps(), "image/jpeg")
    try:
        response = client.get(f"/media/{key}")
        assert_error_shape(response.get_json(), 404, "media_not_found")
    finally:
        storage.delete(key)


# --- WeChat's media check ----------------------------------------------------------------


def test_the_media_check_verdict_comes_back_from_the_sandbox(
    app, client, resident, push_url, wechat_sandbox
) -> None:
    body = upload(client, resident, photo_with_gps()).get_json()
    assert body["media_check"] == "pending"
    assert wait_for_check(client, resident, body["id"], "pass") == "pass"

    trace_id = row(app, body["id"]).media_trace_id
    checks = requests.get(f"{wechat_sandbox.url}sandbox/media-checks", timeout=5).json()
    (asked,) = [c for c in checks["media_checks"] if c["trace_id"] == trace_id]
    # WeChat was given a signed link to the (private) file: one that opens it.
    assert urlsplit(asked["media_url"]).path == urlsplit(body["url"]).path
    assert "sig=" in urlsplit(asked["media_url"]).query
    assert fetch(client, asked["media_url"]).status_code == 200
    assert asked["version"] == 2 and asked["media_type"] == 2
    pushes = requests.get(
        f"{wechat_sandbox.url}sandbox/notifications",
        params={"kind": "media_check", "trace_id": trace_id, "wait": 5},
        timeout=10,
    ).json()["notifications"]
    assert pushes[0]["status"] == "succeeded"
    assert pushes[0]["attempts"][-1]["response"] == "success"
    # Passed and public: now a cache may keep it for good.
    publish(app, body["id"])
    assert "immutable" in fetch(client, body["url"]).headers["Cache-Control"]


def test_a_flagged_image_becomes_risky_and_is_no_longer_served(
    make_app, client, resident, push_url
) -> None:
    # The sandbox flags media whose URL says "flagged"; this app's URLs do.
    flagged_app = make_app(env={"PUBLIC_BASE_URL": "http://127.0.0.1:5000/flagged"})
    body = upload(flagged_app.test_client(), resident, photo_with_gps()).get_json()
    assert "/flagged/media/" in body["url"]
    assert wait_for_check(client, resident, body["id"], "risky") == "risky"
    # Not even its signed links open it.
    for url in (body["url"], body["thumbnail_url"]):
        response = client.get(url.split("/flagged", 1)[1])
        assert_error_shape(response.get_json(), 404, "media_not_found")


def test_a_verdict_that_overtakes_the_upload_commit_waits_for_it(app, push_url) -> None:
    # The uploading request holds the lock from before it asks WeChat until it commits.
    with app.app_context():
        hold_media_check_lock()
        pending = Upload(
            content_type="image/jpeg", size=1, sha256="0" * 64,
            storage_key="aa/bb/aabb0000000000000000000000000000.jpg",
            media_check=MediaCheck.PENDING, media_trace_id="race-trace",
        )  # fmt: skip
        db.session.add(pending)
        db.session.flush()
        answers: list[requests.Response] = []
        url = signed_push_url(push_url, DEFAULT_MESSAGE_TOKEN, int(time.time()), "42")
        pusher = threading.Thread(
            target=lambda: answers.append(
                requests.post(url, json=media_check_event("race-trace"), timeout=15)
            )
        )
        pusher.start()
        time.sleep(0.5)
        assert pusher.is_alive(), "the verdict did not wait for the upload's commit"
        db.session.commit()
        upload_id = pending.id
    pusher.join(10)
    assert answers and answers[0].status_code == 200 and answers[0].text == "success"
    assert row(app, upload_id).media_check == MediaCheck.PASS


def test_a_badly_signed_event_is_refused_and_changes_nothing(app, client, resident) -> None:
    body = upload(client, resident, photo_with_gps()).get_json()
    trace_id = row(app, body["id"]).media_trace_id
    assert trace_id
    event = media_check_event(trace_id, "risky")
    for query in (
        "signature=0000&timestamp=1&nonce=2",
        "timestamp=1&nonce=2",
        "",
    ):
        response = client.post(f"/api/v1/wechat/events?{query}", json=event)
        assert response.status_code == 403
        assert_error_shape(response.get_json(), 403, "invalid_signature")
    forged = client.post(signed_path(token="not-our-token"), json=event)
    assert forged.status_code == 403
    assert row(app, body["id"]).media_check == MediaCheck.PENDING

    # The same event signed with our token is recorded.
    accepted = client.post(signed_path(), json=event)
    assert accepted.status_code == 200
    assert accepted.get_data(as_text=True) == "success"
    assert row(app, body["id"]).media_check == MediaCheck.RISKY


def test_an_event_for_an_unknown_trace_is_answered_and_logged(client, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        response = client.post(signed_path(), json=media_check_event("no-such-trace"))
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "success"
    assert "no-such-trace" in caplog.text
    other = client.post(signed_path(), json={"MsgType": "event", "Event": "user_enter"})
    assert other.get_data(as_text=True) == "success"
    garbled = client.post(signed_path(), data=b"<xml>not json</xml>")
    assert_error_shape(garbled.get_json(), 400, "bad_event")


def test_the_push_url_check_echoes_only_for_our_signature(client) -> None:
    echoed = client.get(f"{signed_path()}&echostr=4711abc")
    assert echoed.status_code == 200
    assert echoed.get_data(as_text=True) == "4711abc"
    refused = client.get("/api/v1/wechat/events?signature=x&timestamp=1&nonce=2&echostr=4711")
    assert refused.status_code == 403


def test_openapi_documents_the_upload_as_multipart(client) -> None:
    spec = client.get("/api/openapi.json").get_json()
    post = spec["paths"]["/api/v1/uploads"]["post"]
    content = post["requestBody"]["content"]
    assert "multipart/form-data" in content
    assert "201" in post["responses"] and "413" in post["responses"]
    assert "/api/v1/uploads/{upload_id}" in spec["paths"]
    assert "/api/v1/wechat/events" in spec["paths"]
