"""The Chinese font posters are set in: Noto Sans SC (SIL Open Font License 1.1).

It comes from the PyPI package `pylopdf-fonts-zh-cn` (a dependency of the project, so every
fresh install has it), located through the package's own API; Debian's `fonts-noto-cjk`
collection (face 2 is Simplified Chinese) is used only where that package is missing.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import ImageFont

from backend.common.errors import DomainError, Kind

log = logging.getLogger(__name__)

#: Debian's fonts-noto-cjk: a collection whose face 2 is Simplified Chinese
DEBIAN_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
DEBIAN_SC_INDEX = 2


@dataclass(frozen=True)
class FontFile:
    """A font file and, in a collection, the face to use."""

    path: Path
    index: int = 0


def _packaged() -> Path | None:
    """Noto Sans SC as `pylopdf-fonts-zh-cn` ships it, if installed."""
    try:
        package = importlib.import_module("pylopdf_fonts_zh_cn")
    except ImportError:
        return None
    path = Path(package.sans_path())
    return path if path.is_file() else None


@cache
def chinese_font() -> FontFile:
    """The font file of the posters; a 503 naming the missing font when there is none."""
    packaged = _packaged()
    if packaged is not None:
        return FontFile(packaged)
    if DEBIAN_CJK.is_file():
        return FontFile(DEBIAN_CJK, DEBIAN_SC_INDEX)
    log.error("no Chinese font: install pylopdf-fonts-zh-cn (or Debian's fonts-noto-cjk)")
    raise DomainError(Kind.UNAVAILABLE, "font_missing", "海报字体缺失，暂时无法生成海报")


@cache
def pil_font(size_px: int) -> ImageFont.FreeTypeFont:
    """The poster font at `size_px` pixels, for Pillow (kept: loading it is not free)."""
    font = chinese_font()
    return ImageFont.truetype(str(font.path), size_px, index=font.index)
