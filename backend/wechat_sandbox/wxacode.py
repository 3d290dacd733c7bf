"""getwxacodeunlimit: a real QR code (PNG) standing in for the round mini-program code.

The code encodes `https://sandbox.weixin.qq.local/wxa?appid=APPID&env_version=ENV&page=PAGE&scene=SCENE`
(query values URL-encoded), which a test can decode to see what WeChat would have opened.
Errors follow WeChat: 40169 for a scene that is missing, longer than 32 characters or a
body that is not JSON; 40129 for a scene with a character outside WeChat's set; 41030
for a malformed page; 40097 for a bad env_version. `check_path` cannot be honoured (the
sandbox does not know the mini-program's pages) and is accepted as given.
"""

from __future__ import annotations

import io
import re
import string
from typing import Any
from urllib.parse import urlencode

import segno
from flask import Blueprint, Response

from backend.wechat_sandbox.runtime import current_sandbox
from backend.wechat_sandbox.wxjson import INVALID_ARGS, read_json, token_required, wx_error

bp = Blueprint("sandbox_wxacode", __name__)

CODE_URL_BASE = "https://sandbox.weixin.qq.local/wxa"
INVALID_SCENE_LENGTH = (40169, "invalid length for scene, or the data is not json string")
INVALID_SCENE = (40129, "invalid scene")
INVALID_PAGE = (41030, "invalid page")
MAX_SCENE = 32
SCENE_CHARACTERS = frozenset(string.ascii_letters + string.digits + "!#$&'()*+,/:;=?@-._~")
_PAGE = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9_\-./]{0,127}$")
ENV_VERSIONS = ("release", "trial", "develop")
MIN_WIDTH, MAX_WIDTH, DEFAULT_WIDTH = 280, 1280, 430


def code_content(appid: str, page: str, scene: str, env_version: str) -> str:
    """The text the QR code encodes."""
    query = urlencode({"appid": appid, "env_version": env_version, "page": page, "scene": scene})
    return f"{CODE_URL_BASE}?{query}"


def _color(value: Any) -> str | None:
    """`{"r": .., "g": .., "b": ..}` as `#rrggbb`, or None when unusable."""
    if not isinstance(value, dict):
        return None
    try:
        channels = [max(0, min(255, int(value.get(name, 0)))) for name in ("r", "g", "b")]
    except (TypeError, ValueError):
        return None
    return "#" + "".join(f"{channel:02x}" for channel in channels)


def render_png(content: str, width: int, dark: str, transparent: bool) -> bytes:
    """A PNG QR code about `width` pixels wide."""
    qr = segno.make(content, error="m", micro=False)
    modules, _ = qr.symbol_size(scale=1, border=4)
    out = io.BytesIO()
    qr.save(
        out,
        kind="png",
        scale=max(1, width // modules),
        border=4,
        dark=dark,
        light=None if transparent else "#ffffff",
    )
    return out.getvalue()


@bp.post("/wxa/getwxacodeunlimit")
@token_required
def wxa_code_unlimited() -> Response:
    """getUnlimitedQRCode: image/png on success, WeChat's JSON error otherwise; every
    request is recorded (`GET /sandbox/wxa-codes`)."""
    sandbox = current_sandbox()
    data = read_json()
    response = _draw(sandbox.config.appid, data)
    errcode = 0 if response.mimetype == "image/png" else (response.get_json() or {}).get("errcode")
    record = {
        **{name: (data or {}).get(name) for name in ("scene", "page", "width", "env_version")},
        "check_path": (data or {}).get("check_path", True),
        "errcode": errcode,
        "requested_at": sandbox.clock.now().isoformat(),
    }
    with sandbox.state.lock:
        sandbox.state.wxa_codes.append(record)
    return response


def _draw(appid: str, data: dict[str, Any] | None) -> Response:
    """The answer to one getwxacodeunlimit request body."""
    if data is None:
        return wx_error(INVALID_SCENE_LENGTH)
    scene = data.get("scene")
    if not isinstance(scene, str) or not 0 < len(scene) <= MAX_SCENE:
        return wx_error(INVALID_SCENE_LENGTH)
    if not set(scene) <= SCENE_CHARACTERS:
        return wx_error(INVALID_SCENE)
    page = data.get("page") or ""
    if not isinstance(page, str) or (page and not _PAGE.match(page)):
        return wx_error(INVALID_PAGE)
    env_version = data.get("env_version") or "release"
    if env_version not in ENV_VERSIONS:
        return wx_error(INVALID_ARGS)
    width = data.get("width", DEFAULT_WIDTH)
    if not isinstance(width, int) or isinstance(width, bool):
        return wx_error(INVALID_ARGS)
    width = max(MIN_WIDTH, min(MAX_WIDTH, width))
    dark = (
        _color(data.get("line_color")) if data.get("auto_color") is False else None
    ) or "#000000"
    png = render_png(
        code_content(appid, page, scene, env_version),
        width,
        dark,
        transparent=data.get("is_hyaline") is True,
    )
    return Response(png, mimetype="image/png")
