"""HTTP API: flask-smorest blueprints that parse, call a service and serialise."""

from __future__ import annotations

from flask_smorest import Api


def register_blueprints(api: Api) -> None:
    """Register every blueprint of the v1 API."""
    from backend.api import funds, needs, regions, spaces, stats

    for module in (regions, needs, funds, spaces, stats):
        api.register_blueprint(module.blp, url_prefix="/api/v1")
