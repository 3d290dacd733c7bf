"""Log lines that carry the request id of the request they belong to."""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid

from flask import Flask, Response, g, has_request_context, request

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
LOG_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record ("-" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = (
                g.get("request_id", "-") if has_request_context() else "-"  # type: ignore[attr-defined]
            )
        return True


def configure_logging(level: str) -> None:
    """Send the app's logs to stderr in one format; safe to call more than once."""
    root = logging.getLogger()
    for handler in root.handlers:
        if getattr(handler, "linshan", False):
            handler.setLevel(level)
            break
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.linshan = True  # type: ignore[attr-defined]
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    # Handlers other code installs (pytest's capture, gunicorn's) get the field too.
    for other in root.handlers:
        if not any(isinstance(f, RequestIdFilter) for f in other.filters):
            other.addFilter(RequestIdFilter())
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
            access.info(
                "%s %s %s %.1fms", request.method, request.path, response.status_code, elapsed_ms
            )
        return response
