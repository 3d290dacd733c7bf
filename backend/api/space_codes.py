"""A charity space's codes and posters: the mini-program code, the plain QR code of its
public web page, and the printable A4 poster (PNG or PDF). Anyone may fetch them."""

from __future__ import annotations

from urllib.parse import quote

from flask import Response

from backend.api.base import Blueprint
from backend.api.schemas.space_codes import (
    CODE_DOC,
    POSTER_DOC,
    WEB_QR_DOC,
    PosterArgsSchema,
    SpaceCodeArgsSchema,
)
from backend.api.uploads import RFC5987_SAFE
from backend.common.text import CONTROL_CHARACTERS
from backend.spaces.codes import code_target, miniprogram_code, web_qr_png
from backend.spaces.poster import PosterFormat, poster

blp = Blueprint("space_codes", __name__, description="慈善空间的小程序码与海报")

#: a scene's code never changes once WeChat drew it: any cache may keep it for a year
CODE_CACHE_CONTROL = "public, max-age=31536000, immutable"
#: the plain QR code follows PUBLIC_BASE_URL: a day
WEB_QR_CACHE_CONTROL = "public, max-age=86400"
#: a poster shows the figures of now: a minute
POSTER_CACHE_CONTROL = "public, max-age=60"


def png_response(content: bytes, cache_control: str) -> Response:
    """An image/png answer with its caching header."""
    response = Response(content, mimetype="image/png")
    response.headers["Cache-Control"] = cache_control
    return response


@blp.get("/spaces/<string:code>/qrcode.png")
@blp.arguments(SpaceCodeArgsSchema, location="query", as_kwargs=True)
@blp.doc(responses=CODE_DOC)
def space_code(code: str, need_id: int | None = None) -> Response:
    """The space's mini-program code (or one of its needs'), fetched from WeChat once."""
    return png_response(miniprogram_code(code_target(code, need_id)).png, CODE_CACHE_CONTROL)


@blp.get("/spaces/<string:code>/webqr.png")
@blp.arguments(SpaceCodeArgsSchema, location="query", as_kwargs=True)
@blp.doc(responses=WEB_QR_DOC)
def space_web_qr(code: str, need_id: int | None = None) -> Response:
    """A plain QR code of the space's (or the need's) public web page, for phone cameras."""
    return png_response(web_qr_png(code_target(code, need_id)), WEB_QR_CACHE_CONTROL)


@blp.get("/spaces/<string:code>/poster")
@blp.arguments(PosterArgsSchema, location="query", as_kwargs=True)
@blp.doc(responses=POSTER_DOC)
def space_poster(code: str, format: str, need_id: int | None = None) -> Response:
    """A printable A4 poster of the space (or of one of its needs): both codes, the goal
    and what has been raised, where the space is and who receives the money."""
    made = poster(code, need_id, PosterFormat(format))
    name = CONTROL_CHARACTERS.sub("", made.name) or made.ascii_name
    response = Response(made.content, mimetype=made.media_type)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{made.ascii_name}"; '
        f"filename*=UTF-8''{quote(name, safe=RFC5987_SAFE)}"
    )
    response.headers["Cache-Control"] = POSTER_CACHE_CONTROL
    return response
