"""With no DATABASE_URL or REDIS_URL, every process attaches to the same embedded servers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import redis
import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def bare_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a machine where nothing is configured."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"INSTANCE_PATH": str(tmp_path / "instance"), "LOG_LEVEL": "WARNING"})
    return env


def flask(env: dict[str, str], *args: str, root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "backend", *args],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def urls_of(status_output: str) -> dict[str, str]:
    lines = dict(line.split(":", 1) for line in status_output.splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in lines.items()}


def test_embedded_servers_are_shared_by_every_process_and_outlive_them(
    bare_env: dict[str, str], project_root: Path
) -> None:
    try:
        flask(bare_env, "db", "upgrade", root=project_root)
        urls = urls_of(flask(bare_env, "embedded", "status", root=project_root).stdout)
        assert "host=" in urls["database"]
        assert urls["redis"].startswith("unix://")

        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
             "backend:create_app()"],
            env=bare_env,
            cwd=project_root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            answers = []
            while time.monotonic() < deadline:
                try:
                    response = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
                    answers.append(response.status_code)
                    if len(answers) >= 6 and all(code == 200 for code in answers[-6:]):
                        break
                except requests.ConnectionError:
                    pass
                time.sleep(0.2)
            assert answers[-6:] == [200] * 6, answers
            body = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json()
            assert body["checks"] == {"database": "ok", "migrations": "ok", "redis": "ok"}
        finally:
            server.terminate()
            server.wait(timeout=30)

        # The servers outlive the processes that used them, at the same addresses.
        assert urls_of(flask(bare_env, "embedded", "status", root=project_root).stdout) == urls
        database = urls["database"].replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(database) as conn:
            assert conn.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
        client = redis.Redis.from_url(urls["redis"])
        try:
            assert client.ping()
        finally:
            client.close()
    finally:
        stopped = flask(bare_env, "embedded", "stop", root=project_root).stdout
    assert "postgres: stopped" in stopped
    assert "redis:    stopped" in stopped
