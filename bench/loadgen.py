"""A small HTTP/1.1 load generator: raw non-blocking sockets, one `selectors` loop per process.

Requests are prepared as bytes beforehand, so a request costs the generator a `send`, a
`recv` and a few slices: far less than `http.client` or `requests`. Each connection keeps
one request in flight (a "sender"); a response with `Connection: close` (gunicorn's sync
workers) is followed by a new connection for the next request, as a real client would.

Two modes:
- `run_for`: the same request again and again for a fixed time (reads per second);
- `run_items`: a list of distinct requests, each sent once, in order, by whichever sender is
  free (notifications); optionally stopped after a time limit.

Every completed request is recorded as (tag, start, end, ok), times from `time.perf_counter`
(the same clock in every process of this machine), so the caller can cut a measurement
window and compute throughput and percentiles.
"""

from __future__ import annotations

import contextlib
import errno
import multiprocessing
import selectors
import socket
import threading
import time
from array import array
from collections import deque
from dataclasses import dataclass, field

RECV_BYTES = 65536
REQUEST_TIMEOUT = 30.0


@dataclass
class Record:
    """What the generator's processes recorded, merged."""

    tags: array = field(default_factory=lambda: array("l"))
    starts: array = field(default_factory=lambda: array("d"))
    ends: array = field(default_factory=lambda: array("d"))
    oks: array = field(default_factory=lambda: array("b"))
    errors: int = 0
    unsent: int = 0
    first_error: str = ""

    def extend(self, other: Record) -> None:
        self.tags.extend(other.tags)
        self.starts.extend(other.starts)
        self.ends.extend(other.ends)
        self.oks.extend(other.oks)
        self.errors += other.errors
        self.unsent += other.unsent
        self.first_error = self.first_error or other.first_error

    def __len__(self) -> int:
        return len(self.ends)


class _Conn:
    __slots__ = ("buf", "item", "out", "sock", "started", "state")

    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.state = "idle"
        self.out = b""
        self.buf = bytearray()
        self.item: tuple[int, bytes] | None = None
        self.started = 0.0


def _parse(buf: bytearray) -> tuple[int, int, bool] | None:
    """(status, total length, server closes) once the whole response is in `buf`."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buf[:end]).lower()
    status = int(head[9:12])
    closes = b"\r\nconnection: close" in head
    at = head.find(b"\r\ncontent-length:")
    if at < 0 and status in (204, 304):
        return (status, end + 4, closes)  # no body, by definition (WeChat Pay v3's 204)
    if at < 0:
        # No length: the body ends when the server closes (not expected from gunicorn).
        return (status, -1, True)
    stop = head.find(b"\r\n", at + 2)
    length = int(head[at + 17 : stop if stop > 0 else None])
    total = end + 4 + length
    if len(buf) < total:
        return None
    return (status, total, closes)


def _loop(
    host: str,
    port: int,
    connections: int,
    next_item,
    stop_at: float,
    expect: bytes | None,
    counter=None,
    slot: int = 0,
) -> Record:
    """Drive `connections` senders until `next_item()` returns None or `stop_at` passes."""
    sel = selectors.DefaultSelector()
    rec = Record()
    conns = [_Conn() for _ in range(connections)]
    active = 0

    def connect(c: _Conn) -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        code = s.connect_ex((host, port))
        if code not in (0, errno.EINPROGRESS):
            s.close()
            raise OSError(code, errno.errorcode.get(code, "connect failed"))
        c.sock = s
        c.state = "connecting"
        sel.register(s, selectors.EVENT_WRITE, c)

    def drop(c: _Conn) -> None:
        if c.sock is not None:
            with contextlib.suppress(KeyError, ValueError):
                sel.unregister(c.sock)
            c.sock.close()
            c.sock = None

    def start(c: _Conn) -> bool:
        nonlocal active
        if time.perf_counter() >= stop_at:
            return False
        item = next_item()
        if item is None:
            return False
        c.item = item
        c.out = item[1]
        c.buf = bytearray()
        c.started = time.perf_counter()
        active += 1
        if c.sock is None:
            try:
                connect(c)
            except OSError as exc:
                active -= 1
                rec.errors += 1
                rec.first_error = rec.first_error or f"connect: {exc}"
                rec.tags.append(item[0])
                rec.starts.append(c.started)
                rec.ends.append(time.perf_counter())
                rec.oks.append(0)
                c.item = None
                return False
        else:
            c.state = "sending"
            sel.modify(c.sock, selectors.EVENT_WRITE, c)
        return True

    def fail(c: _Conn, why: str) -> None:
        nonlocal active
        rec.errors += 1
        rec.first_error = rec.first_error or why
        drop(c)
        active -= 1
        c.state = "idle"
        if c.item is not None:
            rec.tags.append(c.item[0])
            rec.starts.append(c.started)
            rec.ends.append(time.perf_counter())
            rec.oks.append(0)
        c.item = None
        start(c)

    for c in conns:
        if not start(c):
            break
    while active:
        events = sel.select(timeout=1.0)
        now = time.perf_counter()
        if not events:
            for c in conns:
                if c.item is not None and now - c.started > REQUEST_TIMEOUT:
                    fail(c, "timeout")
            continue
        for key, mask in events:
            c: _Conn = key.data
            s = c.sock
            if s is None:
                continue
            if c.state == "connecting":
                code = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    fail(c, f"connect: {errno.errorcode.get(code, code)}")
                    continue
                c.state = "sending"
            if c.state == "sending" and mask & selectors.EVENT_WRITE:
                try:
                    sent = s.send(c.out)
                except OSError as exc:
                    fail(c, f"send: {exc}")
                    continue
                c.out = c.out[sent:]
                if not c.out:
                    c.state = "reading"
                    sel.modify(s, selectors.EVENT_READ, c)
                continue
            if c.state == "reading" and mask & selectors.EVENT_READ:
                try:
                    chunk = s.recv(RECV_BYTES)
                except OSError as exc:
                    fail(c, f"recv: {exc}")
                    continue
                if chunk:
                    c.buf += chunk
                parsed = _parse(c.buf)
                if parsed is None and chunk:
                    continue
                if parsed is None:
                    fail(c, "closed before the response")
                    continue
                status, total, closes = parsed
                if total < 0:
                    if chunk:
                        continue  # read to EOF
                    total = len(c.buf)
                end = time.perf_counter()
                body = bytes(c.buf[:total])
                ok = status == 200 and (expect is None or expect in body)
                ok = ok or (status == 204 and expect is None)  # v3's "handled"
                if not ok:
                    rec.first_error = rec.first_error or body[:300].decode("utf-8", "replace")
                assert c.item is not None
                rec.tags.append(c.item[0])
                rec.starts.append(c.started)
                rec.ends.append(end)
                rec.oks.append(1 if ok else 0)
                if counter is not None:
                    counter[slot] += 1
                c.item = None
                active -= 1
                if closes or not chunk:
                    drop(c)
                c.state = "idle"
                start(c)
    for c in conns:
        drop(c)
    sel.close()
    return rec


def _fixed_worker(host, port, connections, request, start_at, stop_at, counter, slot, pipe):
    while time.perf_counter() < start_at:
        time.sleep(0.001)
    rec = _loop(host, port, connections, lambda: (0, request), stop_at, None, counter, slot)
    pipe.send(rec)
    pipe.close()


def _items_worker(host, port, connections, items, start_at, stop_at, expect, counter, slot, pipe):
    queue = deque(items)
    while time.perf_counter() < start_at:
        time.sleep(0.001)
    rec = _loop(
        host, port, connections, lambda: queue.popleft() if queue else None, stop_at, expect,
        counter, slot,
    )  # fmt: skip
    rec.unsent = len(queue)
    pipe.send(rec)
    pipe.close()


def _run(target, args_per_process, label: str, total: int | None, seconds: float | None):
    ctx = multiprocessing.get_context("fork")
    counter = ctx.RawArray("q", len(args_per_process))
    procs, pipes = [], []
    for slot, args in enumerate(args_per_process):
        mine, theirs = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=target, args=(*args, counter, slot, theirs), daemon=True)
        proc.start()
        theirs.close()
        procs.append(proc)
        pipes.append(mine)
    done = threading.Event()
    ticker = threading.Thread(
        target=_tick, args=(label, counter, total, seconds, done), daemon=True
    )
    ticker.start()
    merged = Record()
    try:
        for pipe in pipes:
            merged.extend(pipe.recv())
        for proc in procs:
            proc.join()
    finally:
        done.set()
        ticker.join()
    return merged


def _tick(label, counter, total, seconds, done) -> None:
    """Show progress: requests done of `total`, or seconds of `seconds`."""
    from bench.data import Bar

    started = time.perf_counter()
    bar = Bar(label, total if total else int(seconds or 1), "" if total else " s")
    while not done.wait(0.25):
        if total:
            bar.set(sum(counter))
        else:
            bar.set(min(int(seconds or 1), int(time.perf_counter() - started)))
    bar.set(sum(counter) if total else int(seconds or 1))
    bar.close()


def get_request(host: str, port: int, path: str, headers: dict[str, str] | None = None) -> bytes:
    """A keep-alive GET (with `headers`, e.g. Authorization)."""
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    return f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: */*\r\n{extra}\r\n".encode()


def post_request(host: str, port: int, path: str, body: bytes, content_type: str) -> bytes:
    """A keep-alive POST with `body`."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def run_for(
    host: str,
    port: int,
    request: bytes,
    seconds: float,
    connections: int,
    processes: int,
    label: str = "",
) -> tuple[Record, float, float]:
    """Send `request` for `seconds` from `connections` senders; (record, start, stop)."""
    start_at = time.perf_counter() + 0.3
    stop_at = start_at + seconds
    per = _split(connections, processes)
    rec = _run(
        _fixed_worker,
        [(host, port, n, request, start_at, stop_at) for n in per if n > 0],
        label,
        None,
        seconds,
    )
    return rec, start_at, stop_at


def run_items(
    host: str,
    port: int,
    items: list[tuple[int, bytes]],
    connections: int,
    processes: int,
    seconds: float | None = None,
    expect: bytes | None = None,
    label: str = "",
) -> tuple[Record, float]:
    """Send every item once (tag, request bytes), in order; (record, start)."""
    start_at = time.perf_counter() + 0.3
    stop_at = start_at + seconds if seconds else float("inf")
    per = _split(connections, processes)
    # Deal the items out round-robin so each process keeps the overall order.
    shares = [items[i :: len(per)] for i in range(len(per))]
    rec = _run(
        _items_worker,
        [
            (host, port, n, share, start_at, stop_at, expect)
            for n, share in zip(per, shares, strict=True)
            if n > 0
        ],
        label,
        len(items),
        None,
    )
    return rec, start_at


def _split(total: int, parts: int) -> list[int]:
    parts = max(1, min(parts, total))
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]
