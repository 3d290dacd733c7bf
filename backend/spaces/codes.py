"""The codes printed in a charity space: WeChat's mini-program code and a plain QR code.

A mini-program code (getwxacodeunlimit) opens the mini-program's space page with the scene
`s=<space code>` or `s=<space code>&n=<need id>`. WeChat limits how often an account may
ask for codes, and a code never changes for the same scene, so each is fetched once and
kept in `space_codes`; every later request is answered from the row.

The plain QR code is for any phone camera: it points at the public web page of the space
(or of the need, remembering the space it was scanned in). It is cheap to draw, so it is
drawn on each request.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

import requests
import segno
import sqlalchemy as sa
from flask import current_app
from PIL import Image, UnidentifiedImageError
from sqlalchemy.dialects.postgresql import insert
from wechatpy.exceptions import WeChatClientException

from backend.common.errors import DomainError, Kind, not_found
from backend.common.time import utcnow
from backend.extensions import db
from backend.needs.models import Need
from backend.spaces.models import CharitySpace, SpaceCode
from backend.spaces.services import get_space
from backend.wechat.client import get_wechat

log = logging.getLogger(__name__)

#: the mini-program page a space's codes open (miniprogram/app.json)
SPACE_PAGE = "pages/space/space"
#: WeChat's limit on a scene's length
MAX_SCENE = 32
#: width asked of WeChat: sharp enough to print some 8 cm wide
CODE_WIDTH = 860
#: the plain QR code's module size in pixels and quiet zone in modules
WEB_QR_SCALE = 12
WEB_QR_BORDER = 4
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class CodeTarget:
    """What a code leads to: a space, or one of the needs it collects for."""

    space: CharitySpace
    need: Need | None

    @property
    def scene(self) -> str:
        """The mini-program scene: `s=<code>` or `s=<code>&n=<need id>`."""
        return scene_for(self.space.code, self.need.id if self.need else None)

    @property
    def web_url(self) -> str:
        """The public web page a phone camera opens."""
        base = current_app.config["SETTINGS"].public_base_url
        if self.need is None:
            return f"{base}/p/spaces/{self.space.code}"
        return f"{base}/p/needs/{self.need.id}?s={self.space.code}"


def scene_for(space_code: str, need_id: int | None) -> str:
    """The scene of a space's code (and of one of its needs). A space code has at most 16
    characters and a need id at most 10 digits, so the scene fits WeChat's 32; anything
    longer is a bug, refused before WeChat is asked."""
    scene = f"s={space_code}" if need_id is None else f"s={space_code}&n={need_id}"
    if len(scene) > MAX_SCENE:
        raise ValueError(f"scene {scene!r} is longer than WeChat's {MAX_SCENE} characters")
    return scene


def code_target(space_code: str, need_id: int | None) -> CodeTarget:
    """The space with this code and, with `need_id`, a public need of the space's fund;
    not found otherwise (a need of another fund, or one the public cannot see)."""
    space = get_space(space_code)
    if need_id is None:
        return CodeTarget(space, None)
    need = db.session.scalar(
        sa.select(Need).where(Need.id == need_id, Need.fund_id == space.fund_id, Need.public())
    )
    if need is None:
        raise not_found("need_not_found", "该慈善空间没有这个公开项目")
    return CodeTarget(space, need)


def stored_code(scene: str) -> SpaceCode | None:
    """The code kept for a scene, if it was fetched before."""
    return db.session.scalar(sa.select(SpaceCode).where(SpaceCode.scene == scene))


def miniprogram_code(target: CodeTarget) -> SpaceCode:
    """The mini-program code of the target: the stored one, else fetched from WeChat once
    and stored. Two first requests at once both succeed: each inserts ON CONFLICT DO
    NOTHING (the second waits for the first's transaction) and reads the one row."""
    scene = target.scene
    row = stored_code(scene)
    if row is not None:
        return row
    png = fetch_code(scene)
    db.session.execute(
        insert(SpaceCode)
        .values(
            space_id=target.space.id,
            need_id=target.need.id if target.need else None,
            scene=scene,
            png=png,
            fetched_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["scene"])
    )
    row = stored_code(scene)
    assert row is not None  # inserted now, or by the transaction we waited for
    return row


def code_unavailable(error: str, detail: object) -> DomainError:
    """The error when WeChat draws no code, logged for the operator."""
    log.error("getwxacodeunlimit failed: %s", detail)
    return DomainError(Kind.UPSTREAM, error, "微信小程序码暂时无法生成，请稍后再试")


def fetch_code(scene: str) -> bytes:
    """Ask WeChat for the code of `scene`, as PNG (WeChat may answer JPEG: converted)."""
    try:
        image = get_wechat().wxa.unlimited_code(scene, SPACE_PAGE, CODE_WIDTH)
    except WeChatClientException as exc:
        raise code_unavailable(
            "wechat_code_failed", f"errcode={exc.errcode} errmsg={exc.errmsg}"
        ) from None
    except requests.RequestException as exc:
        raise code_unavailable("wechat_unreachable", exc) from None
    if image.startswith(PNG_SIGNATURE):
        return image
    try:
        with Image.open(io.BytesIO(image)) as picture:
            out = io.BytesIO()
            picture.convert("RGB").save(out, format="PNG")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise code_unavailable("wechat_code_unreadable", exc) from None
    return out.getvalue()


def web_qr_png(target: CodeTarget, scale: int = WEB_QR_SCALE) -> bytes:
    """A plain QR code (PNG, black on white) of the target's public web page."""
    out = io.BytesIO()
    segno.make(target.web_url, error="m", micro=False).save(
        out, kind="png", scale=scale, border=WEB_QR_BORDER, dark="#000000", light="#ffffff"
    )
    return out.getvalue()
