"""Private files: a new upload opens only through a signed, short-lived link of its own key;
a file becomes public when it is shown where the public looks."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from backend.common.signing import timed_serializer
from backend.extensions import db
from backend.uploads.models import Upload
from backend.uploads.urls import LINK_SECONDS, SIGNATURE_PARAM
from tests.permissions import Actors, login
from tests.support import assert_error_shape
from tests.test_back_office import draft_body
from tests.test_update_photos import make_world
from tests.test_uploads import MINIMAL_PDF, fetch, photo_with_gps, publish, upload

pytestmark = pytest.mark.usefixtures("clean")


@pytest.fixture
def resident(client: FlaskClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {login(client, 'evidence-owner')['token']}"}


def signature_of(url: str) -> str:
    (signature,) = parse_qs(urlsplit(url).query)[SIGNATURE_PARAM]
    return signature


def path_of(url: str) -> str:
    return urlsplit(url).path


def with_signature(url: str, signature: str) -> str:
    return f"{path_of(url)}?{urlencode({SIGNATURE_PARAM: signature})}"


def assert_not_served(response) -> None:
    """The same answer as for a file that does not exist."""
    assert response.status_code == 404
    assert_error_shape(response.get_json(), 404, "media_not_found")
    assert "Content-Disposition" not in response.headers


def test_a_new_upload_is_private_and_opens_only_by_its_signed_link(
    app: Flask, client: FlaskClient, resident: dict[str, str]
) -> None:
    body = upload(client, resident, photo_with_gps(), "门口.jpg").get_json()
    assert body["public"] is False
    for url in (body["url"], body["thumbnail_url"]):
        assert signature_of(url)
        assert_not_served(client.get(path_of(url)))
        assert_not_served(client.get(f"{path_of(url)}?{SIGNATURE_PARAM}="))
        served = fetch(client, url)
        assert served.status_code == 200
        # No cache, shared or private, keeps it.
        assert served.headers["Cache-Control"] == "private, no-store"
        assert "immutable" not in served.headers["Cache-Control"]
    # The owner's own answer hands out fresh links that work too.
    again = client.get(f"/api/v1/uploads/{body['id']}", headers=resident).get_json()
    assert fetch(client, again["url"]).status_code == 200


def test_a_link_lasts_an_hour_by_the_app_clock(
    client: FlaskClient, resident: dict[str, str], clock
) -> None:
    body = upload(client, resident, MINIMAL_PDF, "收据.pdf").get_json()
    clock.advance(seconds=LINK_SECONDS)
    assert fetch(client, body["url"]).status_code == 200
    clock.advance(seconds=1)
    assert_not_served(fetch(client, body["url"]))
    # A link dated in the future (a clock set back) opens nothing either.
    clock.advance(hours=-2)
    assert_not_served(fetch(client, body["url"]))


def test_a_tampered_or_foreign_signature_opens_nothing(
    app: Flask, client: FlaskClient, resident: dict[str, str]
) -> None:
    photo = upload(client, resident, photo_with_gps()).get_json()
    pdf = upload(client, resident, MINIMAL_PDF, "a.pdf").get_json()
    signature = signature_of(pdf["url"])
    payload, stamp, mac = signature.split(".")
    flip = {"A": "B"}.get(mac[0], "A")  # the first character: every one of its bits counts
    assert_not_served(client.get(with_signature(pdf["url"], f"{payload}.{stamp}.{flip}{mac[1:]}")))
    # A later time stamp (a longer life) under the same MAC.
    stamp_flip = {"A": "B"}.get(stamp[0], "A")
    assert_not_served(
        client.get(with_signature(pdf["url"], f"{payload}.{stamp_flip}{stamp[1:]}.{mac}"))
    )
    assert_not_served(client.get(with_signature(pdf["url"], signature + "x")))
    assert_not_served(client.get(with_signature(pdf["url"], "not-a-signature")))
    # A link is for its own key: not another file, not even the file's own thumbnail.
    assert_not_served(client.get(with_signature(photo["url"], signature)))
    assert_not_served(
        client.get(with_signature(photo["thumbnail_url"], signature_of(photo["url"])))
    )
    # Another signature of the app over the same key (another purpose) is no link.
    key = path_of(pdf["url"]).removeprefix("/media/")
    with app.app_context():
        cursor_like = timed_serializer("cursor:needs").dumps(key)
    assert_not_served(client.get(with_signature(pdf["url"], cursor_like)))
    # The genuine link still works.
    assert fetch(client, pdf["url"]).status_code == 200


def test_a_public_file_is_served_to_anyone_unsigned(
    app: Flask, client: FlaskClient, resident: dict[str, str]
) -> None:
    pdf = upload(client, resident, MINIMAL_PDF, "a.pdf").get_json()
    old_link = pdf["url"]
    publish(app, pdf["id"])
    body = client.get(f"/api/v1/uploads/{pdf['id']}", headers=resident).get_json()
    assert body["public"] is True
    assert "?" not in body["url"]
    served = client.get(path_of(body["url"]))
    assert served.status_code == 200
    assert "immutable" in served.headers["Cache-Control"]
    # A link handed out while it was private still opens it.
    assert fetch(client, old_link).status_code == 200


def test_a_flagged_private_file_is_not_served_even_signed(
    app: Flask, client: FlaskClient, resident: dict[str, str]
) -> None:
    body = upload(client, resident, photo_with_gps()).get_json()
    with app.app_context():
        db.session.execute(
            sa.update(Upload).where(Upload.id == body["id"]).values(media_check="risky")
        )
        db.session.commit()
    assert_not_served(fetch(client, body["url"]))


def test_a_need_image_is_served_unsigned_once_the_need_is_created(
    app: Flask, client: FlaskClient
) -> None:
    actors: Actors = make_world(app, client)
    sec = actors.headers("secretary")
    cover = upload(client, sec, photo_with_gps()).get_json()
    other = upload(client, sec, photo_with_gps()).get_json()
    assert_not_served(client.get(path_of(cover["url"])))

    created = client.post(f"/api/v1/funds/{actors.fund_id}/needs",
                          json=draft_body(image_ids=[cover["id"]]), headers=sec)  # fmt: skip
    assert created.status_code == 201, created.get_json()
    need = created.get_json()
    assert need["cover_url"] == app.config["SETTINGS"].public_base_url + path_of(cover["url"])
    for url in (need["cover_url"], need["images"][0]["url"], cover["thumbnail_url"].split("?")[0]):
        served = client.get(path_of(url))
        assert served.status_code == 200, url
        assert "private" not in served.headers["Cache-Control"]
    assert "?" not in client.get(f"/api/v1/uploads/{cover['id']}", headers=sec).get_json()["url"]

    # Images added by an edit are published too; the others stay private.
    assert_not_served(client.get(path_of(other["url"])))
    edited = client.patch(f"/api/v1/needs/{need['id']}",
                          json={"image_ids": [cover["id"], other["id"]]}, headers=sec)  # fmt: skip
    assert edited.status_code == 200, edited.get_json()
    assert client.get(path_of(other["url"])).status_code == 200


def test_the_media_check_is_asked_with_a_link_that_opens_the_private_file(
    app: Flask, client: FlaskClient, resident: dict[str, str], wechat_sandbox
) -> None:
    body = upload(client, resident, photo_with_gps()).get_json()
    with app.app_context():
        trace_id = db.session.get(Upload, body["id"]).media_trace_id
    checks = requests.get(f"{wechat_sandbox.url}sandbox/media-checks", timeout=5).json()
    (asked,) = [c for c in checks["media_checks"] if c["trace_id"] == trace_id]
    assert signature_of(asked["media_url"])
    assert fetch(client, asked["media_url"]).status_code == 200
