"""Serving through gunicorn.conf.py: slow and idle clients do not delay a payment notification.

Each test starts gunicorn as the image does (`-c gunicorn.conf.py`), with 2 workers of 4
threads, on the test database and Redis, then opens connections that never finish (or
never start) a request and delivers a signed payment notification for an order created
through the API. The same check against gunicorn's `sync` worker shows what it protects from.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from backend.donations.models import Donation, DonationStatus
from backend.extensions import db
from backend.needs.models import Need, NeedStatus
from backend.serving import BODY_BUFFER_BYTES, request_complete
from tests.conftest import free_port
from tests.payments_support import notification, to_xml
from tests.support import unavailable

pytestmark = pytest.mark.usefixtures("demo")

#: how long a notification may take with every slow client connected
PROMPT_SECONDS = 2.0
NOTIFY_PATH = "/api/v1/payments/wechat/notify"


class Served:
    """A gunicorn started with gunicorn.conf.py; its logs in files."""

    def __init__(self, base: str, process: subprocess.Popen[bytes], logs: Path) -> None:
        self.base = base
        self.port = int(base.rsplit(":", 1)[1])
        self.process = process
        self.logs = logs

    def access_lines(self) -> list[dict]:
        """Every access log line so far, parsed (each must be one JSON object)."""
        text = (self.logs / "access.log").read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]


@contextmanager
def gunicorn(
    test_environ: dict[str, str], root: Path, logs: Path, *extra: str, **settings: str
) -> Iterator[Served]:
    """gunicorn with the project's configuration on a free port, 2 workers × 4 threads
    (`settings`: more environment variables)."""
    port = free_port()
    logs.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        **test_environ,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "4",
        "GUNICORN_ACCESS_LOG": str(logs / "access.log"),
        "LOG_LEVEL": "WARNING",
        **settings,
    }
    with (logs / "error.log").open("wb") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", *extra],
            cwd=root, env=env, stdout=errors, stderr=subprocess.STDOUT,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            ready = 0
            while ready < 4:  # a few answers, so that both workers have had time to boot
                assert process.poll() is None, (logs / "error.log").read_text()
                assert time.monotonic() < deadline, (logs / "error.log").read_text()
                try:
                    ok = requests.get(f"{base}/readyz", timeout=5).status_code == 200
                    ready = ready + 1 if ok else 0
                except requests.RequestException:
                    pass  # not listening yet, or no worker booted yet
                time.sleep(0.1)
            time.sleep(0.5)
            yield Served(base, process, logs)
        finally:
            process.terminate()
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def new_order(app, base: str, name: str, amount_fen: int = 321) -> dict:
    """A pending donation ordered through the served API by sandbox user `name`."""
    with app.app_context():
        need_id = db.session.scalar(
            sa.select(Need.id).where(Need.status == NeedStatus.FUNDRAISING).order_by(Need.id)
        )
    token = requests.post(
        f"{base}/api/v1/auth/wechat-login", json={"code": f"{name}.{time.time_ns()}"}, timeout=10
    ).json()["token"]
    response = requests.post(
        f"{base}/api/v1/donations",
        json={"need_id": need_id, "amount_fen": amount_fen},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()


def deliver(base: str, order: dict, timeout: float) -> tuple[requests.Response, float]:
    """POST the signed notification of `order`; the answer and the seconds it took."""
    body = to_xml(notification(order["out_trade_no"], order["amount_fen"]))
    started = time.monotonic()
    response = requests.post(
        f"{base}{NOTIFY_PATH}", data=body, headers={"Content-Type": "text/xml"}, timeout=timeout
    )
    return response, time.monotonic() - started


def status_of(app, donation_id: int) -> DonationStatus:
    with app.app_context():
        status = db.session.get(Donation, donation_id).status
        db.session.remove()
        return status


def half_headers(port: int, count: int = 8) -> list[socket.socket]:
    """Clients that send half a request's head and then nothing, ever."""
    clients = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(f"POST {NOTIFY_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty".encode())
        clients.append(sock)
    time.sleep(0.3)  # accepted and read by the workers
    return clients


def close_all(clients: list[socket.socket]) -> None:
    for sock in clients:
        sock.close()


@pytest.fixture(scope="module")
def served(app, demo, test_environ, project_root, tmp_path_factory) -> Iterator[Served]:
    """One server for the module's checks (each closes the clients it opened)."""
    logs = tmp_path_factory.mktemp("serving")
    # As in production: one proxy (nginx) in front; direct callers send no X-Forwarded-For.
    with gunicorn(test_environ, project_root, logs, TRUSTED_PROXY_COUNT="1") as server:
        yield server


def test_eight_slow_clients_do_not_delay_a_notification(app, served: Served) -> None:
    order = new_order(app, served.base, "serving_slow")
    clients = half_headers(served.port)
    try:
        response, seconds = deliver(served.base, order, timeout=10)
        assert response.status_code == 200
        assert "<return_code><![CDATA[SUCCESS]]></return_code>" in response.text
        assert seconds < PROMPT_SECONDS, seconds
        assert status_of(app, order["id"]) is DonationStatus.PAID
        # Ordinary requests are served meanwhile too, on every thread.
        for _ in range(8):
            assert requests.get(f"{served.base}/healthz", timeout=PROMPT_SECONDS).ok
        # The slow clients are still connected, waiting in the event loop.
        for sock in clients:
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.recv(1)
    finally:
        close_all(clients)


def test_idle_and_kept_alive_connections_do_not_delay_a_notification(app, served: Served) -> None:
    order = new_order(app, served.base, "serving_idle")
    silent = [socket.create_connection(("127.0.0.1", served.port)) for _ in range(8)]
    kept: list[requests.Session] = []
    for _ in range(8):
        session = requests.Session()  # one connection each, kept alive after its answer
        assert session.get(f"{served.base}/healthz", timeout=5).ok
        kept.append(session)
    time.sleep(0.3)
    try:
        response, seconds = deliver(served.base, order, timeout=10)
        assert "<return_code><![CDATA[SUCCESS]]></return_code>" in response.text
        assert seconds < PROMPT_SECONDS, seconds
        assert status_of(app, order["id"]) is DonationStatus.PAID
        # The kept-alive connections still serve their next request.
        for session in kept:
            assert session.get(f"{served.base}/healthz", timeout=PROMPT_SECONDS).ok
    finally:
        close_all(silent)
        for session in kept:
            session.close()


def test_a_slow_small_body_holds_no_thread(app, served: Served) -> None:
    order = new_order(app, served.base, "serving_body")
    clients = []
    for _ in range(8):
        sock = socket.create_connection(("127.0.0.1", served.port))
        sock.sendall(
            f"POST {NOTIFY_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n<xml>".encode()
        )
        clients.append(sock)
    time.sleep(0.3)
    try:
        response, seconds = deliver(served.base, order, timeout=10)
        assert "<return_code><![CDATA[SUCCESS]]></return_code>" in response.text
        assert seconds < PROMPT_SECONDS, seconds
    finally:
        close_all(clients)


def test_access_log_lines_are_json_without_query_strings(app, served: Served) -> None:
    order = new_order(app, served.base, "serving_log")
    response, _ = deliver(served.base, order, timeout=10)
    request_id = response.headers["X-Request-ID"]
    secret = "sig-0123456789abcdef"
    probe = requests.get(f"{served.base}/healthz?signature={secret}", timeout=5)
    given = "forwarded-req-42"
    requests.get(f"{served.base}/readyz", headers={"X-Request-ID": given}, timeout=5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = served.access_lines()
        if any(line["request_id"] == given for line in lines):
            break
        time.sleep(0.1)
    assert secret not in (served.logs / "access.log").read_text()
    by_id = {line["request_id"]: line for line in lines}
    notify = by_id[request_id]
    assert set(notify) >= {"time", "method", "path", "status", "duration_ms", "bytes",
                           "remote_addr", "request_id"}  # fmt: skip
    assert (notify["method"], notify["path"], notify["status"]) == ("POST", NOTIFY_PATH, 200)
    assert notify["bytes"] == len(response.content)
    assert notify["remote_addr"] == "127.0.0.1"
    assert isinstance(notify["duration_ms"], float) and notify["duration_ms"] > 0
    assert notify["time"].endswith("+00:00")
    health = by_id[probe.headers["X-Request-ID"]]
    assert (health["method"], health["path"], health["status"]) == ("GET", "/healthz", 200)
    assert by_id[given]["path"] == "/readyz"


def test_the_sync_worker_would_be_frozen_by_the_same_clients(
    app, test_environ, project_root, tmp_path
) -> None:
    """What the worker class protects from: gunicorn's sync workers, one client each."""
    extra = ("--worker-class", "sync", "--threads", "1")
    with gunicorn(test_environ, project_root, tmp_path / "sync", *extra) as sync:
        order = new_order(app, sync.base, "serving_sync")
        clients = half_headers(sync.port)
        try:
            with pytest.raises(requests.exceptions.ReadTimeout):
                deliver(sync.base, order, timeout=PROMPT_SECONDS)
            assert status_of(app, order["id"]) is DonationStatus.PENDING
        finally:
            close_all(clients)


def test_a_request_that_never_arrives_is_closed_after_the_header_timeout(
    app, test_environ, project_root, tmp_path
) -> None:
    with gunicorn(test_environ, project_root, tmp_path / "timeout",
                  GUNICORN_HEADER_TIMEOUT="1") as server:  # fmt: skip
        clients = half_headers(server.port, count=2)
        started = time.monotonic()
        try:
            for sock in clients:
                sock.settimeout(10)
                assert sock.recv(100) == b""  # closed by the server, nothing answered
            assert time.monotonic() - started < 5
        finally:
            close_all(clients)


@pytest.mark.parametrize(
    ("data", "complete"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n", False),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", True),
        (b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabc", False),
        (b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcde", True),
        (b"POST / HTTP/1.1\r\ncontent-length:  3 \r\n\r\nabc", True),
        # large bodies, chunked ones, 100-continue and duplicate lengths: the thread reads
        (f"POST / HTTP/1.1\r\nContent-Length: {BODY_BUFFER_BYTES + 1}\r\n\r\n".encode(), True),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", True),
        (b"POST / HTTP/1.1\r\nContent-Length: 9\r\nExpect: 100-continue\r\n\r\n", True),
        (b"POST / HTTP/1.1\r\nContent-Length: 9\r\nContent-Length: 9\r\n\r\n", True),
        (b"GET /" + b"a" * 200 + b" HTTP/1.1", True),  # past the head limit: refused by the parser
    ],
)
def test_when_a_request_is_complete_enough_for_a_thread(data: bytes, complete: bool) -> None:
    assert request_complete(data, head_limit=100) is complete


def nginx_in_front(root: Path, work: Path, api_port: int) -> tuple[list[str], int, int, Path]:
    """docker/nginx/nginx.conf made runnable here: the command, its http and https ports
    and the certificate (a self-signed pair for 127.0.0.1, made with openssl)."""
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None or shutil.which("openssl") is None:
        unavailable("nginx or openssl not installed")
    certs, static, temp = work / "certs", work / "static", work / "temp"
    for folder in (certs, static, temp):
        folder.mkdir(parents=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(certs / "privkey.pem"), "-out", str(certs / "fullchain.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run([sys.executable, "docker/collect_static.py", str(static)], cwd=root,
                   check=True, capture_output=True)  # fmt: skip
    http_port, https_port = free_port(), free_port()
    conf = (root / "docker" / "nginx" / "nginx.conf").read_text()
    temps = "".join(f"    {name}_temp_path {temp}/{name};\n"
                    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))  # fmt: skip
    for old, new in (
        ("/etc/nginx/certs/", f"{certs}/"),
        ("server api:8000;", f"server 127.0.0.1:{api_port};"),
        ("/usr/share/nginx/linshan", str(static)),
        ("pid /tmp/nginx.pid;", f"pid {work}/nginx.pid;"),
        ("access_log /dev/stdout json;", f"access_log {work}/access.log json;"),
        ("listen 80 ", f"listen 127.0.0.1:{http_port} "),
        ("listen 443 ", f"listen 127.0.0.1:{https_port} "),
        ("http {\n", "http {\n" + temps),
    ):
        assert old in conf, old
        conf = conf.replace(old, new)
    (work / "nginx.conf").write_text(conf)
    command = [nginx, "-p", str(work), "-e", str(work / "error.log"), "-c",
               str(work / "nginx.conf"), "-g", f"daemon off; user {getpass.getuser()};"]  # fmt: skip
    # (its workers run as this user: pytest's folders are private)
    return command, http_port, https_port, certs / "fullchain.pem"


def test_nginx_in_front_terminates_tls_limits_bodies_and_serves_the_stylesheet(
    app, served: Served, project_root, tmp_path
) -> None:
    from backend.web.assets import asset_url

    command, http_port, https_port, cert = nginx_in_front(project_root, tmp_path, served.port)
    nginx = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"https://127.0.0.1:{https_port}"
    try:
        for _ in range(100):
            try:
                requests.get(f"{base}/healthz", verify=str(cert), timeout=2)
                break
            except requests.ConnectionError:
                assert nginx.poll() is None, (tmp_path / "error.log").read_text()
                time.sleep(0.1)
        plain = requests.get(f"http://127.0.0.1:{http_port}/p/x?a=1", allow_redirects=False,
                             timeout=5)  # fmt: skip
        assert plain.status_code == 301
        assert plain.headers["Location"] == "https://127.0.0.1/p/x?a=1"

        # A forged X-Forwarded-For is not the client: the address nginx saw is.
        ready = requests.get(f"{base}/readyz", headers={"X-Forwarded-For": "6.6.6.6"},
                             verify=str(cert), timeout=5)  # fmt: skip
        assert ready.status_code == 200
        # One HSTS header, nginx's (the app, seeing https through the proxy, sends its own).
        assert ready.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        request_id = ready.headers["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", request_id)  # nginx's $request_id, kept by the app
        deadline = time.monotonic() + 5
        while not any(line["request_id"] == request_id for line in served.access_lines()):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        line = next(line for line in served.access_lines() if line["request_id"] == request_id)
        assert line["path"] == "/readyz" and line["remote_addr"] == "127.0.0.1"
        assert line["client_addr"] == "127.0.0.1"  # not 6.6.6.6: one proxy is trusted

        # Bodies: 16 KB for WeChat's notifications, 1 MB elsewhere, refused by nginx.
        big_notice = requests.post(f"{base}{NOTIFY_PATH}", data=b"x" * 20_000,
                                   verify=str(cert), timeout=5)  # fmt: skip
        assert big_notice.status_code == 413
        big_json = requests.post(f"{base}/api/v1/donations", data=b"x" * 1_100_000,
                                 verify=str(cert), timeout=10)  # fmt: skip
        assert big_json.status_code == 413
        upload = requests.post(f"{base}/api/v1/uploads", data=b"x" * 2_000_000,
                               verify=str(cert), timeout=10)  # fmt: skip
        assert upload.status_code != 413 and "X-Request-ID" in upload.headers  # reached the app
        order = new_order(app, served.base, "serving_nginx")
        body = to_xml(notification(order["out_trade_no"], order["amount_fen"]))
        paid = requests.post(f"{base}{NOTIFY_PATH}", data=body, verify=str(cert), timeout=5)
        assert "<return_code><![CDATA[SUCCESS]]></return_code>" in paid.text
        assert status_of(app, order["id"]) is DonationStatus.PAID

        # The stylesheet at its current URL comes from nginx; an old version from the app.
        with app.app_context():
            current = asset_url("site.css")
        css = requests.get(f"{base}{current}", verify=str(cert), timeout=5)
        assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
        assert "immutable" in css.headers["Cache-Control"]
        assert "X-Request-ID" not in css.headers  # never reached the app
        old = requests.get(f"{base}/assets/web/000000000000/site.css", verify=str(cert), timeout=5)
        assert old.status_code == 200 and old.headers["Cache-Control"] == "no-cache"
        assert old.content == css.content

        assert requests.get(f"{base}/metrics", verify=str(cert), timeout=5).status_code == 404
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
