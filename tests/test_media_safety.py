"""Files users upload are served so that nothing in them can run in the API's origin."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from backend.extensions import db
from backend.uploads.models import MediaCheck, Upload
from tests.permissions import login
from tests.support import assert_error_shape
from tests.test_uploads import (
    MINIMAL_PDF,
    fetch,
    photo_with_gps,
    png_with_metadata,
    publish,
    upload,
)

pytestmark = pytest.mark.usefixtures("clean")

#: a PDF that would run script if a browser rendered it in our origin
SCRIPTED_PDF = MINIMAL_PDF.replace(
    b"/Type/Catalog", b"/Type/Catalog/OpenAction<</S/JavaScript/JS(app.alert(document.cookie))>>"
)


@pytest.fixture
def resident(client: FlaskClient) -> dict[str, str]:
    """Authorization headers of a logged-in resident."""
    return {"Authorization": f"Bearer {login(client, 'media-safety')['token']}"}


def disposition(response: Any) -> tuple[str, dict[str, str]]:
    """The Content-Disposition type and its parameters (quotes removed)."""
    kind, *params = [part.strip() for part in response.headers["Content-Disposition"].split(";")]
    pairs = dict(param.split("=", 1) for param in params)
    return kind, {name: value.strip('"') for name, value in pairs.items()}


def assert_sandboxed(response: Any) -> None:
    """The headers every answer under /media/ carries."""
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    csp = [d.strip() for d in response.headers["Content-Security-Policy"].split(";")]
    assert "sandbox" in csp  # no allow-scripts, no allow-same-origin
    assert "default-src 'none'" in csp
    assert not any("script" in d for d in csp if d != "default-src 'none'")
    assert response.headers["Cross-Origin-Resource-Policy"] in (
        "same-origin",
        "same-site",
        "cross-origin",
    )


def test_a_published_pdf_no_longer_tells_its_original_name(
    app: Flask, client: FlaskClient, resident: dict[str, str]
) -> None:
    """A name like 张三身份证.pdf may say what a redacted copy hides: once public, a file
    downloads as linshan-<id>.pdf; the signed link of the team still gives the name."""
    body = upload(client, resident, SCRIPTED_PDF, "张三身份证.pdf").get_json()
    assert "张三" in unquote(disposition(fetch(client, body["url"]))[1]["filename*"])
    publish(app, body["id"])
    served = client.get(f"/media/{body['url'].split('/media/')[1].split('?')[0]}")
    assert served.status_code == 200
    kind, params = disposition(served)
    assert kind == "attachment"
    assert params == {"filename": f"linshan-{body['id']}.pdf",
                      "filename*": f"UTF-8''linshan-{body['id']}.pdf"}  # fmt: skip


def test_a_pdf_is_a_sandboxed_download_under_its_chinese_name(
    app: Flask, client: FlaskClient, resident: dict[str, str]
) -> None:
    body = upload(client, resident, SCRIPTED_PDF, "收据 2024年3月.pdf").get_json()
    served = fetch(client, body["url"])
    assert served.status_code == 200
    assert served.get_data() == SCRIPTED_PDF
    assert served.headers["Content-Type"] == "application/pdf"
    assert_sandboxed(served)
    kind, params = disposition(served)
    assert kind == "attachment"
    assert params["filename*"] == "UTF-8''" + quote("收据 2024年3月.pdf")
    assert unquote(params["filename*"].removeprefix("UTF-8''")) == "收据 2024年3月.pdf"
    # Plain ASCII for clients without RFC 5987.
    assert params["filename"] == f"linshan-{body['id']}.pdf"
    assert params["filename"].isascii()
    # Range and revalidation answers keep the protection.
    part = fetch(client, body["url"], headers={"Range": "bytes=0-4"})
    assert part.status_code == 206
    assert_sandboxed(part)
    assert disposition(part)[0] == "attachment"


def test_an_ascii_name_is_kept_and_made_harmless(
    app: Flask, client: FlaskClient, resident: dict[str, str]
) -> None:
    body = upload(client, resident, MINIMAL_PDF, "report.pdf").get_json()
    # A name as a client could send it: quotes, parameters, a right-to-left override.
    hostile = 'report"; filename=evil.html\u202egpj.pdf\\'
    with app.app_context():
        db.session.execute(
            sa.update(Upload).where(Upload.id == body["id"]).values(original_name=hostile)
        )
        db.session.commit()
    kind, params = disposition(fetch(client, body["url"]))
    assert kind == "attachment"
    assert params["filename"] == "report_ filename_evil.htmlgpj.pdf"
    assert params["filename*"] == "UTF-8''" + quote('report"; filename=evil.htmlgpj.pdf')
    assert "%E2%80%AE" not in params["filename*"]  # no right-to-left override


def test_the_type_served_is_the_sniffed_one_whatever_the_name(
    client: FlaskClient, resident: dict[str, str]
) -> None:
    pdf = upload(client, resident, MINIMAL_PDF, "invoice.html").get_json()
    served = fetch(client, pdf["url"])
    assert served.headers["Content-Type"] == "application/pdf"
    assert disposition(served) == (
        "attachment",
        {"filename": "invoice.pdf", "filename*": "UTF-8''invoice.pdf"},
    )
    png = upload(client, resident, png_with_metadata(), "logo.svg").get_json()
    image = fetch(client, png["url"])
    assert image.headers["Content-Type"] == "image/png"
    assert disposition(image)[1]["filename"] == f"linshan-{png['id']}.png"


def test_images_stay_inline_with_the_same_protection(
    client: FlaskClient, resident: dict[str, str]
) -> None:
    body = upload(client, resident, photo_with_gps(), "张三家门口.jpg").get_json()
    for url, name in (
        (body["url"], f"linshan-{body['id']}.jpg"),
        (body["thumbnail_url"], f"linshan-{body['id']}-thumbnail.jpg"),
    ):
        served = fetch(client, url)
        assert served.status_code == 200
        assert served.headers["Content-Type"] == "image/jpeg"
        assert_sandboxed(served)
        # Shown on public pages: the name from the uploader's phone is not published.
        assert disposition(served) == ("inline", {"filename": name, "filename*": f"UTF-8''{name}"})
    cached = fetch(client, body["url"])
    again = fetch(client, body["url"], headers={"If-None-Match": cached.headers["ETag"]})
    assert again.status_code == 304
    assert_sandboxed(again)


def test_error_answers_under_media_are_protected_too(client: FlaskClient) -> None:
    missing = client.get("/media/00/00/00000000000000000000000000000000.pdf")
    assert_error_shape(missing.get_json(), 404, "media_not_found")
    assert_sandboxed(missing)


def test_a_row_whose_type_disagrees_with_its_key_is_served_as_opaque_bytes(
    app: Flask, client: FlaskClient
) -> None:
    # Never the case for uploads made by the app; served defensively all the same.
    key = "ab/cd/abcd0123456789abcdef0123456789ab.png"
    storage = app.extensions["storage"]
    storage.save(key, MINIMAL_PDF, "image/png")
    try:
        with app.app_context():
            db.session.add(
                Upload(
                    content_type="application/pdf", size=len(MINIMAL_PDF), sha256="0" * 64,
                    storage_key=key, media_check=MediaCheck.NOT_REQUIRED,
                    original_name="x.html", public=True,
                )
            )  # fmt: skip
            db.session.commit()
        served = client.get(f"/media/{key}")
        assert served.status_code == 200
        assert served.headers["Content-Type"] == "application/octet-stream"
        assert disposition(served)[0] == "attachment"
        name = disposition(served)[1]["filename"]
        assert name.startswith("linshan-") and name.endswith(".bin"), name
        assert_sandboxed(served)
    finally:
        storage.delete(key)
