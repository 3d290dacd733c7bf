"""Progress updates with photos: posted in order, public from then on, shown on the need's
page and recorded in the audit log."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from backend.accounts.tokens import issue_token
from backend.common.time import utcnow
from backend.extensions import db
from backend.funds.models import Foundation, Fund
from backend.needs.models import Need, NeedCategory, NeedStatus, ProgressUpdate
from backend.regions.models import RegionLevel
from backend.regions.services import add_region
from backend.uploads.models import Upload
from tests.permissions import Actors, login, make_actors
from tests.support import assert_error_shape, counting_queries
from tests.test_uploads import MINIMAL_PDF, fetch, photo_with_gps, png_with_metadata, upload

pytestmark = pytest.mark.usefixtures("clean")


# --- a fund of our own, with every role --------------------------------------------------


def make_world(app: Flask, client: FlaskClient) -> Actors:
    """Two foundations, a fund in each, and every actor of `tests.permissions` logged in
    (tokens issued at the clock's time)."""
    with app.app_context():
        city = add_region("照片市", RegionLevel.CITY, None)
        community = add_region("照片社区", RegionLevel.COMMUNITY, city)
        ours = Foundation(
            name="照片测试基金会", credit_code="53000000PHOTO001X", mch_id="1900000301"
        )
        theirs = Foundation(name="别家基金会", credit_code="53000000PHOTO002X", mch_id="1900000302")
        fund = Fund(foundation=ours, region=community, name="照片测试基金",
                    committee_threshold_fen=100_000)  # fmt: skip
        other = Fund(foundation=theirs, region=community, name="别家基金",
                     committee_threshold_fen=100_000)  # fmt: skip
        db.session.add_all([fund, other])
        db.session.commit()
        return make_actors(app, client, fund, other, theirs.id)


def renew_tokens(app: Flask, actors: Actors) -> None:
    """Issue every actor a token at the clock's present time (after the clock moved)."""
    with app.app_context():
        for actor, user_id in actors.user_ids.items():
            actors.tokens[actor] = issue_token(user_id).token


def add_need(
    app: Flask,
    fund_id: int,
    title: str,
    *,
    published_at: datetime | None = None,
    status: NeedStatus = NeedStatus.FUNDRAISING,
    ended_at: datetime | None = None,
) -> int:
    """A need of the fund, published at `published_at` (now by default) unless a draft."""
    with app.app_context():
        fund = db.session.get(Fund, fund_id)
        assert fund is not None
        public = status not in (NeedStatus.DRAFT, NeedStatus.SUBMITTED)
        need = Need(fund=fund, region_id=fund.region_id, category=NeedCategory.ELDERLY,
                    title=title, story="为社区老人提供助餐服务的测试项目说明。", goal_fen=100_000,
                    status=status, published_at=(published_at or utcnow()) if public else None,
                    ended_at=ended_at)  # fmt: skip
        db.session.add(need)
        db.session.commit()
        return need.id


@pytest.fixture
def world(app: Flask, client: FlaskClient) -> Actors:
    return make_world(app, client)


def post_update(client: FlaskClient, actors: Actors, need_id: int, **body) -> object:
    body = {"text": "助餐点已开始供餐，每天服务三十位老人。", **body}
    return client.post(f"/api/v1/needs/{need_id}/updates", json=body,
                       headers=actors.headers("secretary"))  # fmt: skip


def is_public(app: Flask, upload_id: int) -> bool:
    with app.app_context():
        found = db.session.get(Upload, upload_id)
        assert found is not None
        return found.public


def update_count(app: Flask, need_id: int) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(sa.func.count()).where(ProgressUpdate.need_id == need_id)
        )


# --- posting photos ------------------------------------------------------------------------


def test_an_update_shows_its_photos_in_order_and_they_become_public(
    app: Flask, client: FlaskClient, world: Actors
) -> None:
    sec = world.headers("secretary")
    nid = add_need(app, world.fund_id, "助餐点建设")
    first = upload(client, sec, photo_with_gps()).get_json()
    second = upload(client, sec, png_with_metadata(), "kitchen.png").get_json()
    # Just uploaded: private, behind signed links.
    assert "sig=" in first["url"]
    assert client.get(urlsplit(first["url"]).path).status_code == 404

    answer = post_update(client, world, nid, attachment_ids=[second["id"], first["id"]])
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert [urlsplit(i["url"]).path for i in body["images"]] == [
        urlsplit(second["url"]).path,
        urlsplit(first["url"]).path,
    ]
    for image in body["images"]:
        # Public now: plain links that anyone opens, thumbnails too.
        assert "?" not in image["url"] and "?" not in image["thumbnail_url"]
        for url in (image["url"], image["thumbnail_url"]):
            served = fetch(client, url)
            assert served.status_code == 200
            assert "private" not in served.headers["Cache-Control"]
    assert is_public(app, first["id"]) and is_public(app, second["id"])

    page = client.get(f"/api/v1/needs/{nid}").get_json()
    (shown,) = page["updates"]
    assert shown["images"] == body["images"]
    back_office = client.get(f"/api/v1/funds/{world.fund_id}/needs/{nid}", headers=sec).get_json()
    assert back_office["updates"][0]["images"] == body["images"]

    events = client.get(f"/api/v1/funds/{world.fund_id}/audit",
                        headers=world.headers("supervisor")).get_json()["items"]  # fmt: skip
    (posted,) = [e for e in events if e["action"] == "need.update_posted"]
    assert posted["object_id"] == nid
    assert posted["changes"]["image_ids"] == [second["id"], first["id"]]
    assert posted["changes"]["update_id"] == body["id"]


def test_an_update_without_photos_still_posts(
    app: Flask, client: FlaskClient, world: Actors
) -> None:
    nid = add_need(app, world.fund_id, "无照片进展")
    answer = post_update(client, world, nid, kind="disclosure")
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["images"] == []
    assert answer.get_json()["kind"] == "disclosure"
    events = client.get(f"/api/v1/funds/{world.fund_id}/audit",
                        headers=world.headers("secretary")).get_json()["items"]  # fmt: skip
    assert events[0]["changes"]["image_ids"] == []


def test_unusable_photos_are_refused_and_nothing_is_posted_or_published(
    app: Flask, client: FlaskClient, world: Actors
) -> None:
    sec = world.headers("secretary")
    nid = add_need(app, world.fund_id, "照片校验项目")
    photo = upload(client, sec, photo_with_gps()).get_json()
    pdf = upload(client, sec, MINIMAL_PDF, "receipt.pdf").get_json()
    stranger = {"Authorization": f"Bearer {login(client, 'photo-stranger')['token']}"}
    theirs = upload(client, stranger, photo_with_gps()).get_json()

    for ids in (
        [photo["id"], pdf["id"]],  # a PDF is no photo
        [theirs["id"]],  # someone else's upload
        [photo["id"], photo["id"]],  # twice
        [photo["id"], 99_999_999],  # no such upload
    ):
        refused = post_update(client, world, nid, attachment_ids=ids)
        assert refused.status_code == 422, (ids, refused.get_json())
        assert_error_shape(refused.get_json(), 422, "invalid_attachment_ids")
        assert "attachment_ids" in refused.get_json()["errors"]

    too_many = post_update(client, world, nid, attachment_ids=list(range(1, 11)))
    assert too_many.status_code == 422
    assert "attachment_ids" in too_many.get_json()["errors"]
    not_ids = post_update(client, world, nid, attachment_ids=["x"])
    assert not_ids.status_code == 422

    assert update_count(app, nid) == 0
    assert not any(is_public(app, u["id"]) for u in (photo, pdf, theirs))


def test_a_draft_takes_no_update_and_its_photos_stay_private(
    app: Flask, client: FlaskClient, world: Actors
) -> None:
    sec = world.headers("secretary")
    nid = add_need(app, world.fund_id, "草稿项目", status=NeedStatus.DRAFT)
    photo = upload(client, sec, photo_with_gps()).get_json()
    refused = post_update(client, world, nid, attachment_ids=[photo["id"]])
    assert_error_shape(refused.get_json(), 409, "need_not_public")
    assert not is_public(app, photo["id"])


def test_only_the_secretary_posts_photos(app: Flask, client: FlaskClient, world: Actors) -> None:
    nid = add_need(app, world.fund_id, "权限项目")
    admin = world.headers("foundation_admin")
    photo = upload(client, admin, photo_with_gps()).get_json()
    refused = client.post(f"/api/v1/needs/{nid}/updates", headers=admin,
                          json={"text": "基金会管理员不能发布项目进展。", "attachment_ids": [photo["id"]]})  # fmt: skip
    assert refused.status_code == 403
    assert not is_public(app, photo["id"])


def test_the_need_page_reads_photos_without_a_query_per_update(
    app: Flask, client: FlaskClient, world: Actors
) -> None:
    sec = world.headers("secretary")
    few, many = add_need(app, world.fund_id, "少量进展"), add_need(app, world.fund_id, "大量进展")
    photo = upload(client, sec, photo_with_gps()).get_json()
    assert post_update(client, world, few, attachment_ids=[photo["id"]]).status_code == 201
    for _ in range(5):
        ids = [upload(client, sec, photo_with_gps()).get_json()["id"] for _ in range(2)]
        assert post_update(client, world, many, attachment_ids=ids).status_code == 201

    counts = {}
    for nid in (few, many):
        with counting_queries(app) as statements:
            page = client.get(f"/api/v1/needs/{nid}")
        assert page.status_code == 200
        counts[nid] = len(statements)
    assert len(client.get(f"/api/v1/needs/{many}").get_json()["updates"]) == 5
    assert counts[few] == counts[many], counts

    with counting_queries(app) as statements:
        assert (
            client.get(f"/api/v1/funds/{world.fund_id}/needs/{many}", headers=sec).status_code
            == 200
        )
    with counting_queries(app) as fewer:
        assert (
            client.get(f"/api/v1/funds/{world.fund_id}/needs/{few}", headers=sec).status_code == 200
        )
    assert len(statements) == len(fewer)


def test_the_openapi_document_shows_photos(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    assert "attachment_ids" in schemas["ProgressInput"]["properties"]
    assert "images" in schemas["Update"]["properties"]
