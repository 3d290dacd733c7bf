"""Pictures for the demo: invoice-like evidence, bank receipts of disbursements and progress
photos, drawn with Pillow and stored as uploads of the people who would have taken them.

Chinese text is drawn only when a CJK font is installed (`cjk_font`); otherwise the
pictures carry digits, Latin labels and shapes. Every picture says DEMO / 演示 on it.
Drawing and writing files are the slow parts, so each picture is drawn once per process
(`functools.lru_cache`) and written once per storage (its key comes from its content):
seeding a second database in the same process (the tests do, once per module) only
adds the rows.
"""

from __future__ import annotations

import functools
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from backend.accounts.models import User
from backend.common.money import yuan
from backend.common.time import utcnow
from backend.extensions import db
from backend.uploads.models import MediaCheck, Upload
from backend.uploads.storage import get_storage, thumbnail_key

#: CJK fonts looked for, with the face of Simplified Chinese in a collection
CJK_FONTS: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),  # Debian fonts-noto-cjk
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", 2),  # Arch, Fedora
    ("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),
    ("/System/Library/Fonts/PingFang.ttc", 0),  # macOS
    ("/System/Library/Fonts/STHeiti Medium.ttc", 0),
    ("C:/Windows/Fonts/msyh.ttc", 0),  # Windows
)

SIZE = (600, 400)
JPEG_QUALITY = 82
PAPER = (251, 249, 242)
INK = (40, 40, 40)
RED = (190, 45, 40)
BLUE = (40, 90, 160)
FAINT = (205, 198, 185)


@dataclass(frozen=True)
class Picture:
    """A JPEG and its thumbnail."""

    data: bytes
    thumbnail: bytes
    width: int
    height: int


@functools.cache
def cjk_font() -> tuple[str, int] | None:
    """The first CJK font found on this machine (path, face index), or None."""
    for path, index in CJK_FONTS:
        if Path(path).is_file():
            try:
                ImageFont.truetype(path, 12, index=index)
            except OSError:
                continue
            return path, index
    return None


@functools.cache
def _font(size: int, chinese: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A font of `size` pixels: the CJK one for Chinese, Pillow's own otherwise."""
    found = cjk_font()
    if chinese and found is not None:
        return ImageFont.truetype(found[0], size, index=found[1])
    return ImageFont.load_default(size)


def _encode(image: Image.Image) -> Picture:
    """JPEG bytes and a half-size thumbnail (well under the uploads' 480 pixels)."""
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY)
    thumb = io.BytesIO()
    image.reduce(2).save(thumb, "JPEG", quality=JPEG_QUALITY)
    return Picture(out.getvalue(), thumb.getvalue(), image.width, image.height)


def _stamp(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], colour: tuple[int, ...],
           text: str, oval: bool = True) -> None:  # fmt: skip
    """A seal: an oval (or a box) with a word in the middle."""
    if oval:
        draw.ellipse(box, outline=colour, width=4)
    else:
        draw.rectangle(box, outline=colour, width=4)
    chinese = cjk_font() is not None
    font = _font(18, chinese)
    word = text if chinese else "DEMO"
    x = (box[0] + box[2]) // 2
    y = (box[1] + box[3]) // 2
    draw.text((x, y), word, font=font, fill=colour, anchor="mm")


@functools.cache
def _invoice_template() -> Image.Image:
    """What every invoice shares: paper, frame, title, labels, grid, seal."""
    image = Image.new("RGB", SIZE, PAPER)
    draw = ImageDraw.Draw(image)
    draw.rectangle((12, 12, 587, 387), outline=RED, width=2)
    draw.rectangle((18, 18, 581, 381), outline=RED, width=1)
    chinese = cjk_font() is not None
    title = "收款发票（演示样张）" if chinese else "INVOICE  (DEMO)"
    draw.text((300, 48), title, font=_font(28, chinese), fill=RED, anchor="mm")
    draw.line((170, 72, 430, 72), fill=RED, width=2)
    draw.line((170, 77, 430, 77), fill=RED, width=1)
    labels = (
        ("票据号码", "开票日期", "收款单位", "项目")
        if chinese
        else ("No.", "Date", "Payee", "Item")
    )
    for row, label in enumerate(labels):
        draw.text((40, 100 + row * 38), label, font=_font(18, chinese), fill=INK)
    for row in range(5):
        draw.line((36, 126 + row * 38, 564, 126 + row * 38), fill=FAINT, width=1)
    draw.text((40, 300), "金额（元）" if chinese else "Amount (CNY)", font=_font(18, chinese),
              fill=INK)  # fmt: skip
    draw.rectangle((36, 290, 380, 350), outline=FAINT, width=1)
    _stamp(draw, (420, 280, 560, 360), RED, "演示专用章")
    return image


@functools.lru_cache(maxsize=256)
def invoice(number: str, day: str, amount_fen: int, payee: str, item: str) -> Picture:
    """An invoice-like picture of a payment to `payee` for `item` (Chinese text only with a
    CJK font; the number, date and amount always)."""
    image = _invoice_template().copy()
    draw = ImageDraw.Draw(image)
    chinese = cjk_font() is not None
    draw.text((170, 100), number, font=_font(18), fill=INK)
    draw.text((170, 138), day, font=_font(18), fill=INK)
    if chinese:
        draw.text((170, 176), payee[:18], font=_font(18, True), fill=INK)
        draw.text((170, 214), item[:20], font=_font(18, True), fill=INK)
    else:  # the lines' shapes, without words the font cannot draw
        for row, length in enumerate((len(payee), len(item))):
            width = min(390, 18 * length)
            draw.rectangle((170, 182 + row * 38, 170 + width, 194 + row * 38), fill=FAINT)
    draw.text((200, 320), yuan(amount_fen, symbol=""), font=_font(30), fill=INK, anchor="lm")
    return _encode(image)


@functools.cache
def _receipt_template() -> Image.Image:
    """What every bank receipt shares: paper, the bank's band, labels, seal."""
    image = Image.new("RGB", SIZE, (246, 249, 253))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 599, 70), fill=BLUE)
    chinese = cjk_font() is not None
    title = "转账回单（演示）" if chinese else "TRANSFER RECEIPT  (DEMO)"
    draw.text((300, 35), title, font=_font(26, chinese), fill=(255, 255, 255), anchor="mm")
    labels = (
        ("凭证号", "交易日期", "付款人", "收款人", "金额（元）")
        if chinese
        else ("Voucher", "Date", "Payer", "Payee", "Amount (CNY)")
    )
    for row, label in enumerate(labels):
        draw.text((40, 100 + row * 50), label, font=_font(18, chinese), fill=INK)
        draw.line((36, 128 + row * 50, 564, 128 + row * 50), fill=(210, 218, 230), width=1)
    if chinese:
        draw.text((200, 200), "江州市慈善基金会", font=_font(18, True), fill=INK)
    _stamp(draw, (440, 300, 560, 370), BLUE, "业务专用章", oval=False)
    return image


@functools.lru_cache(maxsize=256)
def receipt(voucher_no: str, day: str, amount_fen: int, payee: str, count: int = 1) -> Picture:
    """A bank receipt of the foundation's transfer to `payee`, or of a batch of `count`
    transfers that day (the first one's voucher and payee, and the total)."""
    image = _receipt_template().copy()
    draw = ImageDraw.Draw(image)
    draw.text((200, 100), voucher_no + (f"  (+{count - 1})" if count > 1 else ""), font=_font(18),
              fill=INK)  # fmt: skip
    draw.text((200, 150), day, font=_font(18), fill=INK)
    if cjk_font() is not None:
        who = f"{payee[:12]} 等{count}笔" if count > 1 else payee[:16]
        draw.text((200, 250), who, font=_font(18, True), fill=INK)
    else:
        draw.rectangle((200, 206, 200 + min(300, 18 * 8), 218), fill=(210, 218, 230))
        draw.rectangle((200, 256, 200 + min(300, 18 * len(payee)), 268), fill=(210, 218, 230))
        if count > 1:
            draw.text((520, 262), f"x{count}", font=_font(18), fill=INK, anchor="mm")
    draw.text((200, 312), yuan(amount_fen, symbol=""), font=_font(30), fill=INK, anchor="lm")
    return _encode(image)


#: scenes a progress photo can show
SCENES = ("kiosk", "benches", "meals", "heaters", "classroom")


@functools.lru_cache(maxsize=64)
def photo(scene: str, caption: str) -> Picture:
    """A drawn 'photo' of a scene of the demo's projects, with a caption when Chinese can
    be drawn."""
    image = Image.new("RGB", SIZE, (170, 205, 235))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 250, 599, 399), fill=(150, 170, 120))
    if scene == "kiosk":
        for i in range(3):
            x = 60 + i * 180
            draw.rectangle((x, 150, x + 130, 260), fill=(70, 140, 90))
            draw.polygon([(x - 12, 150), (x + 65, 110), (x + 142, 150)], fill=(60, 80, 70))
            for j, colour in enumerate(((60, 120, 200), (200, 60, 50), (90, 90, 90))):
                draw.rectangle((x + 10 + j * 40, 200, x + 40 + j * 40, 255), fill=colour)
    elif scene == "benches":
        for i in range(3):
            x = 50 + i * 185
            draw.rectangle((x, 215, x + 150, 230), fill=(150, 100, 60))
            draw.rectangle((x, 180, x + 150, 195), fill=(150, 100, 60))
            draw.rectangle((x + 10, 230, x + 20, 270), fill=(80, 80, 80))
            draw.rectangle((x + 130, 230, x + 140, 270), fill=(80, 80, 80))
        draw.polygon([(380, 120), (560, 120), (590, 160), (350, 160)], fill=(230, 120, 60))
    elif scene == "meals":
        draw.rectangle((0, 0, 599, 399), fill=(235, 225, 205))
        draw.rectangle((40, 230, 560, 260), fill=(160, 110, 70))
        for i in range(5):
            x = 60 + i * 100
            draw.rounded_rectangle((x, 170, x + 80, 230), radius=10, fill=(210, 70, 50))
            draw.rectangle((x + 5, 160, x + 75, 172), fill=(230, 230, 230))
    elif scene == "heaters":
        draw.rectangle((0, 0, 599, 399), fill=(225, 220, 210))
        for i in range(4):
            x = 50 + i * 135
            draw.rounded_rectangle((x, 170, x + 100, 290), radius=8, fill=(245, 245, 245),
                                   outline=(150, 150, 150), width=2)  # fmt: skip
            for j in range(5):
                draw.line((x + 15 + j * 17, 185, x + 15 + j * 17, 275), fill=(200, 90, 60),
                          width=4)  # fmt: skip
    else:  # classroom
        draw.rectangle((0, 0, 599, 399), fill=(240, 232, 215))
        draw.rectangle((120, 40, 480, 150), fill=(40, 80, 60), outline=(120, 90, 60), width=6)
        for row in range(2):
            for i in range(4):
                x, y = 70 + i * 130, 200 + row * 80
                draw.rectangle((x, y, x + 100, y + 20), fill=(190, 140, 80))
                draw.ellipse((x + 35, y - 40, x + 65, y - 10), fill=(60, 50, 45))
    draw.text((16, 14), "DEMO", font=_font(20), fill=(255, 255, 255))
    if cjk_font() is not None and caption:
        draw.rectangle((0, 352, 599, 399), fill=(0, 0, 0))
        draw.text((300, 376), caption[:26], font=_font(20, True), fill=(255, 255, 255),
                  anchor="mm")  # fmt: skip
    return _encode(image)


def store_picture(owner: User, picture: Picture, name: str, *, public: bool = False) -> Upload:
    """Keep `picture` in the app's storage as an upload of `owner` (added, not flushed).

    The demo's pictures skip WeChat's media check (`NOT_REQUIRED`): the seed runs before
    the sandbox starts, and they are not users' content. Their storage keys come from
    their content (in the shape of `new_key`), so a picture the storage already holds, from
    an earlier demo database in the same instance folder, is not written again.
    """
    storage = get_storage()
    digest = hashlib.sha256(picture.data).hexdigest()
    key = f"{digest[:2]}/{digest[2:4]}/{digest[:32]}.jpg"
    thumb = thumbnail_key(key)
    if not (storage.exists(key) and storage.exists(thumb)):
        storage.save(key, picture.data, "image/jpeg")
        storage.save(thumb, picture.thumbnail, "image/jpeg")
    upload = Upload(
        owner_id=owner.id,
        content_type="image/jpeg",
        size=len(picture.data),
        sha256=digest,
        storage_key=key,
        thumbnail_key=thumb,
        width=picture.width,
        height=picture.height,
        original_name=name[:255],
        media_check=MediaCheck.NOT_REQUIRED,
        public=public,
        created_at=utcnow(),
    )
    db.session.add(upload)
    return upload
