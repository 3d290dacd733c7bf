"""A printable A4 poster of a charity space, or of one need it collects for: PNG or PDF.

The poster carries the mini-program code (微信扫码捐赠), the plain QR code of the public
web page (手机相机扫码查看账目), the title, the goal and what has been raised with a bar,
the space's name and address, and who receives the money (the foundation, its credit code,
the need's public fundraising filing number).

One layout, in millimetres, is drawn by two painters: Pillow for the PNG (A4 at 150 dpi,
1240×1754) and fpdf2 for the PDF (A4, the font embedded as a subset). Lines are broken by
the font's own widths, between any two Chinese characters but never inside a Latin word or
number, and never before closing punctuation or after opening punctuation.
"""

from __future__ import annotations

import enum
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from fpdf import FPDF
from PIL import Image, ImageDraw

from backend.common.money import yuan
from backend.common.time import BEIJING, utcnow
from backend.needs.services import NeedCard, with_figures
from backend.spaces.codes import CodeTarget, code_target, miniprogram_code, web_qr_png
from backend.spaces.fonts import chinese_font, pil_font
from backend.spaces.services import open_needs_of

PAGE_W, PAGE_H = 210.0, 297.0  # A4, mm
DPI = 150
PX_PER_MM = DPI / 25.4
PNG_SIZE = (round(PAGE_W * PX_PER_MM), round(PAGE_H * PX_PER_MM))  # 1240 × 1754
MM_PER_PT = 25.4 / 72
MARGIN = 16.0
CONTENT_W = PAGE_W - 2 * MARGIN
CODE_SIZE = 72.0  # each code's side, mm

BRAND = "#d4380d"
INK = "#1f1f1f"
GREY = "#595959"
LIGHT = "#8c8c8c"
TRACK = "#f0f0f0"
RULE = "#d9d9d9"
WHITE = "#ffffff"

#: at most this many needs listed on a space's poster
MAX_LISTED = 3
#: the pixel size text is measured at (widths scale linearly with the size)
MEASURE_PX = 1000


class PosterFormat(enum.StrEnum):
    """What the poster is delivered as."""

    PNG = "png"
    PDF = "pdf"


MEDIA_TYPES = {PosterFormat.PNG: "image/png", PosterFormat.PDF: "application/pdf"}


# ---------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class Box:
    """A filled rectangle (mm), optionally with rounded corners."""

    x: float
    y: float
    w: float
    h: float
    fill: str
    radius: float = 0.0


@dataclass(frozen=True)
class Text:
    """One line of text: `y` is its baseline (mm), `size` in points."""

    x: float
    y: float
    size: float
    text: str
    color: str = INK
    align: str = "left"  # left, center or right of x


@dataclass(frozen=True)
class Picture:
    """A PNG image placed in a box (mm)."""

    x: float
    y: float
    w: float
    h: float
    png: bytes


@dataclass
class Layout:
    """What a poster is made of, in drawing order."""

    title: str
    items: list[Box | Text | Picture] = field(default_factory=list)

    def add(self, *items: Box | Text | Picture) -> None:
        """Append items to draw."""
        self.items.extend(items)


def text_width(text: str, size_pt: float) -> float:
    """The width of `text` at `size_pt` points, in mm, by the font's advance widths."""
    return pil_font(MEASURE_PX).getlength(text) / MEASURE_PX * size_pt * MM_PER_PT


#: never at the start of a line
NO_LINE_START = frozenset("，。、；：！？）》」』】〕〉”’…—·%,.;:!?)]}")
#: never at the end of a line
NO_LINE_END = frozenset("（《「『【〔〈“‘([{¥￥#")
#: a Latin word or number (kept whole), a run of spaces, or any other single character
_TOKEN = re.compile(r"[A-Za-z0-9@&_./:+\-]+|\s+|.", re.DOTALL)


def _tokens(text: str) -> list[str]:
    """The unbreakable pieces of `text`: punctuation glued to its neighbour."""
    pieces = _TOKEN.findall(" ".join(text.split()))
    tokens: list[str] = []
    for piece in pieces:
        if tokens and (piece[0] in NO_LINE_START or tokens[-1][-1] in NO_LINE_END):
            tokens[-1] += piece
        else:
            tokens.append(piece)
    return tokens


def wrap(text: str, size_pt: float, width: float, max_lines: int | None = None) -> list[str]:
    """`text` broken into lines at most `width` mm wide; with `max_lines`, the last line
    kept ends with an ellipsis when the text goes on."""
    lines: list[str] = []
    line = ""
    for token in _tokens(text):
        if not line and token.isspace():
            continue
        if text_width(line + token, size_pt) <= width:
            line += token
            continue
        if line.strip():
            lines.append(line.rstrip())
            line = ""
        token = token.lstrip()
        while text_width(token, size_pt) > width:  # a token wider than a line: cut it
            cut = len(token) - 1
            while cut > 1 and text_width(token[:cut], size_pt) > width:
                cut -= 1
            lines.append(token[:cut])
            token = token[cut:]
        line = token
    if line.strip():
        lines.append(line.rstrip())
    if max_lines is not None and len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = ellipsize(lines[-1] + "…", size_pt, width)
    return lines


def ellipsize(text: str, size_pt: float, width: float) -> str:
    """`text` on one line: cut and ended with an ellipsis when wider than `width` mm."""
    if text_width(text, size_pt) <= width:
        return text
    text = text.removesuffix("…")
    while text and text_width(text + "…", size_pt) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def line_height(size_pt: float, leading: float = 1.45) -> float:
    """The distance between baselines of lines set at `size_pt`, mm."""
    return size_pt * MM_PER_PT * leading


def add_lines(layout: Layout, lines: Iterable[str], top: float, size: float,
              color: str = INK, leading: float = 1.45) -> float:  # fmt: skip
    """Set `lines` left-aligned from `top` (mm); the y below the last line."""
    step = line_height(size, leading)
    y = top
    for line in lines:
        y += step
        layout.add(Text(MARGIN, y - step * 0.28, size, line, color))
    return y


def progress_bar(layout: Layout, y: float, height: float, raised_fen: int, goal_fen: int) -> None:
    """A bar across the content width, filled to the share of the goal raised."""
    layout.add(Box(MARGIN, y, CONTENT_W, height, TRACK, height / 2))
    share = min(1.0, raised_fen / goal_fen) if goal_fen > 0 else 0.0
    if share > 0:
        layout.add(Box(MARGIN, y, max(height, CONTENT_W * share), height, BRAND, height / 2))


# ---------------------------------------------------------------------------- content


@dataclass(frozen=True)
class PosterData:
    """What a poster shows."""

    target: CodeTarget
    need: NeedCard | None
    listed: list[NeedCard]
    code_png: bytes
    web_png: bytes
    at: datetime

    @property
    def title(self) -> str:
        """The need's title, or the space's name."""
        return self.need.title if self.need else self.target.space.name


def poster_data(space_code: str, need_id: int | None) -> PosterData:
    """The space (and need), current figures and both codes (the mini-program code from its
    stored row, fetched from WeChat the first time only)."""
    target = code_target(space_code, need_id)
    code = miniprogram_code(target)
    if target.need is not None:
        (need,) = with_figures([target.need])
        listed: list[NeedCard] = []
    else:
        need = None
        listed = with_figures(open_needs_of(target.space))
    return PosterData(target, need, listed, code.png, web_qr_png(target, scale=10), utcnow())


def layout_poster(data: PosterData) -> Layout:
    """Where everything goes on the page."""
    space = data.target.space
    layout = Layout(data.title)

    # Header band.
    layout.add(Box(0, 0, PAGE_W, 28, BRAND))
    layout.add(Text(MARGIN, 17.5, 20, "邻善 · 社区慈善", WHITE))
    layout.add(Text(PAGE_W - MARGIN, 17.5, 12, "扫码捐赠 · 账目公开", WHITE, "right"))

    # Who is asking, and for what.
    kicker = f"{space.name} 邀您一同支持" if data.need else "慈善空间"
    y = add_lines(layout, [ellipsize(kicker, 13, CONTENT_W)], 34, 13, GREY)
    title_size = 28.0
    title_lines = wrap(data.title, title_size, CONTENT_W)
    while len(title_lines) > 2 and title_size > 22:
        title_size -= 3
        title_lines = wrap(data.title, title_size, CONTENT_W)
    y = add_lines(layout, wrap(data.title, title_size, CONTENT_W, 3), y + 1, title_size,
                  INK, 1.3)  # fmt: skip

    footer = footer_lines(data)
    footer_top = PAGE_H - 12 - sum(line_height(size) for _, size, _ in footer) - 4
    codes_block = CODE_SIZE + 17  # the codes and their labels
    lowest_codes_top = footer_top - 8 - codes_block

    if data.need is not None:
        y = need_figures(layout, data.need, y + 8)
        y = story(layout, data.need.story, y + 4, lowest_codes_top - 8)
    else:
        if space.description:
            y = add_lines(layout, wrap(space.description, 13, CONTENT_W, 3), y + 2, 13, GREY)
        y = listed_needs(layout, data.listed, y + 6, lowest_codes_top - 6)

    # The codes sit in the middle of the room left between the content and the footer.
    room = lowest_codes_top - y
    codes(layout, data, y + max(8.0, room / 2) if room > 8 else lowest_codes_top)

    # Footer: where, who receives the money, as of when.
    layout.add(Box(MARGIN, footer_top, CONTENT_W, 0.3, RULE))
    y = footer_top + 2
    for text, size, color in footer:
        y = add_lines(layout, [text], y, size, color)
    return layout


def need_figures(layout: Layout, need: NeedCard, top: float) -> float:
    """Raised (large), the goal, a bar and the share with the number of donations."""
    y = top
    layout.add(Text(MARGIN, y + 7, 22, f"已筹 {yuan(need.raised_fen)}", BRAND))
    layout.add(Text(PAGE_W - MARGIN, y + 7, 14, f"目标 {yuan(need.goal_fen)}", GREY, "right"))
    y += 12
    progress_bar(layout, y, 6, need.raised_fen, need.goal_fen)
    y += 6
    facts = [f"完成 {need.percent}%", f"{need.donation_count} 笔捐赠"]
    if need.beneficiary_count:
        facts.append(f"惠及 {need.beneficiary_count} 人")
    if need.deadline:
        facts.append(f"{need.deadline.year}年{need.deadline.month}月{need.deadline.day}日截止")
    return add_lines(layout, [" · ".join(facts)], y + 1, 12, GREY)


def story(layout: Layout, text: str, top: float, bottom: float) -> float:
    """As much of the need's story as fits above `bottom` (at most 5 lines)."""
    size = 12.5
    room = int((bottom - top) // line_height(size, 1.6))
    if room < 1:
        return top
    return add_lines(layout, wrap(text, size, CONTENT_W, min(room, 5)), top, size, INK, 1.6)


def listed_needs(layout: Layout, cards: list[NeedCard], top: float, bottom: float) -> float:
    """The space's needs, each with its figures and a bar, as many as fit (at most 3)."""
    y = add_lines(layout, ["正在筹款的项目"], top, 14, BRAND)
    item = line_height(14) + 5 + line_height(11) + 3
    shown = 0
    for card in cards[:MAX_LISTED]:
        if y + item > bottom:
            break
        y = add_lines(layout, [ellipsize(card.title, 14, CONTENT_W)], y, 14)
        y += 1
        progress_bar(layout, y, 4, card.raised_fen, card.goal_fen)
        y += 4
        y = add_lines(layout, [f"已筹 {yuan(card.raised_fen)} / 目标 {yuan(card.goal_fen)}"
                               f"（{card.percent}%）"], y, 11, GREY)  # fmt: skip
        y += 3
        shown += 1
    if not cards:
        y = add_lines(layout, ["暂无正在筹款的项目，扫码查看往期项目与账目"], y, 12, GREY)
    elif shown < len(cards) and y + line_height(12) <= bottom:
        y = add_lines(layout, [f"另有 {len(cards) - shown} 个项目，扫码查看全部"], y, 12, GREY)
    return y


def codes(layout: Layout, data: PosterData, top: float) -> None:
    """The two codes side by side, each framed and labelled."""
    gap = 14.0
    left = (PAGE_W - 2 * CODE_SIZE - gap) / 2
    for x, png, label, hint in (
        (left, data.code_png, "微信扫码捐赠", "打开微信，扫一扫"),
        (left + CODE_SIZE + gap, data.web_png, "手机相机扫码查看账目", "无需微信，每笔收支可查"),
    ):
        layout.add(Box(x - 1.5, top - 1.5, CODE_SIZE + 3, CODE_SIZE + 3, RULE, 2))
        layout.add(Box(x - 1.2, top - 1.2, CODE_SIZE + 2.4, CODE_SIZE + 2.4, WHITE, 1.8))
        layout.add(Picture(x, top, CODE_SIZE, CODE_SIZE, png))
        center = x + CODE_SIZE / 2
        layout.add(Text(center, top + CODE_SIZE + 9, 15, label, INK, "center"))
        layout.add(Text(center, top + CODE_SIZE + 15, 10, hint, LIGHT, "center"))


def footer_lines(data: PosterData) -> list[tuple[str, float, str]]:
    """The footer's lines: (text, size, colour)."""
    space = data.target.space
    fund = space.fund
    foundation = fund.foundation
    lines: list[tuple[str, float, str]] = []

    def add(text: str, size: float = 11, color: str = GREY, max_lines: int = 2) -> None:
        lines.extend((line, size, color) for line in wrap(text, size, CONTENT_W, max_lines))

    add(f"地点：{space.name}", max_lines=1)
    add(f"地址：{space.address}")
    if space.opening_hours:
        add(f"开放时间：{space.opening_hours}", max_lines=1)
    add(f"善款接收：{foundation.name}（统一社会信用代码 {foundation.credit_code}）· {fund.name}")
    if data.need is not None and data.need.filing_number:
        add(f"公开募捐备案编号：{data.need.filing_number}", max_lines=1)
    at = data.at.astimezone(BEIJING)
    add(f"进度截至 {at.year}年{at.month}月{at.day}日 {at:%H:%M}（北京时间），扫码查看实时进度",
        9, LIGHT, 1)  # fmt: skip
    return lines


# ---------------------------------------------------------------------------- painters


def _rgb(color: str) -> tuple[int, int, int]:
    value = int(color.removeprefix("#"), 16)
    return value >> 16, (value >> 8) & 0xFF, value & 0xFF


def _px(mm: float) -> int:
    return round(mm * PX_PER_MM)


def paint_png(layout: Layout, size: tuple[int, int] = PNG_SIZE) -> bytes:
    """The poster as a PNG, A4 at 150 dpi (or another layout at 150 dpi on a page of `size`
    pixels: the donation certificate)."""
    image = Image.new("RGB", size, WHITE)
    draw = ImageDraw.Draw(image)
    anchors = {"left": "ls", "center": "ms", "right": "rs"}
    for item in layout.items:
        if isinstance(item, Box):
            box = (_px(item.x), _px(item.y), _px(item.x + item.w) - 1, _px(item.y + item.h) - 1)
            if item.radius:
                draw.rounded_rectangle(box, _px(item.radius), fill=item.fill)
            else:
                draw.rectangle(box, fill=item.fill)
        elif isinstance(item, Text):
            font = pil_font(round(item.size * DPI / 72))
            draw.text((_px(item.x), _px(item.y)), item.text, font=font, fill=item.color,
                      anchor=anchors[item.align])  # fmt: skip
        else:
            with Image.open(io.BytesIO(item.png)) as picture:
                size = (_px(item.w), _px(item.h))
                image.paste(picture.convert("RGB").resize(size, Image.Resampling.NEAREST),
                            (_px(item.x), _px(item.y)))  # fmt: skip
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(DPI, DPI), compress_level=3)
    return out.getvalue()


FONT_FAMILY = "NotoSansSC"


def paint_pdf(layout: Layout) -> bytes:
    """The poster as a one-page A4 PDF with the font embedded (subset)."""
    pdf = FPDF(unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.set_title(layout.title)
    pdf.set_creator("邻善 Linshan")
    font = chinese_font()
    pdf.add_font(FONT_FAMILY, fname=font.path, collection_font_number=font.index)
    pdf.add_page()
    for item in layout.items:
        if isinstance(item, Box):
            pdf.set_fill_color(*_rgb(item.fill))
            # fpdf2 shrinks a radius of half the side or more to almost nothing: stay below.
            radius = min(item.radius, min(item.w, item.h) / 2 * 0.999)
            pdf.rect(item.x, item.y, item.w, item.h, style="F",
                     round_corners=radius > 0, corner_radius=radius)  # fmt: skip
        elif isinstance(item, Text):
            pdf.set_font(FONT_FAMILY, size=item.size)
            pdf.set_text_color(*_rgb(item.color))
            x = item.x
            if item.align != "left":
                width = pdf.get_string_width(item.text)
                x -= width / 2 if item.align == "center" else width
            pdf.text(x, item.y, item.text)
        else:
            pdf.image(io.BytesIO(item.png), x=item.x, y=item.y, w=item.w, h=item.h)
    try:
        return bytes(pdf.output())
    finally:
        for embedded in pdf.fonts.values():  # fpdf2 keeps the font file open (lazy loading)
            ttfont = getattr(embedded, "ttfont", None)
            if ttfont is not None:
                ttfont.close()


def render(data: PosterData, fmt: PosterFormat) -> bytes:
    """The poster's bytes in `fmt`."""
    layout = layout_poster(data)
    return paint_png(layout) if fmt is PosterFormat.PNG else paint_pdf(layout)


@dataclass(frozen=True)
class Poster:
    """A rendered poster and what to call its file."""

    content: bytes
    media_type: str
    ascii_name: str
    name: str


def poster(space_code: str, need_id: int | None, fmt: PosterFormat) -> Poster:
    """The poster of the space (or of one of its needs) with the figures of now."""
    data = poster_data(space_code, need_id)
    stem = f"linshan-poster-{data.target.space.code}"
    if data.need is not None:
        stem += f"-need-{data.need.id}"
    return Poster(render(data, fmt), MEDIA_TYPES[fmt], f"{stem}.{fmt}",
                  f"{data.title}-海报.{fmt}")  # fmt: skip
