"""Public web pages (`/p/…`): server-rendered Chinese pages for people without WeChat, with
the same figures as the API. A web layer, like `backend.api`: no domain package imports it."""

from __future__ import annotations

from flask import Flask


def init_web(app: Flask) -> None:
    """Register the pages, their static file and their HTML 404 (JSON stays elsewhere)."""
    from backend.web.assets import assets
    from backend.web.pages import not_found_page, web

    app.register_blueprint(web)
    app.register_blueprint(assets)
    app.register_error_handler(404, not_found_page)
