"""The sandbox as a program: `python -m backend.wechat_sandbox`, and its independence."""

from __future__ import annotations

import ast
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

import backend.wechat_sandbox as package

PACKAGE_DIR = Path(package.__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent.parent


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_shares_no_code_with_the_backend() -> None:
    for path in PACKAGE_DIR.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                if name == "backend" or name.startswith("backend."):
                    assert name.startswith("backend.wechat_sandbox"), f"{path.name} imports {name}"
                assert not name.startswith("wechatpy"), f"{path.name} imports {name}"


def test_runs_as_a_module() -> None:
    port = free_port()
    env = {**os.environ, "APP_ENV": "development", "WECHAT_APPID": "wxmodulerun"}
    process = subprocess.Popen(
        [sys.executable, "-m", "backend.wechat_sandbox", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        health = None
        while time.monotonic() < deadline:
            try:
                health = requests.get(f"http://127.0.0.1:{port}/sandbox/health", timeout=1).json()
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert health is not None and health["status"] == "ok"
        assert health["appid"] == "wxmodulerun"
    finally:
        process.terminate()
        process.wait(10)


def test_refuses_production() -> None:
    env = {**os.environ, "APP_ENV": "production"}
    done = subprocess.run(
        [sys.executable, "-m", "backend.wechat_sandbox", "--port", str(free_port())],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2 and "production" in done.stderr
