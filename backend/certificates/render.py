"""The certificate as a portrait PNG (1080×1440) for WeChat: saved to the phone's album
and shared in chats and Moments.

A red and gold double frame on warm paper, the 邻善 mark, 捐赠证书, the masked name, what
was given to, the net amount in red, a word of thanks, and at the foot the number, the
Beijing day of the payment, who received the money (the foundation and its credit code, the
need's filing number) and a QR code of the public verification page. It is drawn with the
posters' layout and painter (`backend.spaces.poster`: font widths, line breaking, ellipses),
in pixels of this image converted to their millimetres and points at 150 dpi.
"""

from __future__ import annotations

import io

import segno

from backend.certificates.services import CertificateData
from backend.common.money import yuan
from backend.spaces.poster import (
    DPI,
    PX_PER_MM,
    Box,
    Layout,
    Picture,
    Text,
    ellipsize,
    paint_png,
    text_width,
    wrap,
)

#: the image, in pixels: portrait 3:4, as WeChat shows a saved picture full width
SIZE = (1080, 1440)
WIDTH, HEIGHT = SIZE

RED = "#9f1f14"  # the pages' theme colour
BRIGHT_RED = "#c0281a"
GOLD = "#c8a45c"
PAPER = "#fffaf0"
INK = "#262626"
GREY = "#6b6157"
LIGHT = "#9a8f84"
WHITE = "#ffffff"

#: the frame's inner edge; the text's left and right edge
FRAME = 54
MARGIN = 110
TEXT_W = WIDTH - 2 * MARGIN
#: the QR code's largest side (pixels), its smallest module and its quiet zone (modules)
QR_MAX = 210
QR_MIN_SCALE = 3
QR_BORDER = 2


def _mm(px: float) -> float:
    return px / PX_PER_MM


def _pt(px: float) -> float:
    return px * 72 / DPI


class Canvas:
    """The poster's `Layout`, addressed in this image's pixels."""

    def __init__(self, title: str) -> None:
        self.layout = Layout(title)

    def box(self, x: float, y: float, w: float, h: float, fill: str, radius: float = 0) -> None:
        """A filled rectangle."""
        self.layout.add(Box(_mm(x), _mm(y), _mm(w), _mm(h), fill, _mm(radius)))

    def text(self, x: float, baseline: float, size: float, text: str, color: str = INK,
             align: str = "left") -> None:  # fmt: skip
        """One line of text at `size` pixels."""
        self.layout.add(Text(_mm(x), _mm(baseline), _pt(size), text, color, align))

    def picture(self, x: float, y: float, side: float, png: bytes) -> None:
        """A square PNG."""
        self.layout.add(Picture(_mm(x), _mm(y), _mm(side), _mm(side), png))


def width(text: str, size: float) -> float:
    """The width of `text` at `size` pixels, in pixels."""
    return text_width(text, _pt(size)) * PX_PER_MM


def lines(text: str, size: float, room: float, max_lines: int) -> list[str]:
    """`text` broken into lines at most `room` pixels wide."""
    return wrap(text, _pt(size), _mm(room), max_lines)


def one_line(text: str, size: float, room: float) -> str:
    """`text` cut with an ellipsis to `room` pixels."""
    return ellipsize(text, _pt(size), _mm(room))


def qr_png(url: str) -> tuple[bytes, int]:
    """A QR code of `url` (ink on paper) with whole-pixel modules, at most `QR_MAX` wide
    (a longer PUBLIC_BASE_URL takes more modules), and its side in pixels."""
    code = segno.make(url, error="m", micro=False)
    modules = code.symbol_size(scale=1, border=QR_BORDER)[0]
    scale = max(QR_MIN_SCALE, QR_MAX // modules)
    out = io.BytesIO()
    code.save(out, kind="png", scale=scale, border=QR_BORDER, dark=INK, light=PAPER)
    return out.getvalue(), modules * scale


def frame(canvas: Canvas) -> None:
    """Red edge, gold band, paper, a thin gold line and gold corner brackets."""
    canvas.box(0, 0, WIDTH, HEIGHT, RED)
    canvas.box(22, 22, WIDTH - 44, HEIGHT - 44, GOLD, 8)
    canvas.box(30, 30, WIDTH - 60, HEIGHT - 60, PAPER, 4)
    canvas.box(FRAME, FRAME, WIDTH - 2 * FRAME, HEIGHT - 2 * FRAME, GOLD)
    canvas.box(FRAME + 3, FRAME + 3, WIDTH - 2 * FRAME - 6, HEIGHT - 2 * FRAME - 6, PAPER)
    arm, thick, inset = 64, 7, FRAME + 14
    for x, y, dx, dy in ((inset, inset, 1, 1), (WIDTH - inset, inset, -1, 1),
                         (inset, HEIGHT - inset, 1, -1), (WIDTH - inset, HEIGHT - inset, -1, -1)):  # fmt: skip
        canvas.box(x if dx > 0 else x - arm, y if dy > 0 else y - thick, arm, thick, GOLD)
        canvas.box(x if dx > 0 else x - thick, y if dy > 0 else y - arm, thick, arm, GOLD)


def header(canvas: Canvas) -> float:
    """The 邻善 mark, 捐赠证书 and its rule; the y below them."""
    name, size, mark, gap = "邻善 · 社区慈善", 34, 60, 18
    left = (WIDTH - (mark + gap + width(name, size))) / 2
    canvas.box(left, 112, mark, mark, RED, 12)
    canvas.text(left + mark / 2, 112 + 45, 40, "善", WHITE, "center")
    canvas.text(left + mark + gap, 112 + 43, size, name, RED)
    canvas.text(WIDTH / 2, 292, 112, "捐 赠 证 书", RED, "center")
    canvas.text(WIDTH / 2, 340, 24, "C E R T I F I C A T E   O F   D O N A T I O N", GOLD,
                "center")  # fmt: skip
    canvas.box(WIDTH / 2 - 260, 368, 230, 3, GOLD)
    canvas.box(WIDTH / 2 - 9, 360, 18, 18, GOLD, 3)
    canvas.box(WIDTH / 2 + 30, 368, 230, 3, GOLD)
    return 386


def body(canvas: Canvas, data: CertificateData, top: float, bottom: float) -> None:
    """Who gave, to what, how much and the thanks, centred in the room between."""
    title = lines(data.target, 54, TEXT_W, 1)
    title_size, title_step = 54, 0
    if title[0] != data.target:  # a long title: smaller, on two lines
        title_size, title_step = 46, 60
        title = lines(data.target, title_size, TEXT_W, 2)
    amount = yuan(data.net_fen)
    amount_size = 100
    while amount_size > 40 and width(amount, amount_size) > TEXT_W:
        amount_size -= 6
    rows: list[tuple[float, float, str, str]] = []  # (advance, size, text, colour)
    rows.append((0, 30, "捐赠人", GREY))
    rows.append((88, 76, one_line(data.donor, 76, TEXT_W), INK))
    rows.append((78, 30, "捐赠项目" if data.need_id is not None else "捐赠去向", GREY))
    for i, line in enumerate(title):
        rows.append((74 if i == 0 else title_step, title_size, line, INK))
    rows.append((78, 30, "捐赠金额", GREY))
    rows.append((108, amount_size, amount, BRIGHT_RED))
    if data.refunded_fen:
        rows.append((48, 26, f"已退款 {yuan(data.refunded_fen)}，以上为退款后的捐赠金额", LIGHT))
    rows.append((78, 32, "衷心感谢您的爱心善举，特发此证，以致谢忱。", INK))
    height = sum(advance for advance, *_ in rows) + 30  # the first line's cap height
    y = top + 30 + max(0.0, (bottom - top - height) / 2)
    for advance, size, text, color in rows:
        y += advance
        canvas.text(WIDTH / 2, y, size, text, color, "center")


def footer(canvas: Canvas, data: CertificateData, top: float) -> None:
    """The number, the day, who received the money; the QR code of the verification page."""
    canvas.box(MARGIN, top, TEXT_W, 2, GOLD)
    png, side = qr_png(data.url)
    qr_x = WIDTH - MARGIN - side
    qr_y = top + 26
    canvas.picture(qr_x, qr_y, side, png)
    canvas.text(qr_x + side / 2, qr_y + side + 34, 24, "扫码验证证书真伪", GREY, "center")
    room = qr_x - MARGIN - 30
    facts = [
        ("证书编号", data.number),
        ("捐赠日期", f"{data.paid_on.year}年{data.paid_on.month}月{data.paid_on.day}日"),
        ("善款接收", data.foundation),
        ("信用代码", data.credit_code),
        ("所属基金", data.fund_name),
    ]
    if data.filing_number:
        facts.append(("募捐备案", data.filing_number))
    y = top + 20
    for label, value in facts:
        y += 40
        canvas.text(MARGIN, y, 26, f"{label}：", GREY)
        indent = width(f"{label}：", 26)
        canvas.text(MARGIN + indent, y, 26, one_line(value, 26, room - indent), INK)
    canvas.text(WIDTH / 2, HEIGHT - FRAME - 26, 22,
                "本证书依据微信支付到账记录生成，每一笔收支均在邻善公开", LIGHT, "center")  # fmt: skip


def layout_certificate(data: CertificateData) -> Layout:
    """Where everything goes on the certificate."""
    canvas = Canvas(f"捐赠证书 {data.number}")
    frame(canvas)
    below_header = header(canvas)
    footer_top = 1052
    body(canvas, data, below_header, footer_top - 16)
    footer(canvas, data, footer_top)
    return canvas.layout


def render_png(data: CertificateData) -> bytes:
    """The certificate as a PNG of `SIZE` pixels."""
    return paint_png(layout_certificate(data), SIZE)
