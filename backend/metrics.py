"""Prometheus metrics at `GET /metrics`, through the official client (docs/observability.md).

Three kinds of figures:

- **Counted in the process**: request latency by endpoint (the Flask rule, never the raw
  path, so ids do not make new series) and status class, orders created, donations paid,
  refunds and WeChat Pay notifications by outcome. Under gunicorn each worker process
  counts in its own files below `PROMETHEUS_MULTIPROC_DIR` (set in the environment before
  the app starts, emptied when the server starts: `on_starting`), and `/metrics`, whichever
  worker answers, adds up every process's files. `child_exit` (gunicorn's hook) forgets a
  worker that exited. Without the variable each process counts in memory (development).
- **Counted when the transaction commits**: `count_on_commit` notes a figure on the
  session and adds it only once its transaction commits (a rolled-back credit counts
  nothing), in a request or in a worker job alike.
- **Read when scraped** (`StateCollector`): the outbox backlog and its oldest event, the
  unsealed journal entries and the oldest, each periodic job's last success (written to
  Redis by the `@job` decorator through `record_job_success`) and the counters that
  `check_counters` last found different from PostgreSQL. These come from PostgreSQL and
  Redis, so every node reports the same; `linshan_state_up` says whether each was read.

`/metrics` answers only with `METRICS_TOKEN` as a bearer token when one is configured, and
otherwise only to loopback and private addresses (a request that came through a proxy not
counted in `TRUSTED_PROXY_COUNT` is refused: its address is the proxy's). nginx does not
pass `/metrics` on; Prometheus scrapes each API node directly.

This module knows no domain package (they import it), so it names tables in SQL.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa
from flask import Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session

from backend.common.errors import DomainError, Kind
from backend.common.time import utcnow
from backend.extensions import db

log = logging.getLogger(__name__)

#: where gunicorn's worker processes keep their figures (prometheus_client reads it at import)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: the Redis hash of each job's last success: job name -> {"at": unix seconds, "result": ...}
JOBS_KEY = "lsm:jobs"
#: the job whose last result is the number of counters found different from PostgreSQL
COUNTER_CHECK_JOB = "check_counters"
#: a scrape's database queries give up after this long (ms): /metrics must stay cheap
STATEMENT_TIMEOUT_MS = 2000
#: backlogs are counted up to this many rows (beyond it the figure is this: an alarm anyway)
COUNT_CAP = 100_000

#: request methods named in the latency's labels (any other is `other`: no series per made-up
#: method)
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
#: the process's own metrics (exported directly without PROMETHEUS_MULTIPROC_DIR)
REGISTRY = CollectorRegistry(auto_describe=True)

REQUEST_LATENCY = Histogram(
    "linshan_http_request_duration_seconds",
    "Time from routing to the response (commit included), by endpoint and status class.",
    ["method", "endpoint", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
ORDERS_CREATED = Counter(
    "linshan_orders_created", "Donation orders created (pending, unified order made).",
    registry=REGISTRY,
)  # fmt: skip
DONATIONS_PAID = Counter(
    "linshan_donations_paid",
    "Donations credited (by a notification, an order query or the bill), once each.",
    registry=REGISTRY,
)
REFUNDS = Counter(
    "linshan_refunds", "Refunds by stage: requested, succeeded, failed.", ["outcome"],
    registry=REGISTRY,
)  # fmt: skip
NOTIFICATIONS = Counter(
    "linshan_notifications",
    "WeChat Pay notifications by kind (payment, refund), outcome (applied, duplicate, "
    "failed, rejected) and reason class.",
    ["kind", "outcome", "reason"],
    registry=REGISTRY,
)

#: a notification's reason (as the payment views name it) -> its class, a bounded label
REASON_CLASSES = {
    "applied": "",
    "duplicate": "",
    "body too large": "too_large",
    "malformed xml": "malformed",
    "return_code not SUCCESS": "not_success",
    "bad signature": "signature",
    "bad req_info": "signature",
    "appid mismatch": "merchant",
    "mch_id mismatch": "merchant",
    "no out_trade_no": "malformed",
    "bad out_trade_no": "malformed",
    "bad total_fee": "malformed",
    "bad refund numbers": "malformed",
    "amount mismatch": "amount",
    "mismatch": "amount",
    "unknown order": "unknown",
    "unknown refund": "unknown",
    "different transaction": "transaction",
    "not paid": "not_paid",
    "not final": "not_final",
    "failed": "refund_failed",
}


#: then, for reasons not named above (v3's among them), the first class whose word it holds
REASON_WORDS = (
    ("order is ", "order_state"),
    ("signature", "signature"),
    ("serial", "signature"),
    ("timestamp", "signature"),
    ("decrypt", "signature"),
    ("appid", "merchant"),
    ("mch", "merchant"),
    ("unavailable", "unavailable"),
    ("too large", "too_large"),
    ("malformed", "malformed"),
    ("bad ", "malformed"),
    ("no ", "malformed"),
    ("not a ", "malformed"),
    ("unknown event", "malformed"),
)


def reason_class(reason: str) -> str:
    """The bounded label of a notification's reason (`order is closed` -> `order_state`)."""
    known = REASON_CLASSES.get(reason)
    if known is not None:
        return known
    return next((label for word, label in REASON_WORDS if word in reason), "other")


def count_notification(kind: str, outcome: str, reason: str = "") -> None:
    """Count a notification answered: `outcome` is `applied`, `duplicate`, `rejected`
    (refused before or at its checks) or any other reason it was not applied (`failed`)."""
    if outcome in ("applied", "duplicate", "rejected"):
        label = outcome
    else:
        label, reason = "failed", outcome
    NOTIFICATIONS.labels(kind, label, reason_class(reason or label)).inc()


# --- counted when the transaction commits -------------------------------------------------

_PENDING = "linshan_metrics"


def count_on_commit(counter: Counter, *labels: str) -> None:
    """Add one to `counter` (with `labels`) once the current transaction commits."""
    db.session().info.setdefault(_PENDING, []).append((counter, labels))


def _counted(session: Session) -> None:
    for counter, labels in session.info.pop(_PENDING, ()):
        (counter.labels(*labels) if labels else counter).inc()


def _forgotten(session: Session, previous: Any) -> None:
    if not previous.nested:  # the whole transaction, not a savepoint within it
        session.info.pop(_PENDING, None)


if not sa.event.contains(Session, "after_commit", _counted):
    sa.event.listen(Session, "after_commit", _counted)
    sa.event.listen(Session, "after_soft_rollback", _forgotten)


# --- worker jobs -----------------------------------------------------------------------------


def record_job_success(name: str, result: Any = None) -> None:
    """Note in Redis that job `name` succeeded now, with its result when it is a number
    (or numbers); a Redis outage only leaves the note older."""
    note: dict[str, Any] = {"at": utcnow().timestamp()}
    if (isinstance(result, int) and not isinstance(result, bool)) or (
        isinstance(result, dict) and all(isinstance(v, int) for v in result.values())
    ):
        note["result"] = result
    client: redis.Redis = current_app.extensions["redis"]
    try:
        client.hset(JOBS_KEY, name, json.dumps(note))
    except redis.RedisError as exc:
        log.warning("job %s: success not noted, Redis %s", name, exc.__class__.__name__)


# --- read when scraped ------------------------------------------------------------------------

OUTBOX_SQL = sa.text(f"""
SELECT count(*) AS backlog, min(created_at) AS oldest FROM (
    SELECT created_at FROM outbox_events WHERE applied_at IS NULL ORDER BY id LIMIT {COUNT_CAP}
) AS unapplied
""")  # noqa: S608 - a constant, not input
SEAL_SQL = sa.text(f"""
SELECT (SELECT count(*) FROM (SELECT 1 FROM journal_pending LIMIT {COUNT_CAP}) AS p) AS backlog,
       (SELECT e.created_at FROM journal_pending p JOIN journal_entries e ON e.id = p.entry_id
        ORDER BY p.entry_id LIMIT 1) AS oldest
""")  # noqa: S608 - a constant, not input


class StateCollector(Collector):
    """Gauges computed at scrape time from PostgreSQL and Redis (see the module's doc)."""

    def __init__(self, engine: sa.Engine, client: redis.Redis) -> None:
        self.engine = engine
        self.client = client

    def collect(self) -> Iterator[Metric]:
        """The backlogs, the job ages, the counter drift, and which sources answered."""
        now = utcnow()
        up = GaugeMetricFamily(
            "linshan_state_up", "1 when the scrape could read the source.", labels=["source"]
        )
        try:
            yield from self._database(now)
            up.add_metric(["postgresql"], 1)
        except sa.exc.SQLAlchemyError as exc:
            log.warning("metrics: PostgreSQL not read: %s", exc.__class__.__name__)
            up.add_metric(["postgresql"], 0)
        try:
            yield from self._jobs(now.timestamp())
            up.add_metric(["redis"], 1)
        except redis.RedisError as exc:
            log.warning("metrics: Redis not read: %s", exc.__class__.__name__)
            up.add_metric(["redis"], 0)
        yield up

    def _database(self, now: Any) -> Iterator[Metric]:
        with self.engine.connect() as connection:
            connection.execute(sa.text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))
            outbox = connection.execute(OUTBOX_SQL).one()
            seal = connection.execute(SEAL_SQL).one()
            connection.rollback()
        for prefix, row, what in (
            ("linshan_outbox", outbox, "Outbox events not yet applied to the Redis counters"),
            ("linshan_journal_unsealed", seal, "Journal entries committed but not yet sealed"),
        ):
            yield GaugeMetricFamily(f"{prefix}_backlog", f"{what}.", value=row.backlog)
            age = (now - row.oldest).total_seconds() if row.oldest is not None else 0.0
            yield GaugeMetricFamily(
                f"{prefix}_oldest_age_seconds", "Age of the oldest of them (0: none).",
                value=max(age, 0.0),
            )  # fmt: skip

    def _jobs(self, now: float) -> Iterator[Metric]:
        notes = self.client.hgetall(JOBS_KEY)
        age = GaugeMetricFamily(
            "linshan_job_last_success_age_seconds",
            "Seconds since each periodic job of the worker last succeeded.",
            labels=["job"],
        )
        drift = None
        for raw_name, raw_note in sorted(notes.items()):
            name = raw_name.decode() if isinstance(raw_name, bytes) else str(raw_name)
            try:
                note = json.loads(raw_note)
                at = float(note["at"])
            except (ValueError, KeyError, TypeError):
                continue
            age.add_metric([name], max(now - at, 0.0))
            if name == COUNTER_CHECK_JOB and isinstance(note.get("result"), int):
                drift = note["result"]
        yield age
        if drift is not None:
            yield GaugeMetricFamily(
                "linshan_counter_drift",
                "Counters the last counter check found different from PostgreSQL (rebuilt).",
                value=drift,
            )


class _OwnMetrics(Collector):
    """This process's metrics, for a scrape without PROMETHEUS_MULTIPROC_DIR."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def multiprocess_dir() -> str | None:
    """The directory of the processes' figures, when gunicorn's workers share one."""
    return os.environ.get(MULTIPROC_ENV) or None


def exposition(engine: sa.Engine, client: redis.Redis) -> bytes:
    """The text format of every metric: the processes' figures and the state gauges."""
    registry = CollectorRegistry()
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_OwnMetrics())
    registry.register(StateCollector(engine, client))
    return generate_latest(registry)


# --- gunicorn hooks ----------------------------------------------------------------------------


def on_starting(server: Any = None) -> None:
    """gunicorn's `on_starting`: empty PROMETHEUS_MULTIPROC_DIR (figures of a previous run
    would be added to this one's), creating it if need be."""
    path = multiprocess_dir()
    if path is None:
        return
    directory = Path(path)
    if directory.is_dir():
        for child in directory.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
    directory.mkdir(parents=True, exist_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn's `child_exit`: forget the live gauges of a worker process that exited
    (its counters and histograms stay counted, as Prometheus expects)."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(worker.pid)


# --- the HTTP side -----------------------------------------------------------------------------


#: the addresses that may scrape without a token: loopback, RFC 1918 and IPv6 unique local
PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128",
                "fc00::/7")
)  # fmt: skip


def _private(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in PRIVATE_NETWORKS)


def allow_scrape() -> None:
    """Refuse a scrape that is not allowed (see the module's doc): 401 or 403."""
    settings = current_app.config["SETTINGS"]
    token = settings.observe.metrics_token
    if token is not None:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            raise DomainError(Kind.UNAUTHORIZED, "metrics_token_required", "需要有效的访问令牌")
        return
    proxied = "X-Forwarded-For" in request.headers and not settings.trusted_proxy_count
    if proxied or not _private(request.remote_addr):
        raise DomainError(Kind.FORBIDDEN, "metrics_private", "仅限内网访问")


def metrics_view() -> Response:
    """Every metric in Prometheus's text format."""
    allow_scrape()
    body = exposition(db.engine, current_app.extensions["redis"])
    response = Response(body, mimetype=None, content_type=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response


def init_metrics(app: Flask) -> None:
    """Time every request by its endpoint and serve `/metrics` (outside the API document)."""

    @app.before_request
    def _start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.pop("metrics_started", None)
        if started is not None:
            rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
            method = request.method if request.method in METHODS else "other"
            REQUEST_LATENCY.labels(method, rule, f"{response.status_code // 100}xx").observe(
                time.perf_counter() - started
            )
        return response

    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])
