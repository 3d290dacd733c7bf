"""One commit per request, at the boundary: services flush, this commits or rolls back.

Effects outside the database (Redis counters) are registered with `after_commit` and run
only once the request's transaction has committed; if they fail, the worker repairs them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, Response, g, request

from backend.common.origin import Origin, reset_origin, set_origin
from backend.extensions import db

log = logging.getLogger(__name__)


def after_commit(callback: Callable[[], None]) -> None:
    """Run `callback` after this request's commit (never if it rolls back)."""
    g.setdefault("after_commit", []).append(callback)


def run_after_commit() -> None:
    """Run the callbacks registered for the committed transaction, each in its own."""
    for callback in g.pop("after_commit", []):
        try:
            callback()
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("after-commit step failed; the worker will repair it")


def _in_transaction() -> bool:
    """Whether this request's session exists and began a transaction (an added object
    begins one too): a request that never touched the database has none to end."""
    return db.session.registry.has() and db.session().in_transaction()


def init_transaction_boundary(app: Flask) -> None:
    """Commit after a successful response; roll back after an error or an exception."""

    @app.before_request
    def _note_origin() -> None:
        # The audit log's address and request id, without the domain reading the request.
        g.origin_token = set_origin(Origin(request.remote_addr, g.get("request_id")))

    @app.after_request
    def _commit_or_roll_back(response: Response) -> Response:
        # A progress read served from Redis or /healthz never begins a transaction: ending
        # an empty one costs tens of microseconds on the hottest path.
        if response.status_code < 400 or g.get("commit_despite_status"):
            if _in_transaction():
                db.session.commit()
            run_after_commit()
        else:
            if _in_transaction():
                db.session.rollback()
            g.pop("after_commit", None)
        return response

    @app.teardown_request
    def _roll_back_on_exception(exc: BaseException | None) -> None:
        if exc is not None:
            db.session.rollback()
        token = g.pop("origin_token", None)
        if token is not None:
            reset_origin(token)
