"""The app factory, errors in the contract's shape, request ids, health and readiness."""

from __future__ import annotations

import logging

import psycopg
import pytest
from flask import Flask

from tests.conftest import dispose
from tests.support import assert_error_shape, with_database


def test_factory_applies_overrides_and_reads_the_given_environment(
    make_app, test_environ: dict[str, str]
) -> None:
    app = make_app(MAX_CONTENT_LENGTH=1234)
    assert app.testing
    assert app.config["MAX_CONTENT_LENGTH"] == 1234
    assert app.config["SECRET_KEY"] == test_environ["SECRET_KEY"]
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")
    assert app.config["SETTINGS"].uses_sandbox


def test_unknown_route_is_a_json_404(client) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.is_json
    assert_error_shape(response.get_json(), 404, "not_found")


def test_wrong_method_is_a_json_405_with_allow(client) -> None:
    response = client.delete("/api/v1/regions")
    assert response.status_code == 405
    assert_error_shape(response.get_json(), 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


@pytest.fixture
def failing_app(make_app) -> Flask:
    app = make_app(PROPAGATE_UNEXPECTED=False)

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret internals: password=hunter2")

    return app


def test_an_unexpected_error_is_a_500_without_stack_trace(failing_app: Flask, caplog) -> None:
    with caplog.at_level(logging.ERROR):
        response = failing_app.test_client().get(
            "/boom", headers={"X-Request-ID": "req-0123456789"}
        )
    assert response.status_code == 500
    body = response.get_json()
    assert_error_shape(body, 500, "internal_error")
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "hunter2" not in text and "RuntimeError" not in text
    # The operator still gets the traceback in the log, tagged with the request id.
    record = next(r for r in caplog.records if r.levelno == logging.ERROR)
    assert record.exc_info is not None
    assert record.request_id == "req-0123456789"


def test_every_response_carries_a_request_id_and_logs_it(client, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="linshan.access"):
        first = client.get("/healthz")
        second = client.get("/healthz", headers={"X-Request-ID": "abcdef0123456789"})
        forged = client.get("/healthz", headers={"X-Request-ID": "bad id; drop table"})
    assert len(first.headers["X-Request-ID"]) == 32
    assert second.headers["X-Request-ID"] == "abcdef0123456789"
    assert forged.headers["X-Request-ID"] not in ("bad id; drop table", "")
    ids = [r.request_id for r in caplog.records if r.name == "linshan.access"]
    assert ids == [
        first.headers["X-Request-ID"],
        "abcdef0123456789",
        forged.headers["X-Request-ID"],
    ]


def test_healthz(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_when_everything_is_up(client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["checks"] == {"database": "ok", "migrations": "ok", "redis": "ok"}


def test_readyz_names_an_unmigrated_database(make_app, test_environ: dict[str, str]) -> None:
    admin = with_database(test_environ["DATABASE_URL"], "postgres")
    url = with_database(test_environ["DATABASE_URL"], "linshan_test_empty_readyz")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "linshan_test_empty_readyz"')
        conn.execute('CREATE DATABASE "linshan_test_empty_readyz"')
    try:
        app = make_app({"DATABASE_URL": url})
        response = app.test_client().get("/readyz")
        assert response.status_code == 503
        body = response.get_json()
        assert body["error"] == "not_ready"
        assert body["errors"]["migrations"] == "missing"
        assert "db upgrade" in body["message"]
        dispose(app)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute('DROP DATABASE IF EXISTS "linshan_test_empty_readyz" WITH (FORCE)')


def test_readyz_names_an_unreachable_redis(make_app) -> None:
    app = make_app({"REDIS_URL": "redis://127.0.0.1:1/0"})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["errors"]["redis"] == "unavailable"
    assert body["errors"]["database"] == "ok"
    assert "Redis" in body["message"]
