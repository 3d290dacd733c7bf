"""The printable A4 poster of a charity space or of one of its needs, PNG and PDF: both
codes decode from the page (the PDF rendered at 150 dpi), the text is real Chinese in
the font (no boxes), the figures are today's, and it is quick to make."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, unquote, urlsplit

import pypdfium2
import pytest
import requests
import schemathesis
import sqlalchemy as sa
import zxingcpp
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backend.common.money import yuan
from backend.extensions import db
from backend.needs.models import Need, NeedStatus
from backend.needs.services import with_figures
from backend.spaces.models import CharitySpace
from backend.spaces.poster import (
    PNG_SIZE,
    Text,
    layout_poster,
    poster_data,
    text_width,
    wrap,
)
from backend.wechat_sandbox import SandboxServer
from tests.support import assert_every_glyph_drawn

pytestmark = pytest.mark.usefixtures("demo")

# each test starts with no mini-program code stored (the autouse fixture of the codes' tests)
from tests.test_space_codes import SPACE, no_codes_kept  # noqa: E402, F401


@pytest.fixture(scope="module")
def need_id(app: Flask, demo: dict[str, int]) -> int:
    """A fundraising need of the space's fund."""
    with app.app_context():
        fund_id = db.session.scalar(
            sa.select(CharitySpace.fund_id).where(CharitySpace.code == SPACE)
        )
        return db.session.scalars(
            sa.select(Need.id)
            .where(Need.fund_id == fund_id, Need.status == NeedStatus.FUNDRAISING)
            .order_by(Need.id)
        ).first()


def codes_in(image: Image.Image) -> dict[str, str]:
    """The QR codes on a page: {"wxa": scene of the mini-program code, "web": the URL}."""
    found: dict[str, str] = {}
    for code in zxingcpp.read_barcodes(image.convert("L")):
        if code.text.startswith("https://sandbox.weixin.qq.local/wxa?"):
            [scene] = parse_qs(urlsplit(code.text).query)["scene"]
            found["wxa"] = scene
        else:
            found["web"] = code.text
    return found


def pdf_page(content: bytes) -> tuple[Image.Image, str, tuple[float, float]]:
    """The PDF's one page rendered at 150 dpi, its text, and its size in points."""
    document = pypdfium2.PdfDocument(content)
    try:
        assert len(document) == 1
        page = document[0]
        size = page.get_size()
        image = page.render(scale=150 / 72).to_pil()
        textpage = page.get_textpage()
        text = textpage.get_text_range()
        textpage.close()
        page.close()
    finally:
        document.close()
    return image, text, size


def test_the_need_poster_png_carries_both_codes(
    app: Flask, client: FlaskClient, need_id: int
) -> None:
    answer = client.get(f"/api/v1/spaces/{SPACE}/poster?format=png&need_id={need_id}")
    assert answer.status_code == 200
    assert answer.mimetype == "image/png"
    disposition = answer.headers["Content-Disposition"]
    assert f'filename="linshan-poster-{SPACE}-need-{need_id}.png"' in disposition
    with app.app_context():
        title = db.session.get(Need, need_id).title
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == f"{title}-海报.png"
    assert "max-age=60" in answer.headers["Cache-Control"]
    with Image.open(io.BytesIO(answer.data)) as image:
        assert image.size == PNG_SIZE == (1240, 1754)
        found = codes_in(image)
    base = app.config["SETTINGS"].public_base_url
    assert found == {"wxa": f"s={SPACE}&n={need_id}", "web": f"{base}/p/needs/{need_id}?s={SPACE}"}


def test_the_need_poster_pdf_is_a4_with_both_codes_and_real_text(
    app: Flask, client: FlaskClient, need_id: int
) -> None:
    answer = client.get(f"/api/v1/spaces/{SPACE}/poster?format=pdf&need_id={need_id}")
    assert answer.status_code == 200
    assert answer.mimetype == "application/pdf"
    assert answer.data.startswith(b"%PDF-")
    assert (
        f'filename="linshan-poster-{SPACE}-need-{need_id}.pdf"'
        in answer.headers["Content-Disposition"]
    )
    image, text, size = pdf_page(answer.data)
    assert size == pytest.approx((595.28, 841.89), abs=0.5)  # A4 in points
    assert codes_in(image) == {
        "wxa": f"s={SPACE}&n={need_id}",
        "web": f"{app.config['SETTINGS'].public_base_url}/p/needs/{need_id}?s={SPACE}",
    }
    with app.app_context():
        need = db.session.get(Need, need_id)
        (card,) = with_figures([need])
        space = db.session.scalar(sa.select(CharitySpace).where(CharitySpace.code == SPACE))
        expected = [
            f"已筹 {yuan(card.raised_fen)}", f"目标 {yuan(need.goal_fen)}",
            "微信扫码捐赠", "手机相机扫码查看账目", space.name,
            space.fund.foundation.name, space.fund.foundation.credit_code,
        ]  # fmt: skip
        if need.filing_number:
            expected.append(need.filing_number)
        title = need.title
    flat = "".join(text.split())
    for piece in expected:
        assert "".join(piece.split()) in flat, piece
    # The title may be wrapped over lines, never lost.
    assert "".join(title.split()) in flat


def test_the_space_poster_lists_its_needs(app: Flask, client: FlaskClient) -> None:
    answer = client.get(f"/api/v1/spaces/{SPACE}/poster")  # PNG by default
    assert answer.status_code == 200
    assert answer.mimetype == "image/png"
    assert f'filename="linshan-poster-{SPACE}.png"' in answer.headers["Content-Disposition"]
    with Image.open(io.BytesIO(answer.data)) as image:
        found = codes_in(image)
    base = app.config["SETTINGS"].public_base_url
    assert found == {"wxa": f"s={SPACE}", "web": f"{base}/p/spaces/{SPACE}"}

    pdf = client.get(f"/api/v1/spaces/{SPACE}/poster?format=pdf")
    image, text, _ = pdf_page(pdf.data)
    assert codes_in(image) == found
    with app.app_context():
        space = db.session.scalar(sa.select(CharitySpace).where(CharitySpace.code == SPACE))
        address = space.address
    flat = "".join(text.split())
    assert "正在筹款的项目" in flat
    assert address in flat


def test_the_poster_uses_the_stored_code(
    client: FlaskClient, need_id: int, wechat_sandbox: SandboxServer
) -> None:
    def asked() -> int:
        answer = requests.get(f"{wechat_sandbox.url}sandbox/wxa-codes", timeout=5).json()
        return sum(r["scene"] == f"s={SPACE}&n={need_id}" for r in answer["wxa_codes"])

    before = asked()
    for fmt in ("png", "pdf", "png"):
        answer = client.get(f"/api/v1/spaces/{SPACE}/poster?format={fmt}&need_id={need_id}")
        assert answer.status_code == 200
    assert asked() == before + 1
    code = client.get(f"/api/v1/spaces/{SPACE}/qrcode.png?need_id={need_id}")
    assert code.status_code == 200
    assert asked() == before + 1


def test_unknown_formats_are_refused(client: FlaskClient) -> None:
    answer = client.get(f"/api/v1/spaces/{SPACE}/poster?format=gif")
    assert answer.status_code == 422
    assert "format" in answer.get_json()["errors"]


def test_every_character_on_the_poster_has_a_glyph(app: Flask, need_id: int) -> None:
    with app.test_request_context():
        texts = [
            item.text
            for data in (poster_data(SPACE, need_id), poster_data(SPACE, None))
            for item in layout_poster(data).items
            if isinstance(item, Text)
        ]
        db.session.rollback()
    characters = {ch for text in texts for ch in text if not ch.isspace()}
    assert any("\u4e00" <= ch <= "\u9fff" for ch in characters)
    assert_every_glyph_drawn(characters)


def test_chinese_lines_break_between_characters_never_inside_words() -> None:
    title = "为望湖社区独居老人安装卫生间扶手、防滑垫和紧急呼叫器（第二期，共120户），由WeChat志愿者上门"
    lines = wrap(title, 28, 80)
    assert len(lines) > 2
    assert "".join(lines) == title
    for line in lines:
        assert text_width(line, 28) <= 80
        assert line[0] not in "，、）。"
        assert line[-1] != "（"
    assert any("WeChat" in line for line in lines)
    assert any("120" in line for line in lines)
    cut = wrap(title, 28, 80, max_lines=2)
    assert len(cut) == 2
    assert cut[-1].endswith("…")
    assert text_width(cut[-1], 28) <= 80


def test_the_posters_are_kept_as_test_artifacts(app: Flask, client: FlaskClient,
                                                need_id: int, project_root) -> None:  # fmt: skip
    """The posters a person would print, kept beside the web pages' screenshots (their
    speed is measured by bench/poster.py, not here)."""
    artifacts = project_root / "tests" / "artifacts"
    artifacts.mkdir(exist_ok=True)
    for fmt, magic in (("png", b"\x89PNG"), ("pdf", b"%PDF")):
        for name, query in (("need", f"&need_id={need_id}"), ("space", "")):
            answer = client.get(f"/api/v1/spaces/{SPACE}/poster?format={fmt}{query}")
            assert answer.status_code == 200, answer.get_json()
            assert answer.data.startswith(magic)
            (artifacts / f"poster-{name}.{fmt}").write_bytes(answer.data)


def test_the_files_answered_are_the_ones_the_contract_declares(app: Flask, need_id: int) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    checks = [not_a_server_error, response_schema_conformance, status_code_conformance,
              content_type_conformance]  # fmt: skip
    calls = [
        ("/api/v1/spaces/{code}/qrcode.png", {"need_id": need_id}, "image/png"),
        ("/api/v1/spaces/{code}/webqr.png", {}, "image/png"),
        ("/api/v1/spaces/{code}/poster", {"format": "png"}, "image/png"),
        ("/api/v1/spaces/{code}/poster", {"format": "pdf", "need_id": need_id}, "application/pdf"),
        ("/api/v1/spaces/{code}/poster", {"format": "svg"}, "application/json"),
    ]
    for path, query, media_type in calls:
        case = schema[path]["GET"].Case(path_parameters={"code": SPACE}, query=query)
        answer = case.call_and_validate(checks=checks)
        headers = {name.lower(): value for name, value in answer.headers.items()}
        content_type = headers["content-type"]
        content_type = content_type[0] if isinstance(content_type, list) else content_type
        assert content_type.startswith(media_type)
