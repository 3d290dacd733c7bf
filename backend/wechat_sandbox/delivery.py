"""Deliveries to the merchant or the mini-program's server, each in its own thread.

A job sends one body to one URL: at once (or after an initial delay), then again after
each gap of its retry schedule until an answer is accepted, then any extra copies asked
for. Every attempt is recorded with the answer received, so tests can wait for them.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

log = logging.getLogger("linshan.sandbox")

PENDING = "pending"
SUCCEEDED = "succeeded"
GAVE_UP = "gave_up"
CANCELLED = "cancelled"
SKIPPED = "skipped"
FAILED = "failed"

MAX_RECORDED_ANSWER = 4000
USER_AGENT = "Linshan-WeChat-Sandbox/1"


@dataclass
class Prepared:
    """What a job sends, decided when it is first sent (refunds settle at that moment)."""

    url: str | None
    body: bytes
    content_type: str
    #: Extra headers computed afresh for every attempt (v3 notices are signed per attempt).
    headers: Callable[[bytes], dict[str, str]] | None = None


@dataclass
class Attempt:
    """One HTTP request of a job and the answer it got."""

    number: int
    kind: str  # "attempt" (part of the schedule) or "duplicate" (an extra copy)
    delay_seconds: float
    sent_at: datetime
    elapsed_seconds: float
    status_code: int | None = None
    response: str = ""
    error: str = ""
    answer_ok: bool = False
    ignored: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON shape of the attempt."""
        return {
            "number": self.number,
            "kind": self.kind,
            "delay_seconds": round(self.delay_seconds, 6),
            "sent_at": self.sent_at.isoformat(),
            "elapsed_seconds": round(self.elapsed_seconds, 6),
            "status_code": self.status_code,
            "response": self.response,
            "error": self.error,
            "answer_ok": self.answer_ok,
            "ignored": self.ignored,
        }


@dataclass
class Job:
    """A notification or push to deliver."""

    kind: str  # "payment", "refund" or "media_check"
    prepare: Callable[[], Prepared]
    accepts: Callable[[requests.Response], bool]
    delays: tuple[float, ...] = ()
    initial_delay: float = 0.0
    duplicates: int = 0
    concurrent: bool = False
    ignore_answers: int = 0
    timeout: float = 5.0
    keys: dict[str, str] = field(default_factory=dict)
    id: int = 0
    status: str = PENDING
    error: str = ""
    prepared: Prepared | None = None
    attempts: list[Attempt] = field(default_factory=list)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started: float = field(default_factory=time.monotonic)
    finished_at: datetime | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)

    def matches(self, filters: dict[str, str]) -> bool:
        """Whether every filter (kind or a key such as out_trade_no) holds."""
        for name, value in filters.items():
            have = self.kind if name == "kind" else self.keys.get(name)
            if have != value:
                return False
        return True

    def as_dict(self) -> dict[str, Any]:
        """JSON shape of the job and its attempts."""
        prepared = self.prepared
        return {
            "id": self.id,
            "kind": self.kind,
            **self.keys,
            "url": prepared.url if prepared else None,
            "status": self.status,
            "error": self.error,
            "created_at": self.created_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "body": prepared.body.decode("utf-8", "replace") if prepared else None,
            "attempts": [attempt.as_dict() for attempt in self.attempts],
        }


class DeliveryManager:
    """Runs jobs in daemon threads and keeps their records."""

    def __init__(self) -> None:
        """No jobs yet."""
        self._cond = threading.Condition()
        self._jobs: list[Job] = []
        self._threads: set[threading.Thread] = set()
        self._next_id = 1

    def submit(self, job: Job) -> Job:
        """Record the job and start delivering it."""
        with self._cond:
            job.id = self._next_id
            self._next_id += 1
            self._jobs.append(job)
            thread = threading.Thread(
                target=self._run, args=(job,), name=f"sandbox-delivery-{job.id}", daemon=True
            )
            self._threads.add(thread)
        thread.start()
        return job

    def snapshot(self, filters: dict[str, str]) -> list[dict[str, Any]]:
        """The jobs matching `filters`, oldest first, as JSON-ready dicts."""
        with self._cond:
            return [job.as_dict() for job in self._jobs if job.matches(filters)]

    def wait_idle(self, filters: dict[str, str], timeout: float) -> bool:
        """Wait until no matching job is pending; False on timeout."""

        def idle() -> bool:
            return all(job.status != PENDING for job in self._jobs if job.matches(filters))

        with self._cond:
            return self._cond.wait_for(idle, timeout)

    def cancel_all(self, forget: bool = False) -> None:
        """Stop every pending job; with `forget`, drop all records too."""
        with self._cond:
            for job in self._jobs:
                job.cancelled.set()
            if forget:
                self._jobs = []
            self._cond.notify_all()

    def join(self, timeout: float = 5.0) -> None:
        """Wait for the delivery threads to end (after cancel_all)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _finish(self, job: Job, status: str, error: str = "") -> None:
        """Mark a job done and wake waiters."""
        with self._cond:
            job.status = status
            job.error = error
            job.finished_at = datetime.now(UTC)
            self._cond.notify_all()

    def _run(self, job: Job) -> None:
        """The job's thread: wait, send, retry, copy."""
        try:
            self._deliver(job)
        except Exception as exc:  # a delivery thread must never die noisily
            log.exception("delivery %s (%s) failed", job.id, job.kind)
            self._finish(job, FAILED, repr(exc))
        finally:
            with self._cond:
                self._threads.discard(threading.current_thread())

    def _deliver(self, job: Job) -> None:
        """Send the job per its schedule; see the module docstring."""
        if job.cancelled.wait(job.initial_delay) if job.initial_delay else job.cancelled.is_set():
            self._finish(job, CANCELLED)
            return
        prepared = job.prepare()
        with self._cond:
            job.prepared = prepared
        if not prepared.url:
            self._finish(job, SKIPPED, "no URL to deliver to")
            return
        accepted = False
        for index, gap in enumerate((0.0, *job.delays)):
            if job.cancelled.wait(gap) if gap else job.cancelled.is_set():
                self._finish(job, CANCELLED)
                return
            copies = 1 + job.duplicates if job.concurrent and index == 0 else 1
            results = self._send_round(job, copies, gap, ignored=index < job.ignore_answers)
            if index >= job.ignore_answers and any(results):
                accepted = True
                break
        if accepted and job.duplicates and not job.concurrent:
            for _ in range(job.duplicates):
                if job.cancelled.is_set():
                    break
                self._send(job, "duplicate", 0.0, ignored=False)
        self._finish(job, SUCCEEDED if accepted else GAVE_UP)
        log.info("delivery %s (%s) %s", job.id, job.kind, job.status)

    def _send_round(self, job: Job, copies: int, gap: float, ignored: bool) -> list[bool]:
        """Send one attempt, or several copies at the same moment from several threads."""
        if copies == 1:
            return [self._send(job, "attempt", gap, ignored)]
        barrier = threading.Barrier(copies)
        results: list[bool] = [False] * copies

        def send_copy(slot: int) -> None:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=5)
            kind = "attempt" if slot == 0 else "duplicate"
            results[slot] = self._send(job, kind, gap, ignored)

        threads = [
            threading.Thread(target=send_copy, args=(slot,), daemon=True) for slot in range(copies)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results

    def _send(self, job: Job, kind: str, gap: float, ignored: bool) -> bool:
        """POST the body once; record and judge the answer."""
        prepared = job.prepared
        assert prepared is not None and prepared.url
        with self._cond:
            attempt = Attempt(
                number=len(job.attempts) + 1,
                kind=kind,
                delay_seconds=gap,
                sent_at=datetime.now(UTC),
                elapsed_seconds=time.monotonic() - job.started,
                ignored=ignored,
            )
            job.attempts.append(attempt)
        answer_ok = False
        headers = {"Content-Type": prepared.content_type, "User-Agent": USER_AGENT}
        if prepared.headers is not None:
            headers.update(prepared.headers(prepared.body))
        try:
            response = requests.post(
                prepared.url, data=prepared.body, headers=headers, timeout=job.timeout
            )
        except requests.RequestException as exc:
            status_code, text, error = None, "", f"{type(exc).__name__}: {exc}"
        else:
            status_code, text, error = response.status_code, response.text, ""
            try:
                answer_ok = job.accepts(response)
            except Exception as exc:  # a garbled answer is a failed answer
                error = f"unreadable answer: {exc}"
        with self._cond:
            attempt.status_code = status_code
            attempt.response = text[:MAX_RECORDED_ANSWER]
            attempt.error = error
            attempt.answer_ok = answer_ok
            self._cond.notify_all()
        log.info(
            "delivery %s (%s) %s #%s -> %s %s",
            job.id,
            job.kind,
            kind,
            attempt.number,
            status_code,
            "ok" if answer_ok else (error or "refused"),
        )
        return answer_ok and not ignored
