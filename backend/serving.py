"""Serving under gunicorn: a thread worker that slow clients cannot starve, JSON access logs.

gunicorn's `gthread` worker hands a connection to a thread as soon as it is accepted (the
thread waits up to 5 s for a first byte) and as soon as any bytes arrive: a client that
sends half its headers and stops then holds a thread for as long as it likes, and eight
such clients hold every thread of a 2 × 4 deployment, so WeChat's payment notifications
wait behind them. `BufferingThreadWorker` reads what a connection sends in the worker's
event loop, without a thread, until the request's headers are complete (and its body too,
when it is small and of a declared length), and only then gives it to a thread, which
finds the whole request already read. Connections that stay incomplete are closed after
`GUNICORN_HEADER_TIMEOUT` seconds. Large bodies (uploads) still stream in a thread: nginx
buffers them in front (`proxy_request_buffering on`), so the app only sees them complete.

`JsonAccessLogger` writes one JSON object per request: time, method, path (never the
query string, which may carry signatures), status, duration, bytes, addresses and the
request id the app set on the response.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import selectors
import socket
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from gunicorn.glogging import Logger
from gunicorn.workers.gthread import TConn, ThreadWorker

#: seconds a connection may take to send a whole request head (and small body)
DEFAULT_HEADER_TIMEOUT = 10.0
#: bodies of a declared length up to this are read before a thread is involved
BODY_BUFFER_BYTES = 64 * 1024
#: read size of one non-blocking receive
CHUNK = 64 * 1024
_END_OF_HEAD = re.compile(rb"\r?\n\r?\n")
_CONTENT_LENGTH = re.compile(rb"^content-length:[ \t]*(\d{1,12})[ \t]*\r?$", re.I | re.M)
_CHUNKED_OR_EXPECT = re.compile(rb"^(?:transfer-encoding|expect):", re.I | re.M)


def header_timeout(environ: dict[str, str] | None = None) -> float:
    """`GUNICORN_HEADER_TIMEOUT` in seconds (default 10)."""
    raw = (environ if environ is not None else os.environ).get("GUNICORN_HEADER_TIMEOUT", "")
    try:
        value = float(raw) if raw.strip() else DEFAULT_HEADER_TIMEOUT
    except ValueError:
        value = DEFAULT_HEADER_TIMEOUT
    return value if value > 0 else DEFAULT_HEADER_TIMEOUT


def request_complete(data: bytes, head_limit: int) -> bool:
    """Whether `data` holds enough of a request to hand it to a thread without waiting.

    That is: the head is complete and either has no body of a declared small length, or
    that body is all there; or the head has grown past `head_limit` (the parser refuses it).
    """
    end = _END_OF_HEAD.search(data)
    if end is None:
        return len(data) > head_limit
    head = data[: end.start()]
    if _CHUNKED_OR_EXPECT.search(head):
        return True  # chunked bodies and 100-continue are read by the thread, as usual
    lengths = _CONTENT_LENGTH.findall(head)
    if len(lengths) != 1:
        return True  # no body, or a malformed head the parser will refuse
    length = int(lengths[0])
    if length > BODY_BUFFER_BYTES:
        return True
    return len(data) - end.end() >= length


class BufferingThreadWorker(ThreadWorker):
    """`gthread`, except that a thread gets a connection only once its request is in."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: connections whose request is still arriving, oldest deadline first
        self.reading: deque[TConn] = deque()
        self.header_timeout = header_timeout()
        cfg = self.cfg
        self.head_limit = (
            cfg.limit_request_line + cfg.limit_request_fields * (cfg.limit_request_field_size + 2)
        ) or 1024 * 1024

    def accept(self, listener: socket.socket) -> None:
        """Accept a connection and wait in the event loop for its request."""
        if self.cfg.is_ssl:  # TLS must be negotiated by a thread: gthread's own path
            super().accept(listener)
            return
        try:
            client_sock, client_addr = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, client_sock, client_addr, listener.getsockname())  # non-blocking
        self._start_reading(conn)

    def on_client_socket_readable(self, conn: TConn, client: socket.socket) -> None:
        """A kept-alive connection sends its next request: read it in the loop, too."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        if self.cfg.is_ssl:
            self.enqueue_req(conn)
            return
        self._start_reading(conn)
        self._on_readable(conn, client)

    def _start_reading(self, conn: TConn) -> None:
        conn.head = bytearray()  # type: ignore[attr-defined]
        conn.timeout = time.monotonic() + self.header_timeout
        self.reading.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))

    def _stop_reading(self, conn: TConn) -> None:
        self.reading.remove(conn)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)

    def _on_readable(self, conn: TConn, client: socket.socket) -> None:
        """Take what arrived; hand the connection to a thread once the request is in."""
        try:
            data = conn.sock.recv(CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # closed before a whole request: nothing to answer
            self._stop_reading(conn)
            self.nr_conns -= 1
            conn.close()
            return
        conn.head += data  # type: ignore[attr-defined]
        if request_complete(bytes(conn.head), self.head_limit):  # type: ignore[attr-defined]
            self._stop_reading(conn)
            conn.data_ready = True
            self.enqueue_req(conn)

    def murder_pending(self) -> None:
        """Close connections whose request did not arrive in time (all, when stopping)."""
        super().murder_pending()
        now = time.monotonic()
        while self.reading and (not self.alive or self.reading[0].timeout <= now):
            conn = self.reading[0]
            self._stop_reading(conn)
            self.nr_conns -= 1
            conn.close()

    def handle(self, conn: TConn) -> Any:
        """Serve the request from what the event loop already read, then as gthread does."""
        head = getattr(conn, "head", None)
        if head:
            conn.sock.setblocking(True)
            conn.init()
            conn.parser.unreader.unread(bytes(head))
            head.clear()
        return super().handle(conn)


def client_address(environ: dict[str, Any], trusted_proxies: int) -> str | None:
    """The client's address as the trusted proxies saw it (ProxyFix's rule), else the peer's."""
    if trusted_proxies <= 0:
        return environ.get("REMOTE_ADDR")
    hops = [h.strip() for h in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    if len(hops) < trusted_proxies:
        return environ.get("REMOTE_ADDR")
    return hops[-trusted_proxies]


def access_record(
    resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta, trusted_proxies: int
) -> dict[str, Any]:
    """The fields of one access log line."""
    status = resp.status
    code = int(str(status).split(None, 1)[0]) if status else None
    request_id = next(
        (value for name, value in resp.headers if name.lower() == "x-request-id"), None
    )
    return {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "type": "access",
        "method": environ.get("REQUEST_METHOD"),
        # The path only: query strings carry signatures and codes that a log must not keep.
        "path": environ.get("RAW_URI", "").split("?", 1)[0] or environ.get("PATH_INFO"),
        "status": code,
        "duration_ms": round(request_time.total_seconds() * 1000, 1),
        "bytes": getattr(resp, "sent", None),
        "remote_addr": environ.get("REMOTE_ADDR"),
        "client_addr": client_address(environ, trusted_proxies),
        "request_id": request_id,
        "pid": os.getpid(),
    }


class JsonAccessLogger(Logger):
    """gunicorn's logger, with an access log of one JSON object per line."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        """Write the request's JSON line (ASCII only: nothing in it can break the line)."""
        if not self.access_log_enabled:
            return
        try:
            proxies = int(os.environ.get("TRUSTED_PROXY_COUNT", "0") or 0)
        except ValueError:
            proxies = 0
        try:
            record = access_record(resp, req, environ, request_time, proxies)
            self.access_log.info("%s", json.dumps(record, ensure_ascii=True))
        except Exception:
            self.exception("access log line failed")
