"""gunicorn's settings for 邻善 Linshan: the image and `python3 manage.py run` both use them.

    gunicorn -c gunicorn.conf.py 'backend:create_app()'

Every value can be changed through the environment (see docs/deploy.md):

- `BIND` (e.g. `0.0.0.0:8000`), else `PORT` on 0.0.0.0, else 127.0.0.1:5000;
- `GUNICORN_WORKERS` (default: 2 × CPUs + 1, at most 16) and `GUNICORN_THREADS` (8);
- `GUNICORN_TIMEOUT` (60 s: a worker silent that long is restarted),
  `GUNICORN_GRACEFUL_TIMEOUT` (30 s to finish requests on a restart),
  `GUNICORN_KEEPALIVE` (5 s idle keep-alive), `GUNICORN_HEADER_TIMEOUT` (10 s to send a
  whole request head);
- `GUNICORN_ACCESS_LOG` (`-`: stdout; `off`: none), `LOG_LEVEL` for gunicorn's own log.

The worker class (`backend.serving.BufferingThreadWorker`) is gunicorn's `gthread` that
gives a request to a thread only once it has arrived: slow or idle clients wait in the
worker's event loop and hold no thread. Access logs are one JSON object per line
(`backend.serving.JsonAccessLogger`).
"""

from __future__ import annotations

import importlib
import importlib.util
import multiprocessing
import os
import shutil
import tempfile
from typing import Any


def _int(name: str, default: int, low: int = 0, high: int = 10_000) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise SystemExit(f"gunicorn.conf.py: {name} must be a whole number from {low} to {high}")
    return int(raw)


def _bind() -> str:
    if os.environ.get("BIND", "").strip():
        return os.environ["BIND"].strip()
    if os.environ.get("PORT", "").strip():
        return f"0.0.0.0:{_int('PORT', 8000, 1, 65535)}"
    return "127.0.0.1:5000"


wsgi_app = "backend:create_app()"
bind = [_bind()]
worker_class = "backend.serving.BufferingThreadWorker"
workers = _int("GUNICORN_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 16), 1, 256)
threads = _int("GUNICORN_THREADS", 8, 1, 256)
# Connections a worker holds at once, idle and slow ones included (they hold no thread).
worker_connections = _int("GUNICORN_WORKER_CONNECTIONS", 1000, 1, 100_000)
timeout = _int("GUNICORN_TIMEOUT", 60, 1, 3600)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30, 1, 3600)
keepalive = _int("GUNICORN_KEEPALIVE", 5, 0, 300)
# A new worker after this many requests (with jitter) would bound a slow leak; off (0) by
# default: a new worker costs an app start (about a second of CPU) and begins with empty
# copies of the counters and public answers, which under load is a stall every few seconds.
max_requests = _int("GUNICORN_MAX_REQUESTS", 0, 0, 10_000_000)
max_requests_jitter = max_requests // 10

# Requests larger than a real client sends are refused before the app sees them.
limit_request_line = 4094
limit_request_fields = 64
limit_request_field_size = 8190

# X-Forwarded-* from nginx (the one trusted proxy) are applied by the app itself
# (TRUSTED_PROXY_COUNT, werkzeug's ProxyFix); gunicorn's own trust list stays its default.

_access = os.environ.get("GUNICORN_ACCESS_LOG", "-").strip() or "-"
accesslog = None if _access == "off" else _access
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").strip().lower() or "info"
logger_class = "backend.serving.JsonAccessLogger"
# Several gunicorns share a machine (tests, nodes): no control socket under $HOME.
control_socket_disable = True
# Heartbeat files in memory, not on a container's overlay disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108 - tmpfs

# Prometheus' multiprocess mode needs one folder shared by the workers, fresh per start
# (made here when not given, and removed when gunicorn exits).
_made_prometheus_dir: str | None = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _made_prometheus_dir = tempfile.mkdtemp(prefix="linshan-prometheus-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _made_prometheus_dir


def _metrics_hook(name: str) -> Any:
    """The gunicorn hook `name` of backend/metrics.py, when it has one (imported lazily)."""
    if importlib.util.find_spec("backend.metrics") is None:
        return None
    return getattr(importlib.import_module("backend.metrics"), name, None)


def on_starting(server: Any) -> None:
    """Let the metrics empty their multiprocess folder before any worker writes to it."""
    hook = _metrics_hook("on_starting")
    if hook is not None:
        hook(server)


def child_exit(server: Any, worker: Any) -> None:
    """Tell the metrics (backend/metrics.py, when present) that a worker has gone."""
    hook = _metrics_hook("child_exit")
    if hook is not None:
        hook(server, worker)


def on_exit(server: Any) -> None:
    """Remove the metrics folder this configuration made."""
    if _made_prometheus_dir is not None:
        shutil.rmtree(_made_prometheus_dir, ignore_errors=True)
