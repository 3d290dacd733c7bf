"""Uploads in an S3-compatible object store: a real S3-protocol server (moto's, over HTTP)
that the test starts, reached by the app through boto3, as Tencent COS is in production."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from flask import Flask
from moto.server import ThreadedMotoServer

from backend.config import ConfigError, Settings
from backend.extensions import db
from backend.uploads.models import MediaCheck, Upload
from backend.uploads.s3 import S3Storage
from backend.uploads.storage import get_storage, new_key
from backend.uploads.urls import LINK_SECONDS
from tests.conftest import free_port
from tests.permissions import Actors, login
from tests.spending_support import auth, decide, disburse, fresh_need, give, spending_team, submit
from tests.test_uploads import MINIMAL_PDF, fetch, photo_with_gps, publish, upload

pytestmark = pytest.mark.usefixtures("demo")

#: moto accepts any keys; the app signs with them as it would with COS's
KEYS = {"S3_ACCESS_KEY_ID": "test-access-key", "S3_SECRET_ACCESS_KEY": "test-secret-key"}
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    """moto's S3 server on a free port, for this module."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_server: str) -> str:
    """A new, empty bucket for one test."""
    name = f"linshan-{secrets.token_hex(4)}"
    admin(s3_server).create_bucket(Bucket=name)
    return name


def admin(endpoint: str) -> Any:
    """A boto3 client of the test's own, to look at the bucket behind the app's back."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEYS["S3_ACCESS_KEY_ID"],
        aws_secret_access_key=KEYS["S3_SECRET_ACCESS_KEY"],
    )


def s3_env(endpoint: str, bucket: str, public: bool = False) -> dict[str, str]:
    """The settings of an app keeping its uploads in `bucket`."""
    env = {
        "STORAGE": "s3",
        "S3_ENDPOINT_URL": endpoint,
        "S3_BUCKET": bucket,
        "S3_REGION": "us-east-1",
        "S3_ADDRESSING_STYLE": "path",
        **KEYS,
    }
    if public:
        env["S3_PUBLIC_BASE_URL"] = f"{endpoint}/{bucket}"
    return env


@pytest.fixture
def s3_app(make_app: Callable[..., Flask], s3_server: str, bucket: str) -> Flask:
    """An app whose storage is the bucket; every file served by the app (no public URL)."""
    return make_app(env=s3_env(s3_server, bucket))


@pytest.fixture
def resident(s3_app: Flask) -> dict[str, str]:
    return auth(login(s3_app.test_client(), f"s3-resident-{secrets.token_hex(3)}")["token"])


def objects(endpoint: str, bucket: str) -> dict[str, dict[str, Any]]:
    """Every object of the bucket: key -> its HEAD (type, disposition, size)."""
    client = admin(endpoint)
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: client.head_object(Bucket=bucket, Key=o["Key"]) for o in listed}


def key_of(url: str) -> str:
    return urlsplit(url).path.removeprefix("/media/")


def readable_by_anyone(endpoint: str, bucket: str, key: str) -> bool:
    """Whether the object's ACL grants READ to everyone."""
    grants = admin(endpoint).get_object_acl(Bucket=bucket, Key=key)["Grants"]
    return any(
        g["Grantee"].get("URI") == ALL_USERS and g["Permission"] in ("READ", "FULL_CONTROL")
        for g in grants
    )


def test_an_upload_is_stored_in_the_bucket_with_its_thumbnail_and_served_privately(
    s3_app: Flask, s3_server: str, bucket: str, resident: dict[str, str]
) -> None:
    client = s3_app.test_client()
    response = upload(client, resident, photo_with_gps(), "门口.jpg")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    key, thumb = key_of(body["url"]), key_of(body["thumbnail_url"])
    stored = objects(s3_server, bucket)
    assert set(stored) == {key, thumb}
    assert stored[key]["ContentType"] == "image/jpeg"
    assert stored[thumb]["ContentType"] == "image/jpeg"
    assert stored[key]["ContentDisposition"].startswith("inline")
    # Nothing on this node's disk.
    assert not (Path(s3_app.instance_path) / "uploads" / key).exists()
    # Written private: nobody reads it from the bucket.
    assert not readable_by_anyone(s3_server, bucket, key)
    assert not readable_by_anyone(s3_server, bucket, thumb)

    with s3_app.app_context():
        row = db.session.get(Upload, body["id"])
        assert row is not None and row.storage_key == key and row.thumbnail_key == thumb
    in_bucket = admin(s3_server).get_object(Bucket=bucket, Key=key)["Body"].read()
    assert in_bucket[:3] == b"\xff\xd8\xff"
    assert row.size == len(in_bucket)

    # The app streams it from the bucket, only through the signed link, with /media/'s headers.
    assert client.get(urlsplit(body["url"]).path).status_code == 404
    served = fetch(client, body["url"])
    assert served.status_code == 200
    assert served.get_data() == in_bucket
    assert served.headers["Content-Type"] == "image/jpeg"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served.headers["Content-Security-Policy"]
    assert served.headers["Cache-Control"] == "private, no-store"
    small = fetch(client, body["thumbnail_url"])
    assert small.status_code == 200 and len(small.get_data()) < len(in_bucket)


def test_a_pdf_is_an_attachment_in_the_bucket_and_when_served(
    s3_app: Flask, s3_server: str, bucket: str, resident: dict[str, str]
) -> None:
    client = s3_app.test_client()
    body = upload(client, resident, MINIMAL_PDF, "发票.pdf").get_json()
    key = key_of(body["url"])
    (stored,) = objects(s3_server, bucket).values()
    assert stored["ContentType"] == "application/pdf"
    assert stored["ContentDisposition"].startswith("attachment")
    served = fetch(client, body["url"])
    assert served.status_code == 200 and served.get_data() == MINIMAL_PDF
    assert served.headers["Content-Disposition"].startswith("attachment")
    assert key.endswith(".pdf")


def test_a_signed_link_lasts_an_hour_by_the_app_clock(
    s3_app: Flask, resident: dict[str, str], clock
) -> None:
    client = s3_app.test_client()
    body = upload(client, resident, MINIMAL_PDF, "收据.pdf").get_json()
    clock.advance(seconds=LINK_SECONDS)
    assert fetch(client, body["url"]).status_code == 200
    clock.advance(seconds=1)
    assert fetch(client, body["url"]).status_code == 404


def test_a_file_uploaded_through_one_node_is_served_by_another(
    s3_app: Flask, make_app: Callable[..., Flask], s3_server: str, bucket: str,
    resident: dict[str, str],
) -> None:  # fmt: skip
    other = make_app(env=s3_env(s3_server, bucket))
    body = upload(s3_app.test_client(), resident, photo_with_gps()).get_json()
    served = fetch(other.test_client(), body["url"])
    assert served.status_code == 200
    assert served.get_data()[:3] == b"\xff\xd8\xff"


def test_a_refused_upload_leaves_nothing_in_the_bucket(
    make_app: Callable[..., Flask], s3_server: str, bucket: str, resident: dict[str, str]
) -> None:
    # No port 1 listens: WeChat's media check cannot be asked for, so the image is refused.
    offline = make_app(env={**s3_env(s3_server, bucket), "WECHAT_API_BASE": "http://127.0.0.1:1/"})
    response = upload(offline.test_client(), resident, photo_with_gps())
    assert response.status_code == 502, response.get_json()
    assert objects(s3_server, bucket) == {}


def test_the_storage_saves_opens_and_deletes(s3_app: Flask, s3_server: str, bucket: str) -> None:
    with s3_app.app_context():
        storage = get_storage()
        assert isinstance(storage, S3Storage)
        key = new_key("pdf")
        assert not storage.exists(key)
        with pytest.raises(FileNotFoundError):
            storage.open(key)
        storage.save(key, MINIMAL_PDF, "application/pdf")
        assert storage.exists(key)
        assert storage.open(key) == MINIMAL_PDF
        assert storage.url(key) == f"{s3_app.config['SETTINGS'].public_base_url}/media/{key}"
        storage.delete(key)
        storage.delete(key)  # a second time is no error
        assert not storage.exists(key)
        with pytest.raises(ValueError, match="invalid storage key"):
            storage.save("../../etc/passwd", b"x", "image/png")
    assert objects(s3_server, bucket) == {}


@pytest.fixture(scope="module")
def team(app: Flask) -> Actors:
    from backend.funds.models import Fund

    actors = spending_team(app, "S3")
    with app.app_context():
        # one approval by a secretary or committee member, whatever the amount
        db.session.get(Fund, actors.fund_id).committee_threshold_fen = 100_000_000
        db.session.commit()
    return actors


def test_published_evidence_is_public_in_the_bucket_and_the_rest_stays_private(
    app: Flask, make_app: Callable[..., Flask], s3_server: str, bucket: str, team: Actors
) -> None:
    public_app = make_app(env=s3_env(s3_server, bucket, public=True))
    client = public_app.test_client()
    donor = login(client, "s3-donor")["token"]
    need_id = fresh_need(client, team)
    give(app, client, donor, 50_000, need_id=need_id)

    submitted = submit(client, team, 20_000, need_id=need_id)
    assert submitted.status_code == 201, submitted.get_json()
    expense = submitted.get_json()
    (attachment,) = expense["attachments"]
    private_url = attachment["upload"]["url"]
    # Before it is spent, the evidence is private: a signed link to the app, not the bucket.
    assert private_url.startswith(public_app.config["SETTINGS"].public_base_url + "/media/")
    assert "?sig=" in private_url
    key = key_of(private_url)
    assert not readable_by_anyone(s3_server, bucket, key)
    assert fetch(client, private_url).status_code == 200

    assert decide(client, team, expense["id"], "committee").status_code == 200
    assert not readable_by_anyone(s3_server, bucket, key)
    paid = disburse(client, team, expense["id"])
    assert paid.status_code == 200, paid.get_json()

    ledger = client.get(f"/api/v1/needs/{need_id}/ledger").get_json()
    (shown,) = ledger["expenses"]
    assert [e["stage"] for e in shown["evidence"]] == ["evidence", "disbursement"]
    for item in shown["evidence"]:
        for url, content_type in ((item["url"], item["content_type"]),
                                  (item["thumbnail_url"], "image/jpeg")):  # fmt: skip
            # Read straight from the bucket's public URL, by anyone, with its type.
            assert url.startswith(f"{s3_server}/{bucket}/") and "?" not in url
            assert readable_by_anyone(s3_server, bucket, url.removeprefix(f"{s3_server}/{bucket}/"))
            fetched = requests.get(url, timeout=5)
            assert fetched.status_code == 200
            assert fetched.headers["Content-Type"] == content_type
            assert fetched.content[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xdb")
    assert shown["evidence"][0]["url"].endswith(key)

    # WeChat flags a published image: its objects are made private again.
    with public_app.app_context():
        row = db.session.scalar(db.select(Upload).where(Upload.storage_key == key))
        row.media_check = MediaCheck.RISKY
        db.session.commit()
    assert not readable_by_anyone(s3_server, bucket, key)
    assert fetch(client, f"/media/{key}").status_code == 404


def test_sync_acl_repairs_what_the_watcher_did_not_see(
    make_app: Callable[..., Flask], s3_server: str, bucket: str
) -> None:
    public_app = make_app(env=s3_env(s3_server, bucket, public=True))
    client = public_app.test_client()
    token = login(client, f"s3-sync-{secrets.token_hex(3)}")["token"]
    body = upload(client, auth(token), MINIMAL_PDF, "a.pdf").get_json()
    key = key_of(body["url"])
    # A bulk UPDATE flushes no object: the session never sees the upload published.
    publish(public_app, body["id"])
    assert not readable_by_anyone(s3_server, bucket, key)
    result = public_app.test_cli_runner().invoke(args=["uploads", "sync-acl"])
    assert result.exit_code == 0, result.output
    assert readable_by_anyone(s3_server, bucket, key)
    # The demo's uploads are in another store: named as missing, not a failure.
    assert "\n1 objects set," in "\n" + result.output
    assert "uploads missing" in result.output and "missing from the bucket" in result.output


def test_storage_settings_are_checked_at_start_up() -> None:
    base = {"APP_ENV": "development", "STORAGE": "s3"}
    with pytest.raises(ConfigError, match="S3_BUCKET is required"):
        Settings.from_env(base)
    with pytest.raises(ConfigError, match="STORAGE must be"):
        Settings.from_env({"STORAGE": "ftp"})
    with pytest.raises(ConfigError, match="both S3_ACCESS_KEY_ID"):
        Settings.from_env({**base, "S3_BUCKET": "linshan-1250000000", "S3_ACCESS_KEY_ID": "k"})
    with pytest.raises(ConfigError, match="S3_PUBLIC_BASE_URL must be"):
        Settings.from_env({**base, "S3_BUCKET": "linshan", "S3_PUBLIC_BASE_URL": "cdn.example"})
    with pytest.raises(ConfigError, match="S3_BUCKET must be"):
        Settings.from_env({**base, "S3_BUCKET": "Bad_Bucket"})
    good = Settings.from_env(
        {**base, "S3_BUCKET": "linshan-1250000000", "S3_REGION": "ap-guangzhou",
         "S3_ENDPOINT_URL": "https://cos.ap-guangzhou.myqcloud.com",
         "S3_PUBLIC_BASE_URL": "https://media.example.org/"}
    )  # fmt: skip
    assert good.storage.kind == "s3"
    assert good.storage.s3_region == "ap-guangzhou"
    assert good.storage.s3_public_base_url == "https://media.example.org"
    assert Settings.from_env({}).storage.kind == "local"


def test_production_on_the_local_disk_is_warned_about(tmp_path: Path) -> None:
    from tests.test_config import PROD_BASE

    cert, key = tmp_path / "apiclient_cert.pem", tmp_path / "apiclient_key.pem"
    cert.write_text("cert")
    key.write_text("key")
    env = {**PROD_BASE, "WECHAT_MCH_CERT_PATH": str(cert), "WECHAT_MCH_KEY_PATH": str(key)}
    assert Settings.from_env(env).warnings == ()
    local = {k: v for k, v in env.items() if not k.startswith(("STORAGE", "S3_"))}
    (warning,) = Settings.from_env(local).warnings
    assert "STORAGE=local in production" in warning
    with pytest.raises(ConfigError, match="S3_ENDPOINT_URL must use https"):
        Settings.from_env({**env, "S3_ENDPOINT_URL": "http://cos.ap-guangzhou.myqcloud.com"})
