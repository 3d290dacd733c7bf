"""The stats roll-up against a progress read, on a city with a million paid donations.

    .venv/bin/python -m bench.stats [--donations N] [--districts N] [--runs N] [--keep]

Builds a scratch database (migrated with the app's migrations, dropped at the end unless
--keep): one city with districts (4 streets × 5 communities each), 400 funds over the
communities, 300 needs per district (a mix of statuses, one in 20 an unpublished draft),
`--donations` paid donations to the public needs (PostgreSQL's generate_series, paid over
the last 15 months; 1 in 50 refunded, 1 in 50 half refunded) plus 2% unpaid orders, 20,000
disbursed expenses, 200 charity spaces and targets for the city and one district. Then,
in-process (an app context, no HTTP), times `stats.services.rollup` for the city, one
district and one community (the first call, "cold", then `--runs` repeated calls: median
and p95) beside `progress.service.read_needs([id])` for one need, and prints the ratio
and the number of SQL statements per roll-up; then the same through the endpoints as a
client gets them (`GET /api/v1/stats` served from the process's copy after its first read,
beside `GET /api/v1/needs/<id>/progress`; target: within 3×).

Needs PostgreSQL (DATABASE_URL: only the server is used) and Redis (REDIS_URL; database 13
is flushed at start and end).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

import psycopg
import redis
import sqlalchemy as sa

from bench.data import (
    Bar,
    _triggers_off,
    app_environment,
    create_database,
    drop_database,
    rebuild_month_totals,
)
from tests.support import with_redis_db

STATS_REDIS_DB = 13
STREETS, COMMUNITIES, FUNDS, NEEDS_PER_DISTRICT = 4, 5, 400, 300
EXPENSES, SPACES = 20_000, 200
#: the need statuses dealt round-robin (index = need number % 20)
STATUSES = ["draft", "closed", "completed", "in_progress", "in_progress", "funded", "funded"]
STATUSES += ["fundraising"] * (20 - len(STATUSES))


def log(text: str = "") -> None:
    print(text, flush=True)


def build(url: str, districts: int, donations: int) -> dict[str, int]:
    """The city, its funds, needs, donations, expenses, spaces and targets (bulk SQL)."""
    ids: dict[str, int] = {}
    with psycopg.connect(url) as conn:
        cur = conn.cursor()

        def region(name: str, level: str, parent: tuple[int, str] | None) -> tuple[int, str]:
            rid = cur.execute(
                "INSERT INTO regions (parent_id, level, name, path, sort_order, created_at,"
                " updated_at) VALUES (%s, %s, %s, '', 0, now(), now()) RETURNING id",
                (parent[0] if parent else None, level, name),
            ).fetchone()[0]
            path = f"{parent[1] if parent else '/'}{rid}/"
            cur.execute("UPDATE regions SET path = %s WHERE id = %s", (path, rid))
            return rid, path

        city = region("基准市", "city", None)
        ids["city"] = city[0]
        communities: list[list[int]] = []
        for d in range(districts):
            district = region(f"基准{d + 1}区", "district", city)
            ids.setdefault("district", district[0])
            mine = []
            for s in range(STREETS):
                street = region(f"基准{d + 1}区{s + 1}街道", "street", district)
                for c in range(COMMUNITIES):
                    community = region(f"基准{d + 1}-{s + 1}-{c + 1}社区", "community", street)
                    ids.setdefault("community", community[0])
                    mine.append(community[0])
            communities.append(mine)
        flat = [c for mine in communities for c in mine]
        foundation = cur.execute(
            "INSERT INTO foundations (name, credit_code, mch_id, created_at, updated_at)"
            " VALUES ('基准统计基金会', '53330100MJ0000001S', '1900000109', now(), now())"
            " RETURNING id"
        ).fetchone()[0]
        cur.execute(
            "INSERT INTO funds (foundation_id, region_id, name, committee_threshold_fen,"
            " public_fundraising, created_at, updated_at)"
            " SELECT %s, (%s::int[])[1 + i %% %s], '基准统计基金' || i, 500000, true, now(), now()"
            " FROM generate_series(0, %s - 1) AS i",
            (foundation, flat, len(flat), FUNDS),
        )
        # each community's funds, to give its needs one of them
        fund_of = dict(
            cur.execute("SELECT region_id, min(id) FROM funds GROUP BY region_id").fetchall()
        )
        need_regions = [
            mine[i % len(mine)] for mine in communities for i in range(NEEDS_PER_DISTRICT)
        ]
        cur.execute(
            """
            INSERT INTO needs (fund_id, region_id, category, title, story, goal_fen, status,
                beneficiary_count, published_at, ended_at, created_at, updated_at, version)
            SELECT f.fund_id, f.region_id, 'elderly', '基准统计项目' || f.i, '性能基准用的项目。',
                10000000, s.status::need_status, 1 + f.i %% 50,
                CASE WHEN s.status <> 'draft' THEN now() - interval '500 days' END,
                CASE WHEN s.status IN ('closed', 'completed') THEN now() END, now(), now(), 1
            FROM unnest(%s::int[], %s::int[]) WITH ORDINALITY AS f(region_id, fund_id, i),
                LATERAL (SELECT (%s::text[])[1 + (f.i::int %% 20)] AS status) AS s
            """,
            (need_regions, [fund_of[r] for r in need_regions], STATUSES),
        )
        public = cur.execute(
            "SELECT id, fund_id FROM needs WHERE status <> 'draft' ORDER BY id"
        ).fetchall()
        ids["need"] = public[-1][0]
        need_ids, fund_ids = [p[0] for p in public], [p[1] for p in public]
        conn.commit()

        _triggers_off(conn)
        chunk = 100_000
        bar = Bar(f"paid donations ({donations:,})", donations)
        for start in range(0, donations, chunk):
            stop = min(donations, start + chunk)
            cur.execute(
                """
                INSERT INTO donations (out_trade_no, need_id, fund_id, amount_fen, refunded_fen,
                    allocated_fen, anonymous, message, public_name, status, transaction_id,
                    expires_at, paid_at, created_at, updated_at)
                SELECT 'SB' || lpad(i::text, 12, '0'), (%(needs)s::int[])[1 + i %% %(n)s],
                    (%(funds)s::int[])[1 + i %% %(n)s], a.amount,
                    CASE i %% 50 WHEN 0 THEN a.amount WHEN 1 THEN a.amount / 2 ELSE 0 END,
                    0, false, '', '爱心人士',
                    (CASE i %% 50 WHEN 0 THEN 'refunded' WHEN 1 THEN 'partially_refunded'
                        ELSE 'paid' END)::donation_status,
                    'SBT' || lpad(i::text, 12, '0'), p.at + interval '15 minutes', p.at, p.at, p.at
                FROM generate_series(%(start)s, %(stop)s - 1) AS i,
                    LATERAL (SELECT 100 * (1 + (i::bigint * 7919) %% 500) AS amount) AS a,
                    LATERAL (SELECT now() - (i %% 456) * interval '1 day'
                                 - (i * 7 %% 86400) * interval '1 second' AS at) AS p
                """,
                {"needs": need_ids, "funds": fund_ids, "n": len(need_ids), "start": start,
                 "stop": stop},
            )  # fmt: skip
            bar.set(stop)
        bar.close()
        cur.execute(
            """
            INSERT INTO donations (out_trade_no, need_id, fund_id, amount_fen, refunded_fen,
                allocated_fen, anonymous, message, public_name, status, expires_at, created_at,
                updated_at)
            SELECT 'SP' || lpad(i::text, 12, '0'), (%(needs)s::int[])[1 + i %% %(n)s],
                (%(funds)s::int[])[1 + i %% %(n)s], 1000, 0, 0, false, '', '爱心人士',
                (CASE WHEN i %% 2 = 0 THEN 'pending' ELSE 'closed' END)::donation_status,
                now() - interval '1 day', now() - interval '1 day', now() - interval '1 day'
            FROM generate_series(0, %(count)s - 1) AS i
            """,
            {"needs": need_ids, "funds": fund_ids, "n": len(need_ids), "count": donations // 50},
        )
        cur.execute(
            """
            WITH entries AS (
                INSERT INTO journal_entries (kind, memo, created_at)
                SELECT 'expense', '基准支出 ' || i, now() FROM generate_series(1, %(count)s) AS i
                RETURNING id
            ), numbered AS (SELECT id, row_number() OVER (ORDER BY id) AS i FROM entries)
            INSERT INTO expenses (fund_id, need_id, amount_fen, payee_name, payee_type, purpose,
                status, threshold_fen, needs_committee, required_approvals, voucher_no,
                disbursed_at, journal_entry_id, created_at, updated_at)
            SELECT (%(funds)s::int[])[1 + i %% %(n)s], (%(needs)s::int[])[1 + i %% %(n)s],
                100 * (1 + i %% 300), '基准供应商', 'organization', '物资',
                'disbursed', 500000, false, 1, 'V' || i,
                now() - (i %% 400) * interval '1 day', id, now(), now()
            FROM numbered
            """,
            {"funds": fund_ids, "needs": need_ids, "n": len(need_ids), "count": EXPENSES},
        )
        conn.commit()
        cur.execute(
            "INSERT INTO charity_spaces (code, name, region_id, fund_id, address, created_at,"
            " updated_at) SELECT 'bs-' || i, '基准空间' || i, (%s::int[])[1 + i %% %s],"
            " (SELECT min(id) FROM funds), '基准路' || i || '号', now(), now()"
            " FROM generate_series(0, %s - 1) AS i",
            (flat, len(flat), SPACES),
        )
        for region_id in (ids["city"], ids["district"]):
            cur.execute(
                "INSERT INTO programme_targets (region_id, year, metric, target, due_on,"
                " created_at, updated_at) SELECT %s, extract(year FROM now())::int, m, 1000,"
                " make_date(extract(year FROM now())::int, 12, 31), now(), now()"
                " FROM unnest(ARRAY['fund_count', 'need_count', 'raised_fen']) AS m",
                (region_id,),
            )
        t = time.perf_counter()
        rebuild_month_totals(conn)  # loaded with the triggers off
        log(f"  month totals rebuilt in {time.perf_counter() - t:.1f} s")
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        t = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        log(f"  VACUUM ANALYZE in {time.perf_counter() - t:.1f} s")
    return ids


def timed(fn: Callable[[], object], runs: int) -> tuple[float, list[float]]:
    """The first call's seconds and `runs` later calls' seconds."""
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    later = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        later.append(time.perf_counter() - t)
    return first, later


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--donations", type=int, default=1_000_000)
    parser.add_argument("--districts", type=int, default=5)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args(argv)

    server_url = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    redis_url = with_redis_db(
        os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379", STATS_REDIS_DB
    )
    store = redis.Redis.from_url(redis_url)
    store.flushdb()
    name, url = create_database(server_url)
    log(f"database {name}; Redis database {STATS_REDIS_DB} flushed")
    try:
        from flask_migrate import upgrade

        from backend import create_app

        env = app_environment(url, redis_url, tempfile.mkdtemp(prefix="linshan-bench-stats-"))
        app = create_app({"ENVIRON": env})
        with app.app_context():
            upgrade()
        t = time.perf_counter()
        ids = build(url, args.districts, args.donations)
        log(f"built in {time.perf_counter() - t:.1f} s: {ids}")
        measure(app, ids, args.runs)
    finally:
        if args.keep:
            log(f"kept database {name}")
        else:
            drop_database(server_url, name)
        store.flushdb()
    return 0


def measure(app, ids: dict[str, int], runs: int) -> None:
    from backend.extensions import db
    from backend.progress.service import read_needs, rebuild_need
    from backend.regions.models import Region
    from backend.stats.services import rollup

    with app.app_context():
        rebuild_need(ids["need"])
        db.session.commit()
        statements = 0

        @sa.event.listens_for(db.engine, "before_cursor_execute")
        def count(*_args: object) -> None:
            nonlocal statements
            statements += 1

        rows = []
        first, later = timed(lambda: read_needs([ids["need"]]), runs * 50)
        progress_ms = statistics.median(later) * 1000
        rows.append(("progress read_needs([id])", first, later, 0))
        for key in ("city", "district", "community"):
            region = db.session.get(Region, ids[key])
            assert region is not None
            statements = 0
            stats = rollup(region)
            per_call = statements
            first, later = timed(lambda region=region: rollup(region), runs)
            rows.append((f"stats {key} ({stats.need_count:,} needs, "
                         f"{stats.donation_count:,} donations)", first, later, per_call))  # fmt: skip
        first, later = timed(lambda: rollup(None), runs)
        rows.append(("stats whole platform", first, later, per_call))
        db.session.remove()

    log("")
    log(f"{'':48} {'first ms':>9} {'median ms':>10} {'p95 ms':>8} {'× progress':>11} {'SQL':>4}")
    for label, first, later, sql in rows:
        median = statistics.median(later) * 1000
        log(
            f"{label:48} {first * 1000:9.2f} {median:10.3f} {p95(later) * 1000:8.3f}"
            f" {median / progress_ms:11.0f} {sql or '':>4}"
        )
    log("")
    log("progress: the first read asks Redis (HMGET); later reads answer from the near cache.")
    log("stats: raw compute (aggregate SQL over PostgreSQL), no cache in front of it.")
    measure_answers(app, ids, runs)


def measure_answers(app, ids: dict[str, int], runs: int) -> None:
    """The endpoints as a client gets them (in-process, the whole Flask request): a need's
    progress beside the city's and a district's stats, which after their first read are
    served from the process's copy until a payment or an edit (target: within 3×)."""
    client = app.test_client()
    paths = {
        "GET /needs/<id>/progress": f"/api/v1/needs/{ids['need']}/progress",
        "GET /stats (the city)": f"/api/v1/stats?region_id={ids['city']}",
        "GET /stats (a district)": f"/api/v1/stats?region_id={ids['district']}",
    }

    def get(path: str) -> None:
        response = client.get(path)
        assert response.status_code == 200, response.get_data()

    rows = {label: timed(lambda path=path: get(path), runs * 50) for label, path in paths.items()}
    progress_ms = statistics.median(rows["GET /needs/<id>/progress"][1]) * 1000
    log("")
    log(f"{'answers (whole request, in-process)':48} {'first ms':>9} {'median ms':>10}"
        f" {'p95 ms':>8} {'× progress':>11}")  # fmt: skip
    for label, (first, later) in rows.items():
        median = statistics.median(later) * 1000
        ratio = median / progress_ms
        verdict = "" if label.startswith("GET /needs") else ("  met" if ratio <= 3 else "  NOT met")
        log(f"{label:48} {first * 1000:9.2f} {median:10.3f} {p95(later) * 1000:8.3f}"
            f" {ratio:11.2f}{verdict}")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
