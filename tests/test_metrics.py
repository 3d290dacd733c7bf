"""Prometheus metrics at /metrics: the text format parses, latency is labelled by the Flask
rule, the business counters move with a real paid donation, the state gauges read
PostgreSQL and Redis, the endpoint is private, and gunicorn's processes add up."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from backend.donations.models import Donation
from backend.extensions import db
from backend.progress.counter import need_key
from tests.conftest import free_port
from tests.payments_support import notification, sandbox_pay, to_xml, wait_deliveries
from tests.permissions import login
from tests.support import assert_error_shape
from tests.test_donations import auth, donate, open_need

ROOT = Path(__file__).resolve().parent.parent
NOTIFY = "/api/v1/payments/wechat/notify"


def scrape(client, **kwargs) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics: (name, sorted labels) -> value."""
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return samples(response.get_data(as_text=True))


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_the_text_format_parses_and_latency_is_labelled_by_rule(client) -> None:
    assert client.get("/api/v1/needs/987654").status_code == 404
    assert client.get("/api/v1/no/such/route").status_code == 404
    found = scrape(client)
    rule = "/api/v1/needs/<int:need_id>"
    count = value(found, "linshan_http_request_duration_seconds_count",
                  method="GET", endpoint=rule, status="4xx")  # fmt: skip
    assert count >= 1
    assert value(found, "linshan_http_request_duration_seconds_bucket",
                 method="GET", endpoint=rule, status="4xx", le="+Inf") == count  # fmt: skip
    endpoints = {dict(labels).get("endpoint") for (_, labels) in found}
    assert "unmatched" in endpoints
    # The raw path never becomes a label: no series per id.
    assert not any(e and ("987654" in e or "/no/such" in e) for e in endpoints)
    assert value(found, "linshan_state_up", source="postgresql") == 1
    assert value(found, "linshan_state_up", source="redis") == 1


@pytest.mark.usefixtures("demo", "live_server")
def test_counters_and_gauges_move_with_a_paid_donation(client, app, wechat_sandbox) -> None:
    from backend.jobs.tasks import apply_outbox, check_counters, seal_journal

    with app.app_context():  # what other tests left: this one's own figures from zero
        apply_outbox()
        seal_journal()
    donor = login(client, "metrics_donor")
    need = open_need(app)
    before = scrape(client)
    order = donate(client, donor["token"], need_id=need.id, amount_fen=1200)
    sandbox_pay(wechat_sandbox.url, order["out_trade_no"])
    assert wait_deliveries(wechat_sandbox.url, order["out_trade_no"])[0]["status"] == "succeeded"
    with app.app_context():
        transaction_id = db.session.scalar(
            sa.select(Donation.transaction_id).where(Donation.id == order["id"])
        )
    copy = to_xml(notification(order["out_trade_no"], 1200, transaction_id=transaction_id))
    assert "SUCCESS" in client.post(NOTIFY, data=copy).get_data(as_text=True)
    forged = to_xml(notification(order["out_trade_no"], 1200), sign="0" * 32)
    assert "FAIL" in client.post(NOTIFY, data=forged).get_data(as_text=True)
    wrong_amount = to_xml(notification(order["out_trade_no"], 1, transaction_id=transaction_id))
    assert "FAIL" in client.post(NOTIFY, data=wrong_amount).get_data(as_text=True)

    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("linshan_orders_created_total") == 1
    assert moved("linshan_donations_paid_total") == 1
    notices = "linshan_notifications_total"
    assert moved(notices, kind="payment", outcome="applied", reason="") == 1
    assert moved(notices, kind="payment", outcome="duplicate", reason="") == 1
    assert moved(notices, kind="payment", outcome="rejected", reason="signature") == 1
    assert moved(notices, kind="payment", outcome="failed", reason="amount") == 1
    post = "/api/v1/donations"
    assert moved("linshan_http_request_duration_seconds_count",
                 method="POST", endpoint=post, status="2xx") == 1  # fmt: skip
    # Committed, not yet sealed nor marked applied: the worker has work waiting.
    assert value(after, "linshan_journal_unsealed_backlog") >= 1
    assert value(after, "linshan_outbox_backlog") >= 1
    assert value(after, "linshan_outbox_oldest_age_seconds") >= 0

    with app.app_context():
        apply_outbox()
        seal_journal()
        assert check_counters() == 0
    done = scrape(client)
    assert value(done, "linshan_journal_unsealed_backlog") == 0
    assert value(done, "linshan_journal_unsealed_oldest_age_seconds") == 0
    assert value(done, "linshan_outbox_backlog") == 0
    assert value(done, "linshan_counter_drift") == 0
    for job in ("apply_outbox", "seal_journal", "check_counters"):
        age = value(done, "linshan_job_last_success_age_seconds", job=job)
        assert 0 <= age < 60, (job, age)

    # A counter that drifted from PostgreSQL: the next check finds (and rebuilds) it.
    app.extensions["redis"].hset(need_key(need.id), "raised_fen", 1)
    with app.app_context():
        assert check_counters() == 1
    assert value(scrape(client), "linshan_counter_drift") == 1


def test_a_rolled_back_credit_is_not_counted(app_ctx) -> None:
    from backend.metrics import DONATIONS_PAID, count_on_commit

    start = DONATIONS_PAID._value.get()
    db.session.execute(sa.text("SELECT 1"))
    count_on_commit(DONATIONS_PAID)
    db.session.rollback()
    db.session.execute(sa.text("SELECT 1"))
    db.session.commit()
    assert DONATIONS_PAID._value.get() == start
    count_on_commit(DONATIONS_PAID)
    db.session.commit()
    assert DONATIONS_PAID._value.get() == start + 1


@pytest.mark.parametrize(
    ("remote", "headers", "status", "error"),
    [
        ("203.0.113.9", {}, 403, "metrics_private"),
        ("8.8.8.8", {}, 403, "metrics_private"),
        # Through a proxy TRUSTED_PROXY_COUNT does not count: the address is the proxy's.
        ("127.0.0.1", {"X-Forwarded-For": "203.0.113.9"}, 403, "metrics_private"),
        ("127.0.0.1", {}, 200, None),
        ("10.2.3.4", {}, 200, None),
        ("172.18.0.5", {}, 200, None),
        ("::1", {}, 200, None),
    ],
)
def test_without_a_token_only_private_addresses_may_scrape(
    client, remote, headers, status, error
) -> None:
    response = client.get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": remote})
    assert response.status_code == status
    if error:
        assert_error_shape(response.get_json(), status, error)
        assert "linshan_" not in response.get_data(as_text=True)


def test_with_a_token_every_scrape_must_carry_it(make_app) -> None:
    token = "metrics-token-" + "k" * 20
    client = make_app({"METRICS_TOKEN": token}).test_client()
    private = {"REMOTE_ADDR": "127.0.0.1"}
    for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"},
                    {"Authorization": token}):  # fmt: skip
        response = client.get("/metrics", headers=headers, environ_base=private)
        assert response.status_code == 401
        assert_error_shape(response.get_json(), 401, "metrics_token_required")
    public = {"REMOTE_ADDR": "203.0.113.9"}
    response = client.get("/metrics", headers=auth(token), environ_base=public)
    assert response.status_code == 200
    assert "linshan_http_request_duration_seconds" in response.get_data(as_text=True)


def test_metrics_are_not_in_the_api_document(client) -> None:
    assert "/metrics" not in client.get("/api/openapi.json").get_json()["paths"]


# --- several processes -----------------------------------------------------------------------


@pytest.fixture
def gunicorn(test_environ: dict[str, str], app, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The app under gunicorn, two sync worker processes sharing PROMETHEUS_MULTIPROC_DIR."""
    port = free_port()
    metrics_dir = tmp_path / "prometheus"
    (metrics_dir).mkdir()
    (metrics_dir / "stale_999999.db").write_bytes(b"left by an earlier run")
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text(
        "from backend.metrics import child_exit, on_starting  # noqa: F401\n"
        "workers = 2\n"
        f"bind = '127.0.0.1:{port}'\n"
    )
    env = {**os.environ, **test_environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    log_path = tmp_path / "gunicorn.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(conf), "backend:create_app()"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            log.close()
            raise AssertionError(log_path.read_text()[-3000:])
        time.sleep(0.2)
    try:
        yield url, metrics_dir
    finally:
        stop(process)
        log.close()


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_under_gunicorn_every_worker_process_is_counted(gunicorn) -> None:
    url, metrics_dir = gunicorn
    assert not (metrics_dir / "stale_999999.db").exists(), "on_starting empties the directory"

    def call(path: str) -> int:  # at once, on new connections: both sync workers answer some
        return requests.get(f"{url}{path}", timeout=20).status_code

    def writers() -> set[str]:
        return {path.name.rsplit("_", 1)[-1] for path in metrics_dir.glob("histogram_*.db")}

    deadline = time.monotonic() + 60
    with ThreadPoolExecutor(8) as pool:
        while len(writers()) < 2:  # until the second worker has booted and answered
            assert time.monotonic() < deadline, sorted(p.name for p in metrics_dir.iterdir())
            list(pool.map(call, ["/healthz"] * 16))
        calls = 40
        assert list(pool.map(call, ["/api/v1/regions"] * calls)) == [200] * calls
    assert len(writers()) == 2
    counts = set()
    for _ in range(6):  # whichever worker answers the scrape, it reports both
        found = samples(requests.get(f"{url}/metrics", timeout=10).text)
        counts.add(value(found, "linshan_http_request_duration_seconds_count",
                         method="GET", endpoint="/api/v1/regions", status="2xx"))  # fmt: skip
        assert value(found, "linshan_state_up", source="postgresql") == 1
    assert counts == {calls}


def test_child_exit_forgets_a_dead_workers_live_gauges(tmp_path: Path) -> None:
    """gunicorn's hook, over the directory: a live gauge of a dead pid is gone, the
    counters of the same pid stay counted."""
    script = (
        "import os, sys\n"
        "from prometheus_client import Gauge\n"
        "from backend.metrics import ORDERS_CREATED\n"
        "Gauge('linshan_test_live', 'x', multiprocess_mode='livesum').set(5)\n"
        "ORDERS_CREATED.inc(int(sys.argv[1]))\n"
        "print(os.getpid())\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    pids = [
        subprocess.run([sys.executable, "-c", script, str(n)], cwd=ROOT, env=env, check=True,
                       capture_output=True, text=True).stdout.strip()
        for n in (3, 4)
    ]  # fmt: skip
    collect = (
        "from types import SimpleNamespace\n"
        "import sys\n"
        "from prometheus_client import CollectorRegistry, generate_latest, multiprocess\n"
        "from backend.metrics import child_exit\n"
        "child_exit(None, SimpleNamespace(pid=int(sys.argv[1])))\n"
        "registry = CollectorRegistry()\n"
        "multiprocess.MultiProcessCollector(registry)\n"
        "sys.stdout.write(generate_latest(registry).decode())\n"
    )
    out = subprocess.run([sys.executable, "-c", collect, pids[0]], cwd=ROOT, env=env,
                         check=True, capture_output=True, text=True).stdout  # fmt: skip
    found = samples(out)
    assert value(found, "linshan_orders_created_total") == 7
    assert value(found, "linshan_test_live") == 5  # only the living process's gauge


# --- the sample Grafana dashboard ----------------------------------------------------------------

DASHBOARD = ROOT / "docker" / "grafana" / "linshan-dashboard.json"
#: PromQL words that are not metric names (aggregations, modifiers, functions are followed
#: by "(" and dropped anyway)
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
                "or", "unless", "offset", "le", "inf", "nan"}  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects."""
    import re

    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)  # groupings
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        word = match.group()
        after = expr[match.end() :].lstrip()
        if after.startswith("(") or word.lower() in PROMQL_WORDS or word.startswith("$"):
            continue
        if expr[max(match.start() - 1, 0)] == "$":
            continue
        names.add(word)
    return names


def exported_names(text: str) -> set[str]:
    """Every series name /metrics can export, whether or not it has samples yet."""
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names |= {sample.name for sample in family.samples}
        if family.type == "counter":
            names.add(family.name + "_total")
        elif family.type == "histogram":
            names |= {family.name + suffix for suffix in ("_bucket", "_count", "_sum")}
    return names


def test_the_dashboard_parses_and_names_only_exported_metrics(client, app) -> None:
    from backend.jobs.tasks import check_counters

    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 30
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    # label_values(metric, label): the metric is an expression, the label is not
    exprs += [v["definition"].removeprefix("label_values(").rsplit(",", 1)[0]
              for v in dashboard["templating"]["list"] if v.get("definition")]  # fmt: skip
    assert len(exprs) >= 12
    with app.app_context():
        check_counters()  # the drift gauge exists once a check has run
    client.get("/api/v1/regions")
    exported = exported_names(client.get("/metrics").get_data(as_text=True))
    used = set().union(*(metric_names(e) for e in exprs))
    assert used - exported == set(), f"not exported: {sorted(used - exported)}"
    # Every figure the issue asks for is on the dashboard.
    for name in ("linshan_http_request_duration_seconds_bucket", "linshan_donations_paid_total",
                 "linshan_notifications_total", "linshan_outbox_backlog",
                 "linshan_job_last_success_age_seconds", "linshan_journal_unsealed_backlog",
                 "linshan_counter_drift"):  # fmt: skip
        assert name in used, name
    titles = [panel["title"] for panel in dashboard["panels"]]
    assert len(set(titles)) == len(titles)
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(titles)


def test_the_promql_reader_sees_what_it_should() -> None:
    """The check itself: a misspelt metric is found, label names and functions are not."""
    expr = ('histogram_quantile(0.99, sum by (le, endpoint) '
            '(rate(linshan_http_request_seconds_bucket{status="5xx"}[5m]))) * 60')  # fmt: skip
    assert metric_names(expr) == {"linshan_http_request_seconds_bucket"}


def test_with_redis_down_metrics_and_limits_fail_open(app, make_app, private_redis, caplog) -> None:
    """Redis holds derived data only: /metrics still answers and says what it could not
    read, and the rate limit lets calls through (and says so in the log)."""
    other = make_app({"REDIS_URL": private_redis.url, "RATE_LIMIT_ADDRESS_PER_MINUTE": "1"})
    client = other.test_client()
    private_redis.stop()
    with caplog.at_level(logging.WARNING, logger="backend"):
        codes = [client.get("/healthz").status_code] + [
            client.get("/api/v1/no/such/route").status_code for _ in range(3)
        ]
        found = scrape(client)
    assert codes == [200, 404, 404, 404]  # limited to 1 a minute, yet not refused
    assert any("rate limit" in r.getMessage() and "not checked" in r.getMessage()
               for r in caplog.records)  # fmt: skip
    assert value(found, "linshan_state_up", source="redis") == 0
    assert value(found, "linshan_state_up", source="postgresql") == 1
    assert ("linshan_outbox_backlog", ()) in found


@pytest.mark.parametrize(
    ("reason", "label"),
    [("applied", ""), ("bad signature", "signature"), ("stale timestamp", "signature"),
     ("bad req_info", "signature"), ("mch_id mismatch", "merchant"), ("amount mismatch", "amount"),
     ("order is closed", "order_state"), ("unknown order", "unknown"), ("not paid", "not_paid"),
     ("unavailable", "unavailable"), ("bad total_fee", "malformed"), ("x" * 300, "other")],
)  # fmt: skip
def test_notification_reasons_fall_into_few_classes(reason: str, label: str) -> None:
    from backend.metrics import reason_class

    assert reason_class(reason) == label
