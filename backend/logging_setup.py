"""Log lines that carry the request id of the request they belong to, one line a record.

Text from outside (an order number, a path, a header, an exception's message) reaches the
log through messages and their arguments. `OneLineFormatter` escapes every control
character (CR and LF included) and the other characters viewers take as line breaks or
reordering (U+0085, U+2028, U+2029, bidi controls) in the record's line, so such text can
never start a line of its own. A traceback stays readable on the lines below the record,
but each of its lines starts with `CONTINUATION` (and has its control characters but the
line break escaped): an exception's message may still hold a line break, yet no line of
it can look like the start of a record, which always begins with the timestamp.

`LOG_FORMAT=json` (production's default) writes one JSON object a line instead:
`{"time", "level", "logger", "message", "request_id", "job"?, "exception"?, "stack"?}`,
time in ISO 8601 UTC. `JsonFormatter` keeps the same guarantee: JSON escapes line breaks
inside strings, and every other character `OneLineFormatter` escapes is written as a
`\\uXXXX` escape, so no value can end the line or forge an object of its own. Inside a
worker job (`job_logging`) every record also carries the job's name.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from flask import Flask, Response, g, has_request_context, request

from backend.common.text import CONTROL_CHARACTERS

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
LOG_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"
#: how each line of a traceback (or stack) below a record starts
CONTINUATION = "  | "
#: loggers, besides the root, whose handlers write lines of their own (gunicorn's)
OTHER_LOGGERS = ("gunicorn.error", "gunicorn.access")
#: LOG_FORMAT values
FORMATS = ("json", "text")
#: the worker job running in this context (its name), for every record it logs
current_job: ContextVar[str | None] = ContextVar("linshan_job", default=None)

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """`text` with control and line-breaking characters as escapes (\\n, \\x1b, \\u2028)."""
    return CONTROL_CHARACTERS.sub(_escape, text)


def _continuation(text: str) -> str:
    """A traceback's or stack's lines, each prefixed and escaped (line breaks kept)."""
    lines = text.rstrip("\n").split("\n")
    return "\n".join(CONTINUATION + escape_controls(line) for line in lines)


class OneLineFormatter(logging.Formatter):
    """Formats through another formatter, one record to one line (see the module's doc).

    The record's line is escaped field by field on a copy (the message with its arguments
    applied, and every other text field, extras included); the original record is left as
    it is for other handlers.
    """

    def __init__(self, inner: logging.Formatter | None = None) -> None:
        super().__init__(LOG_FORMAT)
        self.inner = inner if inner is not None else logging.Formatter(LOG_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        """The record as one escaped line, a traceback as prefixed lines below it."""
        safe = copy.copy(record)
        for name, value in vars(record).items():
            if isinstance(value, str) and name not in ("exc_text", "stack_info"):
                setattr(safe, name, escape_controls(value))
        safe.msg = escape_controls(record.getMessage())
        safe.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self.inner.formatException(record.exc_info)  # cached, as usual
        safe.exc_text = _continuation(record.exc_text) if record.exc_text else None
        safe.stack_info = _continuation(record.stack_info) if record.stack_info else None
        return self.inner.format(safe)


def one_line(handler: logging.Handler) -> None:
    """Make `handler` format through `OneLineFormatter` (once; its own formatter inside)."""
    if not isinstance(handler.formatter, (OneLineFormatter, JsonFormatter)):
        handler.setFormatter(OneLineFormatter(handler.formatter or logging.Formatter()))


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


class JsonFormatter(logging.Formatter):
    """One record to one JSON object on one line (see the module's doc)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON object; the traceback, if any, in `exception`."""
        request_id = getattr(record, "request_id", "-")
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": None if request_id == "-" else request_id,
        }
        job = getattr(record, "job", None)
        if job:
            data["job"] = job
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)  # cached, as usual
        if record.exc_text:
            data["exception"] = record.exc_text
        if record.stack_info:
            data["stack"] = record.stack_info
        line = json.dumps(data, ensure_ascii=False, default=str)
        # json.dumps escapes C0 controls; the rest of them (DEL, C1, U+2028, bidi ...)
        # only ever stand inside strings here, where a \uXXXX escape means the same.
        return CONTROL_CHARACTERS.sub(_json_escape, line)


def _line_formatter(log_format: str) -> logging.Formatter:
    """The formatter of the app's handler for a LOG_FORMAT value."""
    if log_format == "json":
        return JsonFormatter()
    return OneLineFormatter(logging.Formatter(LOG_FORMAT))


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record ("-" outside a request), and `job` inside a job."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = (
                g.get("request_id", "-") if has_request_context() else "-"  # type: ignore[attr-defined]
            )
        if not hasattr(record, "job"):
            record.job = current_job.get()
        return True


@contextmanager
def job_logging(name: str) -> Iterator[None]:
    """Every record logged inside carries `job` = `name` (the worker's periodic jobs)."""
    token = current_job.set(name)
    try:
        yield
    finally:
        current_job.reset(token)


def configure_logging(level: str, log_format: str = "text") -> None:
    """Send the app's logs to stderr in one format (`json` or `text`); safe to call more
    than once (the last call's level and format hold)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if getattr(handler, "linshan", False):
            handler.setLevel(level)
            break
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.linshan = True  # type: ignore[attr-defined]
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    if getattr(handler, "linshan_format", None) != log_format:
        handler.setFormatter(_line_formatter(log_format))
        handler.linshan_format = log_format  # type: ignore[attr-defined]
    # Handlers other code installs (pytest's capture, gunicorn's) get the field too, and
    # every handler writing lines escapes what it writes.
    for other in root.handlers:
        if not any(isinstance(f, RequestIdFilter) for f in other.filters):
            other.addFilter(RequestIdFilter())
        one_line(other)
    for name in OTHER_LOGGERS:
        for other in logging.getLogger(name).handlers:
            if log_format == "json" and name == "gunicorn.error":
                # gunicorn's own messages as JSON lines like ours (its access log has the
                # format gunicorn.conf.py gives it, escaped to one line)
                if not any(isinstance(f, RequestIdFilter) for f in other.filters):
                    other.addFilter(RequestIdFilter())
                other.setFormatter(JsonFormatter())
            else:
                one_line(other)
    root.setLevel(level)
    logging.getLogger("linshan").setLevel(level)


def init_request_logging(app: Flask) -> None:
    """Give each request an id (the caller's `X-Request-ID` if well formed) and log it."""
    access = logging.getLogger("linshan.access")

    @app.before_request
    def _start() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers["X-Request-ID"] = request_id
            elapsed_ms = (time.perf_counter() - g.request_started) * 1000
            # The path is decoded (%0a is a line break): escaped here too, whatever handler.
            access.info(
                "%s %s %s %.1fms",
                escape_controls(request.method),
                escape_controls(request.path),
                response.status_code,
                elapsed_ms,
            )
        return response
