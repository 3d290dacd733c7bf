"""Test fixtures: a fresh PostgreSQL database per run and a Redis database, both real.

With `DATABASE_URL`/`REDIS_URL` set (CI), the tests use those servers; without them, the
embedded servers of the instance folder. Either way the run gets its own new database,
migrated from zero, and drops it at the end.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from backend import create_app, embedded, instance_path_from_env
from backend.common.time import set_clock, utcnow
from backend.extensions import db
from backend.wechat_sandbox import SandboxConfig, SandboxServer
from tests.support import PrivateRedis, with_database, with_redis_db

#: the Redis database the tests flush (set TEST_REDIS_DB to run two suites side by side)
TEST_REDIS_DB = int(os.environ.get("TEST_REDIS_DB", "15"))


def _server_urls() -> tuple[str, str]:
    """SQLAlchemy URL of the server's maintenance database, and the Redis URL to use."""
    instance = instance_path_from_env(os.environ)
    database_url = os.environ.get("DATABASE_URL") or embedded.ensure_postgres(instance)
    redis_url = os.environ.get("REDIS_URL") or embedded.ensure_redis(instance)
    return database_url, redis_url


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for this run (libpq URL); dropped afterwards."""
    server_url, _ = _server_urls()
    name = f"linshan_test_{secrets.token_hex(4)}"
    admin = with_database(server_url, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield with_database(server_url, name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis database tests may flush."""
    _, url = _server_urls()
    return with_redis_db(url, TEST_REDIS_DB)


@pytest.fixture(scope="session")
def pay_version(request: pytest.FixtureRequest) -> str:
    """The WeChat Pay version the app and the sandbox speak: "v2" unless a test asks for
    both (`tests.v3_support.both_pay_versions`); "v3" makes the session's app and sandbox
    a v3 pair on fresh key material (`pay_v3_environ`)."""
    return getattr(request, "param", "v2")


@pytest.fixture(scope="session")
def pay_v3_environ(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Key material for the v3 pair (made once a run) and the environment naming it."""
    from backend.payments.v3_keys import make_sandbox_keys

    return make_sandbox_keys(tmp_path_factory.mktemp("wechatpay-v3"))


@pytest.fixture(scope="session")
def pay_environ(pay_version: str, request: pytest.FixtureRequest) -> dict[str, str]:
    """What the app and the sandbox add to their environment for `pay_version`."""
    if pay_version != "v3":
        return {}
    return request.getfixturevalue("pay_v3_environ")


@pytest.fixture(scope="session")
def wechat_sandbox(pay_environ: dict[str, str]) -> Iterator[SandboxServer]:
    """The WeChat sandbox the app talks to over HTTP, through wechatpy, for the whole run."""
    config = SandboxConfig(time_factor=100_000.0)
    if pay_environ:
        config = replace(SandboxConfig.from_env(pay_environ), time_factor=100_000.0)
    server = SandboxServer(config).start()
    yield server
    server.stop()


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def live_port() -> int:
    """The port the app under test is served on over HTTP (for WeChat's notifications)."""
    return free_port()


@pytest.fixture(scope="session")
def test_environ(
    database_url: str,
    redis_url: str,
    wechat_sandbox: SandboxServer,
    live_port: int,
    tmp_path_factory: pytest.TempPathFactory,
    pay_environ: dict[str, str],
) -> dict[str, str]:
    """The environment the app under test reads (with v3's keys when `pay_version` is v3)."""
    return {
        **pay_environ,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{live_port}",
        "RATE_LIMIT_LOGINS_PER_MINUTE": "100000",
        "RATE_LIMIT_DONATIONS_PER_MINUTE": "100000",
        "RATE_LIMIT_USER_PER_MINUTE": "100000",
        "RATE_LIMIT_ADDRESS_PER_MINUTE": "100000",
        "WECHAT_API_BASE": wechat_sandbox.url,
        "WECHAT_PAY_API_BASE": wechat_sandbox.url,
        "APP_ENV": "development",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
        "INSTANCE_PATH": str(tmp_path_factory.mktemp("instance")),
        "LOG_LEVEL": "WARNING",
    }


@pytest.fixture(scope="session")
def app(test_environ: dict[str, str]) -> Iterator[Flask]:
    """The app, on a database migrated from zero through the Alembic migrations."""
    from flask_migrate import upgrade

    application = create_app({"ENVIRON": test_environ, "TESTING": True})
    with application.app_context():
        upgrade()
    yield application
    dispose(application)


def dispose(application: Flask) -> None:
    """Close an app's database pool and Redis connections."""
    with application.app_context():
        db.engine.dispose()
    application.extensions["redis"].close()
    counter = application.extensions.get("progress_counter")
    if counter is not None and counter.near is not None:
        counter.near.close()


@pytest.fixture
def make_app(test_environ: dict[str, str]) -> Iterator[Callable[..., Flask]]:
    """Build extra apps on the test environment (changed as asked); closed after the test."""
    made: list[Flask] = []

    def factory(env: dict[str, str] | None = None, **config: object) -> Flask:
        application = create_app(
            {"ENVIRON": {**test_environ, **(env or {})}, "TESTING": True, **config}
        )
        made.append(application)
        return application

    yield factory
    for application in made:
        dispose(application)


@pytest.fixture(scope="session")
def live_server(app: Flask, live_port: int) -> Iterator[str]:
    """The app served over real HTTP in a thread: where the sandbox delivers notifications."""
    server = make_server("127.0.0.1", live_port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-app", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{live_port}"
    server.shutdown()
    thread.join(5)
    server.server_close()


def truncate_all(application: Flask) -> None:
    """Empty every table of the app (the migrations' own bookkeeping stays)."""
    with application.app_context():
        db.session.remove()
        tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
        db.session.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        db.session.commit()
        application.extensions["redis"].flushdb()


@pytest.fixture
def clean(app: Flask) -> Iterator[None]:
    """Leave no rows behind: for tests that write."""
    yield
    truncate_all(app)


@pytest.fixture
def app_ctx(app: Flask, clean: None) -> Iterator[Flask]:
    """An application context for tests that call services directly; tables emptied after."""
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the app."""
    return app.test_client()


@pytest.fixture(scope="module")
def demo(app: Flask) -> Iterator[dict[str, int]]:
    """The demo data, loaded once per module for read-only tests and removed after it."""
    from backend.demo.seed import seed_demo

    with app.app_context():
        added = seed_demo(progress=lambda line: None)
        db.session.commit()
        db.session.remove()
    yield added
    truncate_all(app)


@pytest.fixture(scope="session")
def project_root() -> Path:
    """The checkout's top folder."""
    return Path(__file__).resolve().parent.parent


class Clock:
    """Moves the app's clock (`backend.common.time`) for a test."""

    def __init__(self) -> None:
        self.now = utcnow()
        set_clock(self.now)

    def set(self, instant: datetime) -> None:
        """Stand the clock at `instant` (timezone-aware)."""
        self.now = instant
        set_clock(instant)

    def advance(self, **delta: float) -> None:
        """Move the clock on by a `timedelta(**delta)`."""
        self.set(self.now + timedelta(**delta))


@pytest.fixture
def clock() -> Iterator[Clock]:
    """A frozen clock the test moves; released afterwards."""
    yield Clock()
    set_clock(None)


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()
