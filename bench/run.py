"""Benchmarks of the progress counter and the payment notifications (not run in CI).

    .venv/bin/python -m bench.run            # the full run (about 5 to 10 minutes)
    .venv/bin/python -m bench.run --quick    # a smaller run (under 2 minutes)
    .venv/bin/python -m bench.run --only a,d # some of the benchmarks

(a) progress reads per second under gunicorn, beside the bare `/healthz` of the same app
    and configuration, measured by the same load generator (target: at least 0.8 of it);
(b) progress read latency on needs with 1,000 … 1,000,000 paid donations, beside a SQL SUM
    over the same rows (target: 1M/1k ratio of the counter's p50 at most 1.2);
(c) payment notifications per second and their p99, first deliveries and duplicates
    (target: 500 a second);
(d) 10,000 notifications, 30% duplicates, from 64 concurrent senders: every answer SUCCESS,
    the counters equal PostgreSQL's sums exactly, one balanced journal entry per payment;
(e) a need with 1,000,000 paid donations (and their journal entries) and a few expenses
    disbursed through the service, allocated over them: its public ledger page and a
    donor's own donations with their allocations, beside a progress read, same generator
    (target: each at least 0.33 of the progress reads per second);
(f) the worker's sealing job over 100,000 bulk-loaded journal entries (target: 1,000 a
    second), then the whole chain verified. (f) runs before (e), whose million entries it
    would otherwise seal too;
(g) every public read (a need, the need list, a ledger page, a fund, the city's and a
    district's stats, the regions, a space, and the web pages of a need, fund, space and
    region), each beside the bare `/healthz` measured right before it (target: at least 0.5
    of it), with the time to make each answer afresh.

It creates its own database `linshan_bench_<random>` on DATABASE_URL's server (default
postgresql://postgres@127.0.0.1:5432/postgres), migrates it with the app's migrations,
uses Redis database 14 of REDIS_URL's server (flushed), starts `gunicorn
'backend:create_app()'` on a free port, and drops the database at the end (unless --keep).
Figures are printed as a table and written to bench/out/results.json, bench/out/results.md
and the chart bench/out/latency.png; a full run also records the table in bench/README.md.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if not __package__:  # run as `python bench/run.py`
    sys.path.insert(0, str(ROOT))
    try:
        import flask_migrate  # noqa: F401
        import psycopg
        import redis
    except ImportError:
        venv_python = ROOT / ".venv" / "bin" / "python"
        if venv_python.is_file() and Path(sys.executable) != venv_python:
            os.execv(str(venv_python), [str(venv_python), "-m", "bench.run", *sys.argv[1:]])  # noqa: S606
        raise

import argparse  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

import psycopg  # noqa: E402
import redis  # noqa: E402

from backend.progress.counter import FIELDS, need_key  # noqa: E402
from bench import cpu, loadgen  # noqa: E402
from bench.chart import draw_latency_chart  # noqa: E402
from bench.data import (  # noqa: E402
    NOTIFY_PATH,
    Bar,
    amount_of,
    app_environment,
    bulk_load_entries,
    bulk_load_ledger,
    bulk_load_paid,
    create_database,
    create_pending,
    drop_database,
    notification_xml,
    pct,
    rebuild_counters,
    seed,
    transaction_id_for,
)
from tests.support import with_redis_db  # noqa: E402

OUT = ROOT / "bench" / "out"
README = ROOT / "bench" / "README.md"
HOST = "127.0.0.1"
BENCH_REDIS_DB = 14
SUCCESS = b"<return_code><![CDATA[SUCCESS]]></return_code>"
SUM_SQL = (
    "SELECT sum(amount_fen - refunded_fen), count(*) FROM donations"
    " WHERE need_id = %s AND paid_at IS NOT NULL"
)
DEFAULT_APP = "backend:create_app()"
C_NEEDS = 8
D_NEEDS = 4
#: the benchmarks in the order they run: (f) seals before (e) loads a million entries
BENCHMARKS = ("a", "b", "c", "d", "f", "e", "g")
#: (e) a need's paid donations (each with its journal entry), and the share of the target
#: ratio (ledger or my-donations reads per second over progress reads per second)
E_DONATIONS, E_DONATIONS_QUICK = 1_000_000, 100_000
E_TARGET_RATIO = 0.33
#: (e) after the need's donations, 1 in E_LATER_SHARE as many go to another need (so the
#: need's newest donation is not the table's newest row, as for most needs)
E_LATER_SHARE = 10
#: (e) the donor whose page is read has this many donations, spread over those the
#: expenses below spend (so each donation on the page shows where its money went)
E_DONOR_GIFTS = 40
#: (e) expenses disbursed from the need, each spanning about this many donations
E_EXPENSE_SPANS = (100, 1_000, 10_000, 100_000)
#: (f) journal entries bulk-loaded and sealed, and the target rate
F_ENTRIES, F_ENTRIES_QUICK = 100_000, 20_000
F_TARGET_RATE = 1_000


def log(text: str = "") -> None:
    print(text, flush=True)


def summary_ms(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "samples": len(ms),
        "p50_ms": round(pct(ms, 0.50), 3),
        "p95_ms": round(pct(ms, 0.95), 3),
        "p99_ms": round(pct(ms, 0.99), 3),
        "mean_ms": round(sum(ms) / len(ms), 3) if ms else float("nan"),
        "max_ms": round(max(ms), 3) if ms else float("nan"),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
            check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


class Server:
    """`gunicorn 'backend:create_app()'` on a free port, its log in bench/out/gunicorn.log."""

    def __init__(
        self, env: dict[str, str], workers: int, worker_class: str, threads: int, app: str
    ) -> None:
        self.env, self.workers, self.worker_class, self.threads = (
            env,
            workers,
            worker_class,
            threads,
        )
        self.app = app
        self.port = free_port()
        self.env["PUBLIC_BASE_URL"] = f"http://{HOST}:{self.port}"
        self.proc: subprocess.Popen | None = None

    @property
    def description(self) -> str:
        kind = self.worker_class + (f" x{self.threads} threads" if self.threads > 1 else "")
        app = "" if self.app == DEFAULT_APP else f" serving {self.app}"
        return f"gunicorn, {self.workers} {kind} workers{app}"

    def start(self) -> None:
        command = [
            sys.executable, "-m", "gunicorn",
            "--bind", f"{HOST}:{self.port}",
            "--workers", str(self.workers),
            "--worker-class", self.worker_class,
            "--threads", str(self.threads),
            "--backlog", "2048",
            "--timeout", "120",
            "--log-level", "warning",
            self.app,
        ]  # fmt: skip
        self.log_file = open(OUT / "gunicorn.log", "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=self.log_file, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"gunicorn stopped at start-up; see {OUT / 'gunicorn.log'}")
            try:
                status, _ = http_get(self.port, "/readyz")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit("gunicorn did not become ready in 60 s")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()
        self.proc = None


def http_get(port: int, path: str, conn: http.client.HTTPConnection | None = None,
             headers: dict[str, str] | None = None):  # fmt: skip
    """(status, body) of a GET."""
    own = conn is None
    conn = conn or http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        if response.will_close:
            conn.close()
        return response.status, body
    finally:
        if own:
            conn.close()


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.quick = args.quick
        self.only = set(args.only.split(",")) if args.only else set(BENCHMARKS)
        if self.only - set(BENCHMARKS):
            raise SystemExit(f"--only: unknown benchmarks {sorted(self.only - set(BENCHMARKS))}")
        self.server_url = (
            os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
        )
        base_redis = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379"
        self.redis_url = with_redis_db(base_redis, BENCH_REDIS_DB)
        self.results: dict = {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "quick": self.quick,
            "machine": {
                "cores": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
            "commit": git_commit(),
        }
        self.rows: list[tuple[str, str, str, str, str]] = []
        self.db_name = ""
        self.db_url = ""
        self.server: Server | None = None
        self.app = None
        self.instance = Path(tempfile.mkdtemp(prefix="linshan-bench-"))

    # -- set-up -------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        return app_environment(
            self.db_url,
            self.redis_url,
            self.instance,
            RATE_LIMIT_DONATIONS_PER_MINUTE="1000000",
            RATE_LIMIT_LOGINS_PER_MINUTE="1000000",
            RATE_LIMIT_USER_PER_MINUTE="100000000",
            RATE_LIMIT_ADDRESS_PER_MINUTE="100000000",
            **self.pay_v3_env(),
        )

    def pay_v3_env(self) -> dict[str, str]:
        """WeChat Pay v3's sandbox keys when `--pay-version v3` (made once per run)."""
        if self.args.pay_version != "v3":
            return {}
        from backend.payments.v3_keys import make_sandbox_keys

        return make_sandbox_keys(self.instance / "wechatpay-v3")

    def set_up(self) -> None:
        from flask_migrate import upgrade

        from backend import create_app

        before = cpu.snapshot(None)
        time.sleep(2)
        busy = cpu.split(before, cpu.snapshot(None))
        self.results["machine"]["busy_before_start_cores"] = round(
            busy.get("other", 0) + busy.get("postgres", 0) + busy.get("redis", 0), 2
        )
        log(
            f"other load on the machine before start: "
            f"{self.results['machine']['busy_before_start_cores']:.2f} of {os.cpu_count()} cores"
        )
        t = time.perf_counter()
        self.db_name, self.db_url = create_database(self.server_url)
        log(f"database {self.db_name} created; Redis database {BENCH_REDIS_DB} flushed")
        self.redis = redis.Redis.from_url(self.redis_url)
        self.redis.flushdb()
        self.app = create_app({"ENVIRON": self.env()})
        with self.app.app_context():
            upgrade()
        self.sizes = [1_000, 10_000, 100_000] if self.quick else [1_000, 10_000, 100_000, 1_000_000]
        if self.args.sizes:
            self.sizes = [int(s) for s in self.args.sizes.split(",")]
        names = ["read", "seq", *(f"b{n}" for n in self.sizes)]
        names += [f"c{i}" for i in range(1, C_NEEDS + 1)] + [f"d{i}" for i in range(1, D_NEEDS + 1)]
        names += ["e", "e-later"]
        self.fund_id, self.needs = seed(self.app, dict.fromkeys(names, 0))
        rebuild_counters(self.app, self.needs.values(), [self.fund_id])
        log(
            f"migrated and seeded (1 city→district→street→community, 1 foundation, 1 fund, "
            f"{len(self.needs)} needs) in {time.perf_counter() - t:.1f} s"
        )
        self.pg = psycopg.connect(self.db_url, autocommit=True)

    def start_server(self) -> None:
        cores = os.cpu_count() or 2
        workers = self.args.workers or 2 * cores
        self.server = Server(
            self.env(), workers, self.args.worker_class, self.args.threads, self.args.app
        )
        self.server.start()
        self.results["server"] = self.server.description
        log(f"{self.server.description} on port {self.server.port} (ready)")

    def tear_down(self) -> None:
        if self.server:
            self.server.stop()
        if getattr(self, "pg", None):
            self.pg.close()
        if self.app is not None:
            from backend.extensions import db

            with self.app.app_context():
                db.engine.dispose()
            self.app.extensions["redis"].close()
        if self.db_name:
            if self.args.keep:
                log(f"kept database {self.db_name} ({self.db_url}) and Redis db {BENCH_REDIS_DB}")
            else:
                drop_database(self.server_url, self.db_name)
                redis.Redis.from_url(self.redis_url).flushdb()
                log(f"database {self.db_name} dropped; Redis database {BENCH_REDIS_DB} flushed")
        shutil.rmtree(self.instance, ignore_errors=True)

    def row(self, section: str, measure: str, value: str, target: str = "", ok: bool | None = None):
        verdict = "" if ok is None else ("PASS" if ok else "FAIL")
        self.rows.append((section, measure, value, target, verdict))

    # -- (a) reads per second -------------------------------------------------------------
    def generator(self) -> str:
        wanted = self.args.generator
        if wanted == "wrk" and not shutil.which("wrk"):
            raise SystemExit("--generator wrk: wrk is not installed (apt-get install wrk)")
        if wanted == "auto":
            return "wrk" if shutil.which("wrk") else "python"
        return wanted

    def load_for(
        self, path: str, seconds: float, label: str, headers: dict[str, str] | None = None
    ) -> dict:
        """Hammer GET `path` (with `headers`) for `seconds`: throughput, latency, CPU split."""
        assert self.server is not None
        port, conns = self.server.port, self.args.read_connections
        gen = self.generator()
        before = cpu.snapshot(self.server.proc.pid)
        if gen == "wrk":
            options = [arg for name, value in (headers or {}).items()
                       for arg in ("-H", f"{name}: {value}")]  # fmt: skip
            out = subprocess.run(
                ["wrk", "-t", str(self.args.gen_procs), "-c", str(conns), "-d", f"{seconds:g}s",
                 "--latency", "--timeout", "30s", *options, f"http://{HOST}:{port}{path}"],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            after = cpu.snapshot(self.server.proc.pid)
            result = parse_wrk(out)
        else:
            rec, t0, t1 = loadgen.run_for(
                HOST, port, loadgen.get_request(HOST, port, path, headers), seconds, conns,
                self.args.gen_procs, label=label,
            )  # fmt: skip
            after = cpu.snapshot(self.server.proc.pid)
            inside = [
                (e - s, ok)
                for s, e, ok in zip(rec.starts, rec.ends, rec.oks, strict=True)
                if t0 <= e <= t1
            ]
            good = [lat for lat, ok in inside if ok]
            result = {
                "requests": len(good),
                "rps": len(good) / (t1 - t0),
                "errors": len(inside) - len(good) + rec.errors,
                **summary_ms(good),
            }
            if rec.first_error:
                result["first_error"] = rec.first_error
        result["seconds"] = seconds
        result["cpu_cores"] = cpu.split(before, after)
        if gen == "wrk":
            log(f"  {label:<34} {result['rps']:8.0f}/s  ({cpu.describe(result['cpu_cores'])})")
        else:
            log(f"    {result['rps']:8.0f}/s  ({cpu.describe(result['cpu_cores'])})")
        return result

    def bench_a(self) -> None:
        log("\n(a) progress reads per second vs /healthz, same app, server and generator")
        need = self.needs["read"]
        paths = {"healthz": "/healthz", "progress": f"/api/v1/needs/{need}/progress"}
        for path in paths.values():
            status, body = http_get(self.server.port, path)
            if status != 200:
                raise SystemExit(f"GET {path}: {status} {body[:200]!r}")
        gen = self.generator()
        rounds = self.args.rounds
        seconds = (4 if self.quick else 10) / rounds
        warm = 1 if self.quick else 3
        for name, path in paths.items():
            self.load_for(path, warm, f"warm-up {name}")
        runs: dict[str, list[dict]] = {"healthz": [], "progress": []}
        for r in range(rounds):
            order = ["healthz", "progress"] if r % 2 == 0 else ["progress", "healthz"]
            for name in order:
                runs[name].append(
                    self.load_for(paths[name], seconds, f"{name} round {r + 1}/{rounds}")
                )
        figures = {}
        for name, parts in runs.items():
            total = sum(p["requests"] for p in parts)
            span = sum(p["seconds"] for p in parts)
            figures[name] = {
                "rps": round(total / span, 1) if gen == "python" else round(
                    sum(p["rps"] * p["seconds"] for p in parts) / span, 1),
                "p50_ms": round(sum(p["p50_ms"] for p in parts) / len(parts), 3),
                "p99_ms": round(max(p["p99_ms"] for p in parts), 3),
                "errors": sum(p["errors"] for p in parts),
                "cpu_cores": {
                    k: round(sum(p["cpu_cores"].get(k, 0) for p in parts) / len(parts), 2)
                    for k in parts[0]["cpu_cores"]
                },
                "rounds": parts,
            }  # fmt: skip
        ratio = figures["progress"]["rps"] / figures["healthz"]["rps"]
        self.results["a"] = {
            "generator": gen,
            "connections": self.args.read_connections,
            "generator_processes": self.args.gen_procs,
            "seconds_each": seconds * rounds,
            "ratio": round(ratio, 3),
            "target_ratio": 0.8,
            **figures,
        }
        conf = f"{gen}, {self.args.read_connections} conns"
        for name in ("healthz", "progress"):
            f = figures[name]
            self.row(
                "a", f"GET {paths[name] if name == 'healthz' else '/api/v1/needs/<id>/progress'}"
                f" ({conf})",
                f"{f['rps']:,.0f}/s  p50 {f['p50_ms']:.2f} ms  p99 {f['p99_ms']:.2f} ms"
                + (f"  errors {f['errors']}" if f["errors"] else ""),
            )  # fmt: skip
            self.row("a", f"  CPU (cores) during {name}", cpu.describe(f["cpu_cores"]))
        self.row("a", "progress reads / healthz reads", f"{ratio:.2f}", ">= 0.80", ratio >= 0.8)

    # -- (b) latency against the number of donations ------------------------------------
    def bench_b(self) -> None:
        log("\n(b) progress read latency against the number of paid donations")
        t = time.perf_counter()
        expected = {}
        for size in self.sizes:
            need = self.needs[f"b{size}"]
            expected[size] = bulk_load_paid(self.db_url, need, self.fund_id, size)
        load_seconds = time.perf_counter() - t
        log("  VACUUM ANALYZE donations …")
        t2 = time.perf_counter()
        self.pg.execute("VACUUM (ANALYZE) donations")
        vacuum_seconds = time.perf_counter() - t2
        t3 = time.perf_counter()
        rebuild_counters(self.app, [self.needs[f"b{n}"] for n in self.sizes], [self.fund_id])
        rebuild_seconds = time.perf_counter() - t3
        log(
            f"  loaded {sum(self.sizes):,} paid donations in {load_seconds:.1f} s (COPY), vacuum "
            f"analyze {vacuum_seconds:.1f} s, counters rebuilt from PostgreSQL in "
            f"{rebuild_seconds:.1f} s; bulk rows have no journal entries (the counter and the "
            "SQL SUM read donations only)"
        )
        port = self.server.port
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        for size in self.sizes:
            status, body = http_get(port, f"/api/v1/needs/{self.needs[f'b{size}']}/progress", conn)
            got = json.loads(body)
            if (
                status != 200
                or got["donation_count"] != size
                or got["raised_fen"] != expected[size]
            ):
                raise SystemExit(f"progress of the {size} need is wrong: {status} {got}")
        rounds = 5
        counter_n = (300 if self.quick else 2000) // rounds
        sql_n = (30 if self.quick else 100) // rounds
        sql_budget = 1.0 if self.quick else 3.0
        counter_lat: dict[int, list[float]] = {n: [] for n in self.sizes}
        redis_lat: dict[int, list[float]] = {n: [] for n in self.sizes}
        sql_lat: dict[int, list[float]] = {n: [] for n in self.sizes}
        for size in self.sizes:  # warm-up
            path = f"/api/v1/needs/{self.needs[f'b{size}']}/progress"
            for _ in range(50):
                http_get(port, path, conn)
            self.pg.execute(SUM_SQL, (self.needs[f"b{size}"],)).fetchone()
        cpu_before = cpu.snapshot(self.server.proc.pid)
        bar = Bar("sequential reads, interleaved", rounds * len(self.sizes) * 2)
        for _ in range(rounds):
            for size in self.sizes:
                need = self.needs[f"b{size}"]
                path = f"/api/v1/needs/{need}/progress"
                for _ in range(counter_n):
                    s = time.perf_counter()
                    http_get(port, path, conn)
                    counter_lat[size].append(time.perf_counter() - s)
                key = need_key(need)
                for _ in range(counter_n):
                    s = time.perf_counter()
                    self.redis.hmget(key, *FIELDS)
                    redis_lat[size].append(time.perf_counter() - s)
                bar.update()
                deadline = time.perf_counter() + sql_budget
                for i in range(sql_n):
                    s = time.perf_counter()
                    self.pg.execute(SUM_SQL, (need,)).fetchone()
                    sql_lat[size].append(time.perf_counter() - s)
                    if i >= 2 and time.perf_counter() > deadline:
                        break
                bar.update()
        bar.close()
        cores = cpu.split(cpu_before, cpu.snapshot(self.server.proc.pid))
        conn.close()
        table = []
        for size in self.sizes:
            table.append(
                {"donations": size, "counter": summary_ms(counter_lat[size]),
                 "redis_hmget": summary_ms(redis_lat[size]), "sql_sum": summary_ms(sql_lat[size])}
            )  # fmt: skip
        small, big = table[0], table[-1]
        ratio = big["counter"]["p50_ms"] / small["counter"]["p50_ms"]
        ratio99 = big["counter"]["p99_ms"] / small["counter"]["p99_ms"]
        redis_ratio = big["redis_hmget"]["p50_ms"] / small["redis_hmget"]["p50_ms"]
        sql_ratio = big["sql_sum"]["p50_ms"] / small["sql_sum"]["p50_ms"]
        self.results["b"] = {
            "sizes": table,
            "counter_ratio_p50": round(ratio, 3),
            "counter_ratio_p99": round(ratio99, 3),
            "redis_hmget_ratio_p50": round(redis_ratio, 3),
            "sql_ratio_p50": round(sql_ratio, 2),
            "target_ratio": 1.2,
            "load_seconds": round(load_seconds, 1),
            "vacuum_analyze_seconds": round(vacuum_seconds, 1),
            "rebuild_seconds": round(rebuild_seconds, 1),
            "journal_rows_for_bulk": False,
            "cpu_cores": cores,
            "client": "one sequential HTTP client (http.client); Redis HMGET by redis-py; SQL by "
            "psycopg; same machine",
        }
        self.row(
            "b", f"bulk load: {sum(self.sizes):,} paid donations (COPY, no journal rows)",
            f"{load_seconds:.0f} s + vacuum analyze {vacuum_seconds:.0f} s + rebuild "
            f"{rebuild_seconds:.1f} s",
        )  # fmt: skip
        for entry in table:
            c, r, q = entry["counter"], entry["redis_hmget"], entry["sql_sum"]
            self.row(
                "b", f"{entry['donations']:>9,} donations: counter (HTTP) p50/p95/p99",
                f"{c['p50_ms']:.2f} / {c['p95_ms']:.2f} / {c['p99_ms']:.2f} ms (n={c['samples']})",
            )  # fmt: skip
            self.row(
                "b", f"{entry['donations']:>9,} donations: Redis HMGET alone p50/p95/p99",
                f"{r['p50_ms']:.2f} / {r['p95_ms']:.2f} / {r['p99_ms']:.2f} ms (n={r['samples']})",
            )  # fmt: skip
            self.row(
                "b", f"{entry['donations']:>9,} donations: SQL SUM p50/p95/p99",
                f"{q['p50_ms']:.2f} / {q['p95_ms']:.2f} / {q['p99_ms']:.2f} ms (n={q['samples']})",
            )  # fmt: skip
        label = f"{big['donations']:,}/{small['donations']:,}"
        self.row("b", f"counter p50 ratio {label}", f"{ratio:.2f} (p99 {ratio99:.2f})", "<= 1.20",
                 ratio <= 1.2)  # fmt: skip
        self.row("b", f"Redis HMGET p50 ratio {label}", f"{redis_ratio:.2f}", "(for comparison)")
        self.row("b", f"SQL SUM p50 ratio {label}", f"{sql_ratio:.1f}", "(for comparison)")
        draw_latency_chart(
            [
                {"donations": e["donations"], "counter_p50": e["counter"]["p50_ms"],
                 "counter_p99": e["counter"]["p99_ms"], "redis_p50": e["redis_hmget"]["p50_ms"],
                 "sql_p50": e["sql_sum"]["p50_ms"], "sql_p99": e["sql_sum"]["p99_ms"]}
                for e in table
            ],
            OUT / ("latency.png" if not (self.quick or self.args.only) else "latency-partial.png"),
            f"{self.results.get('server', '')}, {os.cpu_count()} cores, "
            f"{datetime.now(UTC):%Y-%m-%d}; one sequential client, interleaved rounds\n"
            "HTTP: the whole request through gunicorn and the app (served from the process's copy "
            "of the counter, which Redis's client tracking keeps current)\n"
            "Redis alone: HMGET of the counter's hash through redis-py\n"
            "SQL SUM: the query alone through psycopg (no HTTP): "
            "sum(amount_fen - refunded_fen), count(*) … WHERE need_id = %s AND paid_at IS NOT NULL",
        )  # fmt: skip
        log(
            "  chart: "
            + str(
                OUT
                / ("latency.png" if not (self.quick or self.args.only) else "latency-partial.png")
            )
        )

    # -- (c) notifications per second ---------------------------------------------------
    def notify_requests(self, orders: list[tuple[str, int]], first_tag: int = 0):
        port = self.server.port
        if self.args.pay_version == "v3":
            env = self.pay_v3_env()
            return [(first_tag + i, v3_request(env, port, otn, amount))
                    for i, (otn, amount) in enumerate(orders)]  # fmt: skip
        return [
            (
                first_tag + i,
                loadgen.post_request(
                    HOST,
                    port,
                    NOTIFY_PATH,
                    notification_xml(otn, amount, transaction_id_for(otn)),
                    "text/xml",
                ),
            )
            for i, (otn, amount) in enumerate(orders)
        ]

    def send(self, items, connections: int, seconds: float | None, label: str) -> dict:
        before = cpu.snapshot(self.server.proc.pid)
        rec, t0 = loadgen.run_items(
            HOST, self.server.port, items, connections, self.args.gen_procs, seconds=seconds,
            expect=SUCCESS if self.args.pay_version == "v2" else None, label=label,
        )  # fmt: skip
        after = cpu.snapshot(self.server.proc.pid)
        lat = [e - s for s, e, ok in zip(rec.starts, rec.ends, rec.oks, strict=True) if ok]
        span = (max(rec.ends) - t0) if len(rec) else float("nan")
        result = {
            "sent": len(rec),
            "success": sum(rec.oks),
            "failed": len(rec) - sum(rec.oks),
            "connection_errors": rec.errors,
            "unsent": rec.unsent,
            "seconds": round(span, 2),
            "rps": round(sum(rec.oks) / span, 1) if len(rec) else 0.0,
            "connections": connections,
            **summary_ms(lat),
            "cpu_cores": cpu.split(before, after),
        }
        if rec.first_error:
            result["first_error"] = rec.first_error
        result["_ok_tags"] = [t for t, ok in zip(rec.tags, rec.oks, strict=True) if ok]
        log(
            f"    {result['rps']:8.1f}/s  p50 {result['p50_ms']:.1f} ms  p99 "
            f"{result['p99_ms']:.1f} ms  failed {result['failed']}  "
            f"({cpu.describe(result['cpu_cores'])})"
        )
        return result

    def bench_c(self) -> None:
        log("\n(c) payment notifications per second: first deliveries, then duplicates")
        seconds = 5 if self.quick else 10
        conns = self.args.notify_connections
        targets = [(self.needs[f"c{i}"], self.fund_id) for i in range(1, C_NEEDS + 1)]
        warm, main = (200, 4000) if self.quick else (400, 12000)
        t = time.perf_counter()
        orders = create_pending(self.db_url, "BC", targets, warm + main, 1)
        items = self.notify_requests(orders)
        log(f"  {warm + main:,} pending orders over {C_NEEDS} needs created and their "
            f"notifications signed in {time.perf_counter() - t:.1f} s")  # fmt: skip
        self.send(items[:warm], conns, None, "warm-up (first deliveries)")
        first = self.send(items[warm:], conns, seconds, f"first deliveries, {seconds} s")
        paid = {tag for tag in first.pop("_ok_tags")}
        paid_items = [item for item in items[warm:] if item[0] in paid]
        dup_items = []
        while len(dup_items) < 30_000 and paid_items:
            dup_items.extend(paid_items)
        dups = self.send(dup_items, conns, seconds, f"duplicates, {seconds} s")
        dups.pop("_ok_tags")
        outcomes = dict(
            self.pg.execute(
                "SELECT outcome, count(*) FROM payment_notifications"
                " WHERE out_trade_no LIKE 'BC%' GROUP BY outcome"
            ).fetchall()
        )
        self.results["c"] = {
            "needs": C_NEEDS,
            "first_deliveries": first,
            "duplicates": dups,
            "outcomes": outcomes,
            "target_rps": 500,
            "pay_version": self.args.pay_version,
        }
        for name, f in (("first deliveries", first), ("duplicates", dups)):
            self.row(
                "c", f"notifications/s, {name} ({conns} senders, {C_NEEDS} needs)",
                f"{f['rps']:,.0f}/s  p50 {f['p50_ms']:.1f} ms  p99 {f['p99_ms']:.1f} ms"
                + (f"  failed {f['failed']}" if f["failed"] else ""),
                ">= 500/s", f["rps"] >= 500,
            )  # fmt: skip
            self.row("c", f"  CPU (cores) during {name}", cpu.describe(f["cpu_cores"]))
        self.bench_c_sequential()

    def bench_c_sequential(self) -> None:
        """One sender: a notification's own latency on a small need and on the biggest need."""
        n = 100 if self.quick else 200
        cases = [("seq", "a need with few donations")]
        if "b" in self.only:
            cases.append((f"b{self.sizes[-1]}", f"the need with {self.sizes[-1]:,} donations"))
        self.results["c"]["sequential"] = {}
        for key, label in cases:
            need = self.needs[key]
            orders = create_pending(self.db_url, f"BS{key[:5]}", [(need, self.fund_id)], n, 2)
            items = self.notify_requests(orders)
            f = self.send(items, 1, None, f"one sender, {label}")
            f.pop("_ok_tags")
            self.results["c"]["sequential"][key] = f
            self.row(
                "c", f"one sender, first deliveries to {label}",
                f"{f['rps']:,.0f}/s  p50 {f['p50_ms']:.1f} ms  p99 {f['p99_ms']:.1f} ms",
            )  # fmt: skip

    # -- (d) exactness under concurrency -------------------------------------------------
    def bench_d(self) -> None:
        log("\n(d) 10,000 notifications, 30% duplicates, 64 concurrent senders: exact sums")
        total = 2000 if self.quick else 10_000
        firsts = total * 7 // 10
        dups = total - firsts
        rng = random.Random(3)
        needs = [(self.needs[f"d{i}"], self.fund_id) for i in range(1, D_NEEDS + 1)]
        # 9 of 10 orders go to a need, 1 of 10 to the fund's general pool
        targets = [needs[i % len(needs)] for i in range(9)] + [(None, self.fund_id)]
        orders = create_pending(self.db_url, "BD", targets, firsts, 3)
        items = self.notify_requests(orders)
        keyed = [(float(i), item) for i, item in enumerate(items)]
        for index in rng.sample(range(firsts), dups):
            # the same bytes again, soon after the first: often while it is still in flight
            keyed.append((index + rng.randint(1, 128) + 0.5, (firsts + index, items[index][1])))
        keyed.sort(key=lambda pair: pair[0])
        stream = [item for _, item in keyed]
        result = self.send(stream, 64, None, f"{total:,} notifications, 64 senders")
        result.pop("_ok_tags")
        checks = self.check_exact(len(orders))
        self.results["d"] = {"notifications": total, "duplicates": dups, **result, **checks}
        all_success = result["success"] == total and result["connection_errors"] == 0
        self.row(
            "d", f"{total:,} notifications ({dups:,} duplicates), 64 senders: answered SUCCESS",
            f"{result['success']:,} of {total:,} ({result['rps']:,.0f}/s, p99 "
            f"{result['p99_ms']:.0f} ms)",
            "all", all_success,
        )  # fmt: skip
        self.row(
            "d", "orders paid / notifications recorded applied, duplicate",
            f"{checks['orders_paid']:,} / {checks['outcomes'].get('applied', 0):,}, "
            f"{checks['outcomes'].get('duplicate', 0):,}",
            f"{firsts:,} / {firsts:,}, {dups:,}",
            checks["orders_paid"] == firsts
            and checks["outcomes"].get("applied") == firsts
            and checks["outcomes"].get("duplicate") == dups,
        )  # fmt: skip
        self.row(
            "d", "counters equal PostgreSQL's sums before the worker ran",
            f"{checks['counters_checked'] - len(checks['counter_mismatches_before_worker'])} of "
            f"{checks['counters_checked']}",
        )  # fmt: skip
        self.row(
            "d", "outbox rows left for the worker to mark (tasks.apply_outbox())",
            f"{checks['outbox_unapplied_before_repair']:,} (marked "
            f"{checks['outbox_applied_by_repair']:,}; a repeat changes no counter)",
        )  # fmt: skip
        self.row(
            "d", "counters (every need and fund) equal PostgreSQL's sums",
            f"{checks['counters_checked'] - len(checks['counter_mismatches'])} of "
            f"{checks['counters_checked']} equal",
            "all, exactly", not checks["counter_mismatches"],
        )  # fmt: skip
        self.row(
            "d", "paid donations without exactly one journal entry",
            str(checks["paid_without_one_entry"]), "0", checks["paid_without_one_entry"] == 0,
        )  # fmt: skip
        self.row(
            "d", "unbalanced journal entries / entries ≠ donation amount",
            f"{checks['unbalanced_entries']} / {checks['entries_not_matching_amount']}", "0 / 0",
            checks["unbalanced_entries"] == 0 and checks["entries_not_matching_amount"] == 0,
        )  # fmt: skip

    def check_exact(self, firsts: int) -> dict:
        from backend.jobs.tasks import apply_outbox

        pg = self.pg
        unapplied = pg.execute(
            "SELECT count(*) FROM outbox_events WHERE applied_at IS NULL"
        ).fetchone()[0]

        def compare() -> tuple[int, list[dict]]:
            """Every need and fund counter against PostgreSQL's sums."""
            mismatches = []
            checked = 0
            sums = {}
            for column, key in (("need_id", "n"), ("fund_id", "f")):
                ids = [r[0] for r in pg.execute(
                    f"SELECT id FROM {'needs' if key == 'n' else 'funds'} ORDER BY id"  # noqa: S608
                )]  # fmt: skip
                rows = pg.execute(
                    f"SELECT {column}, coalesce(sum(amount_fen - refunded_fen), 0), count(*)"  # noqa: S608
                    f" FROM donations WHERE paid_at IS NOT NULL AND {column} IS NOT NULL"
                    f" GROUP BY {column}"
                ).fetchall()
                sums = {r[0]: (int(r[1]), int(r[2])) for r in rows}
                for target in ids:
                    checked += 1
                    raw = self.redis.hmget(
                        f"lsp:{{{key}:{target}}}", "raised_fen", "donation_count"
                    )
                    got = None if raw[0] is None else (int(raw[0]), int(raw[1]))
                    want = sums.get(target, (0, 0))
                    if got != want and not (got is None and want == (0, 0)):
                        mismatches.append({"counter": f"lsp:{{{key}:{target}}}", "redis": got,
                                           "postgresql": want})  # fmt: skip
            return checked, mismatches

        # The requests count each payment in Redis themselves; the worker only marks rows.
        _, mismatches_before = compare()
        repaired = 0
        if unapplied:
            with self.app.app_context():
                while True:
                    n = apply_outbox()
                    repaired += n
                    if not n:
                        break
        checked, mismatches = compare()
        paid = pg.execute(
            "SELECT count(*) FROM donations WHERE out_trade_no LIKE 'BD%' AND status = 'paid'"
        ).fetchone()[0]
        outcomes = dict(
            pg.execute(
                "SELECT outcome, count(*) FROM payment_notifications"
                " WHERE out_trade_no LIKE 'BD%' GROUP BY outcome"
            ).fetchall()
        )
        without_one = pg.execute(
            "SELECT count(*) FROM donations d WHERE d.paid_at IS NOT NULL"
            " AND d.out_trade_no NOT LIKE 'BK%'"
            " AND (SELECT count(*) FROM journal_entries e"
            "      WHERE e.donation_id = d.id AND e.kind = 'donation') <> 1"
        ).fetchone()[0]
        unbalanced = pg.execute(
            "SELECT count(*) FROM (SELECT e.id FROM journal_entries e"
            " LEFT JOIN journal_lines l ON l.entry_id = e.id GROUP BY e.id"
            " HAVING coalesce(sum(l.amount_fen), 0) <> 0 OR count(l.id) < 2) x"
        ).fetchone()[0]
        not_matching = pg.execute(
            "SELECT count(*) FROM journal_entries e JOIN donations d ON d.id = e.donation_id"
            " WHERE e.kind = 'donation' AND d.amount_fen <> (SELECT sum(amount_fen)"
            " FROM journal_lines l WHERE l.entry_id = e.id AND l.amount_fen > 0)"
        ).fetchone()[0]
        entries = pg.execute("SELECT count(*) FROM journal_entries").fetchone()[0]
        return {
            "orders": firsts,
            "orders_paid": paid,
            "outcomes": outcomes,
            "outbox_unapplied_before_repair": unapplied,
            "counter_mismatches_before_worker": mismatches_before,
            "outbox_applied_by_repair": repaired,
            "counters_checked": checked,
            "counter_mismatches": mismatches,
            "journal_entries": entries,
            "paid_without_one_entry": without_one,
            "unbalanced_entries": unbalanced,
            "entries_not_matching_amount": not_matching,
        }

    # -- (e) a need's ledger page and a donor's page, beside a progress read -------------
    def bench_e(self) -> None:
        from backend.accounts.models import User
        from backend.accounts.tokens import issue_token
        from backend.common.time import utcnow
        from backend.extensions import db
        from backend.jobs import tasks
        from backend.spending import services as spending
        from backend.spending.allocation import expense_allocations
        from backend.spending.models import Expense, ExpenseStatus, PayeeType

        count = E_DONATIONS_QUICK if self.quick else E_DONATIONS
        spans = [n for n in E_EXPENSE_SPANS if n * 10 <= count]
        need = self.needs["e"]
        log(f"\n(e) a need's ledger page and a donor's page with allocations, {count:,} paid "
            "donations, beside a progress read")  # fmt: skip
        user_id = self.pg.execute(
            "INSERT INTO users (openid, nickname, created_at, updated_at)"
            " VALUES ('bench-donor', '基准捐赠人', now(), now()) RETURNING id"
        ).fetchone()[0]
        t = time.perf_counter()
        # the donor's donations: E_DONOR_GIFTS of them among the donations the expenses spend
        below = sum(spans) - spans[0]
        total = bulk_load_ledger(self.db_url, need, self.fund_id, count, user_id,
                                 below // E_DONOR_GIFTS, below)  # fmt: skip
        # newer donations to another need: the need's own are not the table's newest rows
        later = count // E_LATER_SHARE
        bulk_load_paid(self.db_url, self.needs["e-later"], self.fund_id, later)
        load_seconds = time.perf_counter() - t
        log(f"  loaded {count:,} paid donations with their journal entries, then {later:,} to "
            f"another need, in {load_seconds:.1f} s")  # fmt: skip
        # The bulk-loaded entries are sealed as the worker would seal them: the balances read
        # the totals the sealer keeps plus the lines of entries still pending (and the load,
        # triggers off, noted none of them as pending).
        t = time.perf_counter()
        with self.app.app_context():
            sealed = 0
            while made := tasks.seal_journal():
                sealed += made
            db.session.remove()
        seal_seconds = time.perf_counter() - t
        log(f"  sealed {sealed:,} journal entries in {seal_seconds:.1f} s (the worker's job)")
        t = time.perf_counter()
        for table in ("donations", "journal_entries", "journal_lines", "journal_seals"):
            self.pg.execute(f"VACUUM (ANALYZE) {table}")
        vacuum_seconds = time.perf_counter() - t

        # Expenses disbursed through the service (lock, balance, journal entry, allocation),
        # each spanning about `span` donations, oldest first; allocate() timed on its own.
        timings: list[float] = []
        allocate = spending.allocate

        def timed_allocate(expense: Expense) -> object:
            started = time.perf_counter()
            made = allocate(expense)
            timings.append(time.perf_counter() - started)
            return made

        disbursed = []
        spending.allocate = timed_allocate
        try:
            with self.app.app_context():
                actor = db.session.get(User, user_id)
                start = 0
                for span in spans:
                    amount = sum(amount_of(i) for i in range(start, start + span)) - 50
                    expense = Expense(
                        fund_id=self.fund_id, need_id=need, amount_fen=amount,
                        payee_name="基准供应商", payee_type=PayeeType.ORGANIZATION,
                        purpose=f"基准支出（约 {span:,} 笔捐赠）", status=ExpenseStatus.APPROVED,
                        threshold_fen=10**12, needs_committee=False, required_approvals=1,
                        decided_at=utcnow(),
                    )  # fmt: skip
                    db.session.add(expense)
                    db.session.commit()
                    # loaded again, as a request's actor is (after a commit an expired actor
                    # would be reloaded in the middle of the disbursement, autoflushing it
                    # half-written)
                    db.session.refresh(actor)
                    started = time.perf_counter()
                    spending.disburse_expense(actor, expense, f"BENCH-{span}", [])
                    db.session.commit()
                    seconds = time.perf_counter() - started
                    totals = expense_allocations(expense.id)
                    disbursed.append({
                        "span": span, "amount_fen": amount, "donations": totals.donation_count,
                        "allocated_fen": totals.amount_fen, "disburse_ms": round(seconds * 1000, 1),
                        "allocate_ms": round(timings[-1] * 1000, 1),
                    })  # fmt: skip
                    log(f"  disbursed {amount:,} fen over {totals.donation_count:,} donations: "
                        f"{seconds * 1000:.0f} ms (allocate {timings[-1] * 1000:.0f} ms)")  # fmt: skip
                    start += span
                token = issue_token(user_id).token
                db.session.remove()
        finally:
            spending.allocate = allocate
        spent = sum(d["amount_fen"] for d in disbursed)
        allocated_sum = self.pg.execute(
            "SELECT coalesce(sum(allocated_fen), 0) FROM donations WHERE need_id = %s", (need,)
        ).fetchone()[0]
        exact = all(d["allocated_fen"] == d["amount_fen"] for d in disbursed) and (
            allocated_sum == spent
        )
        for table in ("donations", "allocations"):
            self.pg.execute(f"VACUUM (ANALYZE) {table}")
        rebuild_counters(self.app, [need], [self.fund_id])

        headers = {"Authorization": f"Bearer {token}"}
        paths = {
            "progress": (f"/api/v1/needs/{need}/progress", None),
            "ledger": (f"/api/v1/needs/{need}/ledger", None),
            "my-donations": ("/api/v1/me/donations", headers),
        }
        port = self.server.port
        answers = {name: http_get(port, path, headers=h) for name, (path, h) in paths.items()}
        for name, (status, body) in answers.items():
            if status != 200:
                raise SystemExit(f"(e) GET {paths[name][0]}: {status} {body[:300]!r}")
        ledger = json.loads(answers["ledger"][1])
        mine = json.loads(answers["my-donations"][1])
        shown_right = (
            len(ledger["income"]["items"]) == 20
            and ledger["balance_fen"] == total - spent
            and len(mine["items"]) == 20
            and all(item["allocations"] for item in mine["items"])
        )
        # one sequential client first (latency), then the load generator (throughput)
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        single: dict[str, list[float]] = {name: [] for name in paths}
        n = 50 if self.quick else 200
        for path, h in paths.values():  # warm-up
            for _ in range(20):
                http_get(port, path, conn, h)
        for _ in range(5):
            for name, (path, h) in paths.items():
                for _ in range(n // 5):
                    s = time.perf_counter()
                    http_get(port, path, conn, h)
                    single[name].append(time.perf_counter() - s)
        conn.close()
        rounds = self.args.rounds
        seconds = (4 if self.quick else 10) / rounds
        warm = 1 if self.quick else 3
        for name, (path, h) in paths.items():
            self.load_for(path, warm, f"warm-up {name}", h)
        runs: dict[str, list[dict]] = {name: [] for name in paths}
        for r in range(rounds):
            order = list(paths) if r % 2 == 0 else list(reversed(paths))
            for name in order:
                path, h = paths[name]
                runs[name].append(self.load_for(path, seconds, f"{name} round {r + 1}/{rounds}", h))
        figures = {}
        for name, parts in runs.items():
            span = sum(p["seconds"] for p in parts)
            figures[name] = {
                "rps": round(sum(p["rps"] * p["seconds"] for p in parts) / span, 1),
                "p50_ms": round(sum(p["p50_ms"] for p in parts) / len(parts), 3),
                "p99_ms": round(max(p["p99_ms"] for p in parts), 3),
                "errors": sum(p["errors"] for p in parts),
                "cpu_cores": {
                    k: round(sum(p["cpu_cores"].get(k, 0) for p in parts) / len(parts), 2)
                    for k in parts[0]["cpu_cores"]
                },
                "single_client": summary_ms(single[name]),
                "rounds": parts,
            }
        ratios = {
            name: figures[name]["rps"] / figures["progress"]["rps"]
            for name in ("ledger", "my-donations")
        }
        self.results["e"] = {
            "donations": count, "later_donations_elsewhere": later,
            "load_seconds": round(load_seconds, 1), "sealed": sealed,
            "seal_seconds": round(seal_seconds, 1),
            "vacuum_analyze_seconds": round(vacuum_seconds, 1), "disbursed": disbursed,
            "allocations_exact": exact, "pages_right": shown_right,
            "generator": self.generator(), "connections": self.args.read_connections,
            "ratios": {k: round(v, 3) for k, v in ratios.items()},
            "target_ratio": E_TARGET_RATIO, **figures,
        }  # fmt: skip
        self.row(
            "e", f"bulk load: {count:,} paid donations + journal entries (generate_series), "
            f"then {later:,} newer ones to another need (COPY)",
            f"{load_seconds:.0f} s + sealing {sealed:,} entries {seal_seconds:.0f} s"
            f" + vacuum analyze {vacuum_seconds:.0f} s",
        )  # fmt: skip
        for d in disbursed:
            self.row(
                "e", f"  disburse ~{d['span']:,} donations' worth ({count:,} in the need)",
                f"{d['donations']:,} allocations: {d['disburse_ms']:,.0f} ms "
                f"(allocate {d['allocate_ms']:,.0f} ms)",
            )  # fmt: skip
        self.row("e", "allocations add up to each expense and to allocated_fen",
                 "yes" if exact else "NO", "exact", exact)  # fmt: skip
        self.row("e", "ledger page (20 of income) and my-donations page (20, each allocated)",
                 "right" if shown_right else "WRONG", "right", shown_right)  # fmt: skip
        conf = f"{self.generator()}, {self.args.read_connections} conns"
        labels = {"progress": "/api/v1/needs/<id>/progress", "ledger": "/api/v1/needs/<id>/ledger",
                  "my-donations": "/api/v1/me/donations"}  # fmt: skip
        for name, f in figures.items():
            c = f["single_client"]
            self.row(
                "e", f"GET {labels[name]} ({conf})",
                f"{f['rps']:,.0f}/s  p50 {f['p50_ms']:.2f} ms  p99 {f['p99_ms']:.2f} ms"
                + (f"  errors {f['errors']}" if f["errors"] else "")
                + f"; one client p50 {c['p50_ms']:.2f} ms",
            )  # fmt: skip
            self.row("e", f"  CPU (cores) during {name}", cpu.describe(f["cpu_cores"]))
        for name, ratio in ratios.items():
            self.row("e", f"{name} reads / progress reads", f"{ratio:.2f}",
                     f">= {E_TARGET_RATIO:.2f}", ratio >= E_TARGET_RATIO)  # fmt: skip

    # -- (f) sealing throughput ------------------------------------------------------------
    def bench_f(self) -> None:
        from backend.extensions import db
        from backend.jobs import tasks
        from backend.ledger import sealing

        count = F_ENTRIES_QUICK if self.quick else F_ENTRIES
        log(f"\n(f) sealing: {count:,} journal entries sealed by the worker's job")
        with self.app.app_context():
            before = tasks.seal_journal()  # what earlier benchmarks wrote, untimed
            db.session.remove()
        t = time.perf_counter()
        entries = bulk_load_entries(self.db_url, count)
        load_seconds = time.perf_counter() - t
        for table in ("journal_entries", "journal_lines", "journal_seals"):
            self.pg.execute(f"VACUUM (ANALYZE) {table}")
        log(
            f"  {before:,} entries sealed first (untimed); {count:,} loaded in {load_seconds:.1f} s"
        )
        with self.app.app_context():
            t = time.perf_counter()
            sealed = tasks.seal_journal()
            seal_seconds = time.perf_counter() - t
            t = time.perf_counter()
            checked = sealing.verify()
            verify_seconds = time.perf_counter() - t
            db.session.remove()
        rate = sealed / seal_seconds if seal_seconds else float("inf")
        verify_rate = checked.entry_count / verify_seconds if verify_seconds else float("inf")
        unsealed = self.pg.execute(
            "SELECT count(*) FROM journal_entries e"
            " WHERE NOT EXISTS (SELECT FROM journal_seals s WHERE s.entry_id = e.id)"
        ).fetchone()[0]
        self.results["f"] = {
            "entries_loaded": count, "entries_in_journal": entries, "sealed_before": before,
            "sealed": sealed, "seal_seconds": round(seal_seconds, 2), "rate": round(rate, 1),
            "target_rate": F_TARGET_RATE, "batch": sealing.SEAL_BATCH,
            "unsealed_after": unsealed, "verify_ok": checked.ok,
            "verified": checked.entry_count, "verify_seconds": round(verify_seconds, 2),
            "verify_rate": round(verify_rate, 1), "load_seconds": round(load_seconds, 1),
        }  # fmt: skip
        self.row("f", f"bulk load: {count:,} journal entries of 2 lines (generate_series)",
                 f"{load_seconds:.1f} s")  # fmt: skip
        self.row(
            "f", f"seal_journal(): entries sealed per second (batches of {sealing.SEAL_BATCH:,})",
            f"{rate:,.0f}/s ({sealed:,} in {seal_seconds:.1f} s; {unsealed} left unsealed)",
            f">= {F_TARGET_RATE:,}/s", rate >= F_TARGET_RATE and sealed == count and unsealed == 0,
        )  # fmt: skip
        self.row(
            "f", "verify(): the whole chain recomputed",
            f"{'sound' if checked.ok else 'PROBLEM'}: {checked.entry_count:,} seals in "
            f"{verify_seconds:.1f} s ({verify_rate:,.0f}/s)",
            "sound", checked.ok,
        )  # fmt: skip

    # -- report ---------------------------------------------------------------------------
    # -- (g) public reads at the scale of a shared link ---------------------------------
    def public_paths(self) -> dict[str, str]:
        """The public reads of one need, its fund, a space, the stats and the web pages."""
        from backend.extensions import db
        from backend.funds.models import Fund
        from backend.spaces.models import CharitySpace

        need, fund_id = self.needs["read"], self.fund_id
        with self.app.app_context():
            fund = db.session.get(Fund, fund_id)
            region = fund.region
            if db.session.query(CharitySpace).filter_by(code="bench-space").first() is None:
                db.session.add(CharitySpace(code="bench-space", name="基准慈善空间",
                                            region_id=region.id, fund_id=fund_id,
                                            address="基准路 1 号"))  # fmt: skip
                db.session.commit()
            district = int(region.path.strip("/").split("/")[1])
        bulk_load_paid(self.db_url, need, fund_id, 60)
        rebuild_counters(self.app, [need], [fund_id])
        return {
            "need detail": f"/api/v1/needs/{need}",
            "need list": f"/api/v1/needs?fund_id={fund_id}",
            "ledger page": f"/api/v1/needs/{need}/ledger",
            "fund": f"/api/v1/funds/{fund_id}",
            "stats (city)": "/api/v1/stats",
            "stats (district)": f"/api/v1/stats?region_id={district}",
            "regions": "/api/v1/regions",
            "space": "/api/v1/spaces/bench-space",
            "web: need": f"/p/needs/{need}",
            "web: fund": f"/p/funds/{fund_id}",
            "web: space": "/p/spaces/bench-space",
            "web: region": f"/p/regions/{district}",
        }

    def bench_g(self) -> None:
        log("\n(g) public reads (copies kept current by Redis) vs /healthz, same generator")
        paths = self.public_paths()
        cold = {}
        for name, path in paths.items():
            t = time.perf_counter()
            status, body = http_get(self.server.port, path)
            cold[name] = (time.perf_counter() - t) * 1000
            if status != 200:
                raise SystemExit(f"GET {path}: {status} {body[:200]!r}")
        seconds = 3 if self.quick else 6
        self.load_for("/healthz", 2, "warm-up healthz")
        figures: dict[str, dict] = {}
        bare: list[float] = []
        for name, path in paths.items():
            self.load_for(path, 1, f"warm-up {name}")
            bare.append(self.load_for("/healthz", seconds, "healthz")["rps"])
            figures[name] = self.load_for(path, seconds, name)
        healthz = sum(bare) / len(bare)
        self.results["g"] = {"healthz_rps": round(healthz, 1), "reads": {}}
        self.row("g", f"GET /healthz (mean of {len(bare)} runs between the reads)",
                 f"{healthz:,.0f}/s")  # fmt: skip
        for name, path in paths.items():
            f = figures[name]
            ratio = f["rps"] / healthz
            self.results["g"]["reads"][name] = {
                "path": path, "rps": round(f["rps"], 1), "p50_ms": f["p50_ms"],
                "p99_ms": f["p99_ms"], "first_read_ms": round(cold[name], 2),
                "ratio": round(ratio, 3),
            }  # fmt: skip
            self.row("g", f"{name}: {f['rps']:,.0f}/s, p99 {f['p99_ms']:.2f} ms "
                     f"(made afresh: {cold[name]:.1f} ms)", f"{ratio:.2f} of bare",
                     ">= 0.50", ratio >= 0.5)  # fmt: skip

        self.public_reads_under_payments(paths)

    def public_reads_under_payments(self, paths: dict[str, str], rate: float = 20.0) -> None:
        """Some of the same reads while payments arrive at `rate` a second (each one raises
        MONEY, so every copy is made again once per payment and process): the price of
        invalidating everything at every payment, beside `/healthz` under the same payments."""
        import threading

        seconds = 3 if self.quick else 6
        names = ["need detail", "stats (city)", "web: need"]
        need = self.needs["read"]
        orders = create_pending(self.db_url, "BG", [(need, self.fund_id)], int(rate * 120), 7)
        stop = threading.Event()
        sent: list[int] = []

        def pay() -> None:
            conn = http.client.HTTPConnection(HOST, self.server.port, timeout=30)
            started = time.perf_counter()
            for i, (otn, amount) in enumerate(orders):
                if stop.is_set():
                    break
                conn.request("POST", NOTIFY_PATH, notification_xml(otn, amount,
                             transaction_id_for(otn)), {"Content-Type": "text/xml"})  # fmt: skip
                response = conn.getresponse()
                response.read()
                sent.append(response.status)
                time.sleep(max(0.0, started + (i + 1) / rate - time.perf_counter()))
            conn.close()

        payer = threading.Thread(target=pay, daemon=True)
        payer.start()
        try:
            bare = self.load_for("/healthz", seconds, f"healthz, {rate:g} payments/s")["rps"]
            for name in names:
                f = self.load_for(paths[name], seconds, f"{name}, {rate:g} payments/s")
                ratio = f["rps"] / bare
                self.results["g"].setdefault("under_payments", {})[name] = {
                    "payments_per_second": rate, "rps": round(f["rps"], 1),
                    "healthz_rps": round(bare, 1), "ratio": round(ratio, 3),
                }  # fmt: skip
                self.row("g", f"{name} while {rate:g} payments/s arrive: {f['rps']:,.0f}/s, "
                         f"p99 {f['p99_ms']:.2f} ms", f"{ratio:.2f} of bare ({bare:,.0f}/s)")  # fmt: skip
        finally:
            stop.set()
            payer.join()
        if any(status != 200 for status in sent):
            raise SystemExit(f"payments under load: answers {sorted(set(sent))}")

    def table(self) -> str:
        head = ("", "measure", "value", "target", "result")
        widths = [max(len(str(r[i])) for r in [head, *self.rows]) for i in range(5)]
        lines = [
            "| " + " | ".join(str(c).ljust(w) for c, w in zip(head, widths, strict=True)) + " |",
            "|" + "|".join("-" * (w + 2) for w in widths) + "|",
        ]
        for r in self.rows:
            lines.append(
                "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
            )
        return "\n".join(lines)

    def report(self, elapsed: float) -> None:
        self.results["elapsed_seconds"] = round(elapsed, 1)
        verdicts = [r[4] for r in self.rows if r[4]]
        self.results["verdicts"] = {r[1]: r[4] for r in self.rows if r[4]}
        table = self.table()
        header = (
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {self.results['commit']}, "
            f"{os.cpu_count()} cores (other load before start "
            f"{self.results['machine'].get('busy_before_start_cores', 0):.2f} cores), "
            f"{self.results.get('server', '')}, "
            f"{'quick' if self.quick else 'full'} run of {elapsed / 60:.1f} min "
            f"(`{' '.join(['python', '-m', 'bench.run', *sys.argv[1:]])}`)"
        )
        log("\n" + header)
        log(table)
        log(f"{verdicts.count('PASS')} passed, {verdicts.count('FAIL')} failed")
        # A partial run does not overwrite the full run's files.
        name = "results"
        if self.quick:
            name += "-quick"
        if self.args.only:
            name += "-" + self.args.only.replace(",", "")
        (OUT / f"{name}.json").write_text(json.dumps(self.results, indent=2, ensure_ascii=False))
        (OUT / f"{name}.md").write_text(f"{header}\n\n{table}\n")
        log(f"written: {OUT / f'{name}.json'}, {OUT / f'{name}.md'}")
        if self.args.record and not self.quick and not self.args.only:
            text = README.read_text()
            start, end = "<!-- results:start -->", "<!-- results:end -->"
            if start in text and end in text:
                before, rest = text.split(start, 1)
                after = rest.split(end, 1)[1]
                README.write_text(f"{before}{start}\n{header}\n\n{table}\n{end}{after}")
                log(f"recorded in {README}")

    def run(self) -> int:
        OUT.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        try:
            self.set_up()
            self.start_server()
            for name in BENCHMARKS:
                if name in self.only:
                    t = time.perf_counter()
                    getattr(self, f"bench_{name}")()
                    self.results.setdefault("phase_seconds", {})[name] = round(
                        time.perf_counter() - t, 1
                    )
        finally:
            self.tear_down()
        self.report(time.perf_counter() - started)
        return 1 if any(r[4] == "FAIL" for r in self.rows) else 0


def v3_request(env: dict[str, str], port: int, out_trade_no: str, amount: int) -> bytes:
    """A v3 payment notification as WeChat sends it (signed, resource encrypted), as bytes."""
    from tests.v3_support import NOTIFY, notification, transaction

    body, headers = notification(
        env, transaction(out_trade_no, amount, transaction_id=transaction_id_for(out_trade_no))
    )
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (f"POST {NOTIFY} HTTP/1.1\r\nHost: {HOST}:{port}\r\n{head}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body  # fmt: skip


def parse_wrk(out: str) -> dict:
    """Requests/sec and latency percentiles from `wrk --latency`."""

    def ms(text: str) -> float:
        value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]

    found = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    found["requests"] = int(re.search(r"(\d+) requests in", out).group(1))
    for q in ("50", "99"):
        found[f"p{q}_ms"] = round(ms(re.search(rf"\s{q}%\s+(\S+)", out).group(1)), 3)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                              out)  # fmt: skip
    found["errors"] = int(errors.group(1)) if errors else 0
    if socket_errors:
        found["socket_errors"] = socket_errors.group(0)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run (under 2 minutes)")
    parser.add_argument("--only", default="", help="comma-separated benchmarks: a,b,c,d,e,f")
    parser.add_argument("--keep", action="store_true", help="keep the database and Redis db")
    parser.add_argument("--workers", type=int, default=0, help="gunicorn workers (2 x cores)")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class (sync)")
    parser.add_argument("--threads", type=int, default=1, help="threads per gthread worker")
    parser.add_argument(
        "--app", default=DEFAULT_APP,
        help="the WSGI app gunicorn serves (to try a variant, e.g. on PYTHONPATH)",
    )  # fmt: skip
    parser.add_argument(
        "--generator", choices=("auto", "python", "wrk"), default="auto",
        help="load generator for (a): wrk if installed (apt-get install wrk), else Python",
    )  # fmt: skip
    parser.add_argument("--gen-procs", type=int, default=1, help="generator processes/threads")
    parser.add_argument("--read-connections", type=int, default=16, help="(a) connections")
    parser.add_argument("--notify-connections", type=int, default=16, help="(c) senders")
    parser.add_argument("--rounds", type=int, default=2, help="(a) interleaved rounds")
    parser.add_argument("--sizes", default="", help="(b) donation counts, e.g. 1000,1000000")
    parser.add_argument(
        "--no-record", dest="record", action="store_false",
        help="do not write the table into bench/README.md (full runs do)",
    )  # fmt: skip
    parser.add_argument(
        "--pay-version", choices=("v2", "v3"), default="v2",
        help="(c) WeChat Pay notifications as v2 (XML, MD5) or v3 (JSON, RSA, AES-GCM)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    return Bench(args).run()


if __name__ == "__main__":
    raise SystemExit(main())
