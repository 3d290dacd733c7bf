"""The latency chart, drawn with Pillow (no plotting library needed): log-log axes."""

from __future__ import annotations

import math
from itertools import pairwise
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_PATHS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
)
WIDTH, HEIGHT = 1100, 740
LEFT, RIGHT, TOP, BOTTOM = 110, 110, 125, 90
COUNTER = (31, 119, 180)
SQL = (214, 39, 40)
REDIS = (44, 160, 44)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in FONT_PATHS:
        if Path(path).is_file():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def _decades(low: float, high: float) -> list[float]:
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    return [10.0**e for e in range(first, last + 1)]


def _dashed(draw: ImageDraw.ImageDraw, points, fill, width: int) -> None:
    for (x0, y0), (x1, y1) in pairwise(points):
        length = math.hypot(x1 - x0, y1 - y0)
        steps = max(1, int(length // 10))
        for i in range(0, steps, 2):
            a, b = i / steps, min(1.0, (i + 1) / steps)
            draw.line(
                [
                    (x0 + (x1 - x0) * a, y0 + (y1 - y0) * a),
                    (x0 + (x1 - x0) * b, y0 + (y1 - y0) * b),
                ],
                fill=fill,
                width=width,
            )


def _ms(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:.3g} s"
    if value >= 1:
        return f"{value:.3g} ms"
    return f"{value * 1000:.3g} µs"


def draw_latency_chart(rows: list[dict], path: Path, subtitle: str) -> None:
    """rows: {"donations", "counter_p50", "counter_p99", "sql_p50", "sql_p99"[, "redis_p50"]}
    (ms)."""
    rows = sorted(rows, key=lambda r: r["donations"])
    series = [
        ("counter_p50", "GET /api/v1/needs/<id>/progress (HTTP, the app), p50", COUNTER, False),
        ("counter_p99", "GET /api/v1/needs/<id>/progress (HTTP, the app), p99", COUNTER, True),
        ("redis_p50", "the counter in Redis alone (HMGET), p50", REDIS, False),
        ("sql_p50", "SQL SUM over the need's paid donations, p50", SQL, False),
        ("sql_p99", "SQL SUM over the need's paid donations, p99", SQL, True),
    ]
    series = [entry for entry in series if all(entry[0] in r for r in rows)]
    xs = [r["donations"] for r in rows]
    ys = [r[key] for r in rows for key, *_ in series]
    x_ticks = _decades(min(xs), max(xs))
    y_ticks = _decades(min(ys) * 0.8, max(ys) * 1.25)
    lx0, lx1 = math.log10(x_ticks[0]), math.log10(x_ticks[-1])
    ly0, ly1 = math.log10(y_ticks[0]), math.log10(y_ticks[-1])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (math.log10(x) - lx0) / (lx1 - lx0) * plot_w

    def py(y: float) -> float:
        return TOP + plot_h - (math.log10(y) - ly0) / (ly1 - ly0) * plot_h

    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    title, small, tiny = _font(22), _font(15), _font(13)
    draw.text(
        (LEFT, 18),
        "Need progress read latency vs paid donations on the need",
        fill="black",
        font=title,
    )
    for i, line in enumerate(subtitle.split("\n")):
        draw.text((LEFT, 50 + 18 * i), line, fill=(90, 90, 90), font=tiny)
    # grid and ticks
    for y in y_ticks:
        draw.line([(LEFT, py(y)), (LEFT + plot_w, py(y))], fill=(225, 225, 225))
        for m in range(2, 10):
            v = y * m
            if v < y_ticks[-1]:
                draw.line([(LEFT, py(v)), (LEFT + plot_w, py(v))], fill=(244, 244, 244))
        label = _ms(y)
        w = draw.textlength(label, font=small)
        draw.text((LEFT - 10 - w, py(y) - 9), label, fill="black", font=small)
    for x in x_ticks:
        draw.line([(px(x), TOP), (px(x), TOP + plot_h)], fill=(225, 225, 225))
        label = f"{int(x):,}"
        w = draw.textlength(label, font=small)
        draw.text((px(x) - w / 2, TOP + plot_h + 8), label, fill="black", font=small)
    draw.rectangle([LEFT, TOP, LEFT + plot_w, TOP + plot_h], outline="black")
    xlabel = "paid donations on the need (log scale)"
    w = draw.textlength(xlabel, font=small)
    draw.text((LEFT + plot_w / 2 - w / 2, HEIGHT - 45), xlabel, fill="black", font=small)
    ylabel = Image.new("RGBA", (360, 24), (255, 255, 255, 0))
    ImageDraw.Draw(ylabel).text((0, 0), "read latency (log scale)", fill="black", font=small)
    ylabel = ylabel.rotate(90, expand=True)
    image.paste(ylabel, (18, TOP + plot_h // 2 - 180), ylabel)

    for key, _, colour, dashed in series:
        points = [(px(r["donations"]), py(r[key])) for r in rows]
        if dashed:
            _dashed(draw, points, colour, 3)
        else:
            draw.line(points, fill=colour, width=3)
        for x, y in points:
            draw.ellipse([x - 5, y - 5, x + 5, y + 5], fill=colour if not dashed else "white",
                         outline=colour, width=2)  # fmt: skip
    # values next to the last points, pushed apart where they would overlap
    last = rows[-1]
    labels = sorted(
        ([py(last[key]) - 8, _ms(last[key]), colour] for key, _, colour, _ in series),
        key=lambda label: label[0],
    )
    for above, below in pairwise(labels):
        below[0] = max(below[0], above[0] + 15)
    for y, text, colour in labels:
        draw.text((px(last["donations"]) + 8, y), text, fill=colour, font=tiny)
    # legend, inside the plot's top left corner
    lx, ly = LEFT + 14, TOP + 12
    box_w = 60 + max(draw.textlength(label, font=tiny) for _, label, _, _ in series)
    draw.rectangle(
        [lx - 8, ly - 8, lx + box_w, ly + len(series) * 24], fill="white", outline=(180, 180, 180)
    )
    for i, (_, label, colour, dashed) in enumerate(series):
        y = ly + i * 24
        if dashed:
            _dashed(draw, [(lx, y + 8), (lx + 40, y + 8)], colour, 3)
        else:
            draw.line([(lx, y + 8), (lx + 40, y + 8)], fill=colour, width=3)
        draw.text((lx + 50, y), label, fill="black", font=tiny)
    image.save(path)
