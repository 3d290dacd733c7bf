"""One commit per request, at the boundary: services flush, this commits or rolls back."""

from __future__ import annotations

from flask import Flask, Response

from backend.extensions import db


def init_transaction_boundary(app: Flask) -> None:
    """Commit after a successful response; roll back after an error or an exception."""

    @app.after_request
    def _commit_or_roll_back(response: Response) -> Response:
        if response.status_code < 400:
            db.session.commit()
        else:
            db.session.rollback()
        return response

    @app.teardown_request
    def _roll_back_on_exception(exc: BaseException | None) -> None:
        if exc is not None:
            db.session.rollback()
