"""`python3 manage.py run`: migrate, load the demo data, start the sandbox, app and worker.

The app is served by gunicorn with `gunicorn.conf.py` (as in the image), bound to
127.0.0.1 with `--workers` workers.

Everything runs on the embedded PostgreSQL and Redis unless DATABASE_URL/REDIS_URL are
given, and on the WeChat sandbox unless WeChat credentials are given. Ctrl-C stops it all
(the embedded servers keep running for the next start: `flask --app backend embedded stop`).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from backend.config import SANDBOX_PORT, ConfigError, Settings

ROOT = Path(__file__).resolve().parent.parent
#: the serving settings the image uses too
GUNICORN_CONF = ROOT / "gunicorn.conf.py"


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def flask(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "flask", "--app", "backend", *args], cwd=ROOT, check=True)


def wait_for(url: str, name: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass  # not listening yet, or (gunicorn) no worker has booted yet
        time.sleep(0.2)
    raise SystemExit(f"{name} did not answer at {url}")


def use_sandbox_v3_keys() -> None:
    """WECHAT_PAY_VERSION=v3 on the sandbox without key files given: make the sandbox's v3
    keys in INSTANCE_PATH/wechatpay-v3/ and put them in the environment the app, the
    worker and the sandbox inherit."""
    if os.environ.get("WECHAT_PAY_VERSION", "").strip().lower() != "v3":
        return
    if os.environ.get("WECHAT_MCH_KEY_PATH") or os.environ.get("WECHAT_APPID"):
        return
    from backend import instance_path_from_env
    from backend.payments.v3_keys import make_sandbox_keys, sandbox_v3_folder

    folder = sandbox_v3_folder(instance_path_from_env(os.environ))
    os.environ.update(make_sandbox_keys(folder))
    say(f"WeChat Pay v3 on the sandbox, keys in {folder}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-demo", action="store_true", help="do not load the demo data")
    args = parser.parse_args()
    # WeChat's notifications must come back to this port.
    os.environ.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{args.port}")
    use_sandbox_v3_keys()
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        raise SystemExit(f"linshan: configuration error: {exc}") from None

    say("migrating the database")
    flask("db", "upgrade")
    if not args.no_demo:
        say("loading the demo data")
        flask("seed-demo")

    children: list[subprocess.Popen[bytes]] = []
    env = dict(os.environ)

    def stop(*_: object) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    try:  # whatever fails or is interrupted on the way, the children started are stopped
        if settings.uses_sandbox:
            say(f"starting the WeChat sandbox on port {SANDBOX_PORT}")
            children.append(
                subprocess.Popen(
                    [sys.executable, "-m", "backend.wechat_sandbox", "--port", str(SANDBOX_PORT)],
                    cwd=ROOT,
                )
            )
            wait_for(f"http://127.0.0.1:{SANDBOX_PORT}/sandbox/health", "the WeChat sandbox")
        say(f"starting the app on http://127.0.0.1:{args.port}")
        # The production settings (gunicorn.conf.py), on this machine's loopback only.
        serving = {
            **env,
            "BIND": f"127.0.0.1:{args.port}",
            "GUNICORN_WORKERS": str(args.workers),
            "GUNICORN_THREADS": os.environ.get("GUNICORN_THREADS", "4"),
        }
        children.append(
            subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF)],
                cwd=ROOT,
                env=serving,
            )
        )
        wait_for(f"http://127.0.0.1:{args.port}/readyz", "the app", seconds=60)
        say("starting the worker (outbox repair, lost notifications, order closing, counters)")
        children.append(
            subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "backend", "worker"], cwd=ROOT, env=env
            )
        )
        say(f"ready: API docs at http://127.0.0.1:{args.port}/api/docs — Ctrl-C stops")

        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
    failed = [c for c in children if c.returncode not in (0, -signal.SIGTERM, None)]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
