"""(g) How long a printable poster takes to make: the A4 PNG (150 dpi) and the A4 PDF of a
charity space's need, and of the space itself. Target: under a second each.

    .venv/bin/python -m bench.poster            # prints the table
    .venv/bin/python -m bench.poster --rounds 50

It needs the PostgreSQL and Redis servers of bench/run.py (`DATABASE_URL`, `REDIS_URL`,
same defaults), creates its own database `linshan_bench_<random>` (dropped at the end),
uses Redis database 13 (flushed at start and end) and a WeChat sandbox in a thread, which
draws the mini-program code the first time (kept in `space_codes` after that, as in
production). Each round renders through `backend.spaces.poster.poster` in an app context:
the queries (space, need, stored code), the figures, the layout and the painting.

`bench_poster(rows)` does the same and appends its rows `(section, measure, value, target,
verdict)` to `rows`, for bench/run.py's table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import redis

from bench.data import app_environment, create_database, drop_database, pct, seed
from tests.support import with_redis_db

POSTER_REDIS_DB = 13
DEFAULT_ROUNDS = 20
TARGET_SECONDS = 1.0
SPACE_CODE = "bench-space-01"


def _add_space(app, fund_id: int) -> None:
    from backend.extensions import db
    from backend.funds.models import Fund
    from backend.spaces.models import CharitySpace

    with app.app_context():
        fund = db.session.get(Fund, fund_id)
        db.session.add(
            CharitySpace(
                code=SPACE_CODE,
                name="基准社区邻里互助慈善空间",
                region_id=fund.region_id,
                fund_id=fund.id,
                address="基准市基准区基准街道幸福路 188 号基准社区党群服务中心一楼东侧爱心驿站",
                opening_hours="周一至周日 8:30-18:00",
                description="设有爱心捐赠角和项目公示墙，居民可扫码查看每一笔善款的去向。",
            )
        )
        db.session.commit()
        db.session.remove()


def measure(app, need_id: int, rounds: int) -> dict[str, list[float]]:
    """Seconds per render, for each of: need PNG, need PDF, space PNG, space PDF."""
    from backend.extensions import db
    from backend.spaces.poster import PosterFormat, poster

    cases = {
        "need poster PNG": (need_id, PosterFormat.PNG),
        "need poster PDF": (need_id, PosterFormat.PDF),
        "space poster PNG": (None, PosterFormat.PNG),
        "space poster PDF": (None, PosterFormat.PDF),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    with app.app_context():
        for target, fmt in cases.values():  # first: the codes fetched and kept, fonts loaded
            poster(SPACE_CODE, target, fmt)
            db.session.commit()
        for _ in range(rounds):  # interleaved, so a busy moment of the machine hits all
            for name, (target, fmt) in cases.items():
                started = time.perf_counter()
                made = poster(SPACE_CODE, target, fmt)
                db.session.commit()
                times[name].append(time.perf_counter() - started)
                assert made.content
        db.session.remove()
    return times


def bench_poster(rows: list, rounds: int = DEFAULT_ROUNDS) -> None:
    """Measure the posters on a scratch database; append the table's rows to `rows`."""
    from flask_migrate import upgrade

    from backend import create_app
    from backend.extensions import db
    from backend.wechat_sandbox import SandboxConfig, SandboxServer

    server_url = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    redis_url = with_redis_db(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379",
                              POSTER_REDIS_DB)  # fmt: skip
    instance = Path(tempfile.mkdtemp(prefix="linshan-bench-poster-"))
    sandbox = SandboxServer(SandboxConfig()).start()
    db_name, db_url = create_database(server_url)
    redis.Redis.from_url(redis_url).flushdb()
    app = None
    try:
        app = create_app({"ENVIRON": app_environment(
            db_url, redis_url, instance, PUBLIC_BASE_URL="https://linshan.example.org",
            WECHAT_API_BASE=sandbox.url, WECHAT_PAY_API_BASE=sandbox.url,
        )})  # fmt: skip
        with app.app_context():
            upgrade()
        fund_id, needs = seed(app, {"poster": 0})
        _add_space(app, fund_id)
        times = measure(app, needs["poster"], rounds)
    finally:
        if app is not None:
            with app.app_context():
                db.engine.dispose()
            app.extensions["redis"].close()
        drop_database(server_url, db_name)
        redis.Redis.from_url(redis_url).flushdb()
        sandbox.stop()
        shutil.rmtree(instance, ignore_errors=True)
    for name, seconds in times.items():
        median, p95 = statistics.median(seconds), pct(seconds, 0.95)
        rows.append((
            "posters", f"{name} ({rounds} renders)",
            f"median {median * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms",
            f"< {TARGET_SECONDS * 1000:.0f} ms", "PASS" if p95 < TARGET_SECONDS else "FAIL",
        ))  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    args = parser.parse_args(argv)
    rows: list[tuple[str, str, str, str, str]] = []
    bench_poster(rows, args.rounds)
    head = ("section", "measure", "value", "target", "verdict")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(5)]
    for row in [head, *rows]:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    return 0 if all(row[4] == "PASS" for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
