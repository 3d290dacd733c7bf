"""A charity space's codes: the mini-program code WeChat draws (fetched once, kept, served
from the row ever after, also under two first requests at once) and the plain QR code of
the public web page. Both are decoded back from the PNG answered."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import sqlalchemy as sa
import zxingcpp
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from backend.api.schemas.base import MAX_ID
from backend.common.errors import DomainError, Kind
from backend.extensions import db
from backend.needs.models import Need, NeedStatus
from backend.spaces.codes import MAX_SCENE, SPACE_PAGE, fetch_code, scene_for
from backend.spaces.models import CharitySpace, SpaceCode
from backend.wechat_sandbox import SandboxServer
from tests.support import assert_error_shape

pytestmark = pytest.mark.usefixtures("demo")

SPACE = "jz-wh-01"


@pytest.fixture(autouse=True)
def no_codes_kept(app: Flask) -> Iterator[None]:
    """Each test starts with no mini-program code stored."""
    yield
    with app.app_context():
        db.session.execute(sa.delete(SpaceCode))
        db.session.commit()


def needs_of(app: Flask, space_code: str, *, same_fund: bool, status: NeedStatus) -> list[int]:
    """Ids of needs in `status` of the space's fund (or of other funds)."""
    with app.app_context():
        fund_id = db.session.scalar(
            sa.select(CharitySpace.fund_id).where(CharitySpace.code == space_code)
        )
        same = Need.fund_id == fund_id if same_fund else Need.fund_id != fund_id
        return list(db.session.scalars(
            sa.select(Need.id).where(same, Need.status == status).order_by(Need.id)
        ))  # fmt: skip


def decoded(png: bytes) -> list[str]:
    """The texts of every QR code in a PNG."""
    with Image.open(io.BytesIO(png)) as image:
        return [code.text for code in zxingcpp.read_barcodes(image)]


def code_query(png: bytes) -> dict[str, str]:
    """The sandbox's mini-program code is a QR code of a URL naming the page and scene."""
    (text,) = decoded(png)
    assert text.startswith("https://sandbox.weixin.qq.local/wxa?")
    return {key: value for key, [value] in parse_qs(urlsplit(text).query).items()}


def wxa_requests(sandbox: SandboxServer, scene: str) -> list[dict]:
    """The getwxacodeunlimit requests the sandbox received for `scene`."""
    answer = requests.get(f"{sandbox.url}sandbox/wxa-codes", timeout=5).json()
    return [r for r in answer["wxa_codes"] if r["scene"] == scene]


def test_the_space_code_opens_the_space_page_with_its_scene(client: FlaskClient) -> None:
    answer = client.get(f"/api/v1/spaces/{SPACE}/qrcode.png")
    assert answer.status_code == 200
    assert answer.mimetype == "image/png"
    assert "max-age=31536000" in answer.headers["Cache-Control"]
    assert "public" in answer.headers["Cache-Control"]
    query = code_query(answer.data)
    assert query["scene"] == f"s={SPACE}"
    assert query["page"] == SPACE_PAGE == "pages/space/space"


def test_a_need_code_carries_the_need_in_its_scene(app: Flask, client: FlaskClient) -> None:
    need_id = needs_of(app, SPACE, same_fund=True, status=NeedStatus.FUNDRAISING)[0]
    answer = client.get(f"/api/v1/spaces/{SPACE}/qrcode.png?need_id={need_id}")
    assert answer.status_code == 200
    assert code_query(answer.data)["scene"] == f"s={SPACE}&n={need_id}"
    with app.app_context():
        row = db.session.scalars(sa.select(SpaceCode)).one()
        assert (row.scene, row.need_id, row.png) == (f"s={SPACE}&n={need_id}", need_id, answer.data)


def test_wechat_is_asked_once_per_scene(
    app: Flask, client: FlaskClient, wechat_sandbox: SandboxServer
) -> None:
    scene = f"s={SPACE}"
    before = len(wxa_requests(wechat_sandbox, scene))
    first = client.get(f"/api/v1/spaces/{SPACE}/qrcode.png")
    assert len(wxa_requests(wechat_sandbox, scene)) == before + 1
    with app.app_context():
        fetched_at = db.session.scalars(sa.select(SpaceCode.fetched_at)).one()
    for _ in range(3):
        again = client.get(f"/api/v1/spaces/{SPACE}/qrcode.png")
        assert again.status_code == 200
        assert again.data == first.data
    assert len(wxa_requests(wechat_sandbox, scene)) == before + 1
    with app.app_context():
        assert db.session.scalars(sa.select(SpaceCode.fetched_at)).one() == fetched_at
    [asked] = wxa_requests(wechat_sandbox, scene)[before:]
    assert asked["page"] == SPACE_PAGE
    assert asked["check_path"] is False
    assert asked["errcode"] == 0


def test_a_stored_code_is_served_even_when_wechat_is_down(
    app: Flask, client: FlaskClient, make_app
) -> None:
    stored = client.get(f"/api/v1/spaces/{SPACE}/qrcode.png")
    assert stored.status_code == 200
    # The same database, WeChat unreachable: the kept code is all that is needed.
    dead = make_app({"WECHAT_API_BASE": "http://127.0.0.1:9/"}).test_client()
    again = dead.get(f"/api/v1/spaces/{SPACE}/qrcode.png")
    assert again.status_code == 200
    assert again.data == stored.data
    # A scene never fetched: WeChat's failure is a 502 that says so, and nothing is kept.
    need_id = needs_of(app, SPACE, same_fund=True, status=NeedStatus.FUNDRAISING)[0]
    failed = dead.get(f"/api/v1/spaces/{SPACE}/qrcode.png?need_id={need_id}")
    assert failed.status_code == 502
    assert_error_shape(failed.get_json(), 502, "wechat_unreachable")
    assert "小程序码" in failed.get_json()["message"]
    with app.app_context():
        assert db.session.scalars(sa.select(SpaceCode.scene)).all() == [f"s={SPACE}"]


def test_two_first_requests_at_once_both_succeed_with_one_row(
    app: Flask, wechat_sandbox: SandboxServer
) -> None:
    need_id = needs_of(app, SPACE, same_fund=True, status=NeedStatus.FUNDRAISING)[-1]
    url = f"/api/v1/spaces/{SPACE}/qrcode.png?need_id={need_id}"
    start = threading.Barrier(4)
    answers: list[tuple[int, bytes]] = []

    def fetch() -> None:
        client = app.test_client()
        start.wait(5)
        answer = client.get(url)
        answers.append((answer.status_code, answer.data))

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [status for status, _ in answers] == [200] * 4
    assert len({data for _, data in answers}) == 1
    # Each may have asked WeChat before the first row was committed; one row is kept.
    assert 1 <= len(wxa_requests(wechat_sandbox, f"s={SPACE}&n={need_id}")) <= 4
    with app.app_context():
        assert db.session.scalars(sa.select(SpaceCode.scene)).all() == [f"s={SPACE}&n={need_id}"]


def test_a_need_of_another_fund_or_not_public_is_not_found(
    app: Flask, client: FlaskClient, wechat_sandbox: SandboxServer
) -> None:
    other = needs_of(app, SPACE, same_fund=False, status=NeedStatus.FUNDRAISING)[0]
    for path in ("qrcode.png", "webqr.png", "poster"):
        answer = client.get(f"/api/v1/spaces/{SPACE}/{path}?need_id={other}")
        assert answer.status_code == 404
        assert_error_shape(answer.get_json(), 404, "need_not_found")
    drafts = needs_of(app, SPACE, same_fund=True, status=NeedStatus.DRAFT)
    for need_id in drafts[:1]:
        answer = client.get(f"/api/v1/spaces/{SPACE}/qrcode.png?need_id={need_id}")
        assert_error_shape(answer.get_json(), 404, "need_not_found")
    answer = client.get("/api/v1/spaces/no-such-space/qrcode.png")
    assert_error_shape(answer.get_json(), 404, "space_not_found")
    assert wxa_requests(wechat_sandbox, f"s={SPACE}&n={other}") == []
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SpaceCode)) == 0


def test_bad_need_ids_are_refused_by_the_query_schema(client: FlaskClient) -> None:
    for bad in ("0", "-1", str(MAX_ID + 1), "x"):
        answer = client.get(f"/api/v1/spaces/{SPACE}/qrcode.png?need_id={bad}")
        assert answer.status_code == 422
        assert "need_id" in answer.get_json()["errors"]


def test_no_scene_can_exceed_wechats_limit() -> None:
    # The database's rule on space codes: at most 16 characters.
    (rule,) = [c for c in CharitySpace.__table__.constraints if "code_format" in str(c.name)]
    assert "{1,15}$" in str(rule.sqltext)
    longest = scene_for("a" + "b-" * 7 + "z", MAX_ID)  # a 16-character code, the largest id
    assert len(longest) == 31 <= MAX_SCENE
    with pytest.raises(ValueError, match="32"):
        scene_for("a" * 20, MAX_ID)


def test_the_plain_qr_code_points_at_the_public_pages(app: Flask, client: FlaskClient) -> None:
    base = app.config["SETTINGS"].public_base_url
    answer = client.get(f"/api/v1/spaces/{SPACE}/webqr.png")
    assert answer.status_code == 200
    assert answer.mimetype == "image/png"
    assert "public" in answer.headers["Cache-Control"]
    assert decoded(answer.data) == [f"{base}/p/spaces/{SPACE}"]
    need_id = needs_of(app, SPACE, same_fund=True, status=NeedStatus.FUNDRAISING)[0]
    answer = client.get(f"/api/v1/spaces/{SPACE}/webqr.png?need_id={need_id}")
    assert decoded(answer.data) == [f"{base}/p/needs/{need_id}?s={SPACE}"]
    with app.app_context():  # drawn on demand: WeChat is not involved
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SpaceCode)) == 0


def test_a_wechat_error_is_an_upstream_failure_in_chinese(
    app: Flask, wechat_sandbox: SandboxServer
) -> None:
    with app.app_context(), pytest.raises(DomainError) as refused:
        fetch_code("s=空间")  # WeChat answers 40129 (invalid scene) for characters beyond ASCII
    assert refused.value.kind is Kind.UPSTREAM
    assert refused.value.error == "wechat_code_failed"
    assert "小程序码" in refused.value.message
    [asked] = wxa_requests(wechat_sandbox, "s=空间")
    assert asked["errcode"] == 40129
