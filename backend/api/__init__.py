"""HTTP API: flask-smorest blueprints that parse, call a service and serialise."""

from __future__ import annotations

from flask_smorest import Api


def register_blueprints(api: Api) -> None:
    """Register every blueprint of the v1 API."""
    from backend.api import (
        backoffice,
        donations,
        funds,
        identity,
        ledger,
        need_admin,
        needs,
        payments,
        regions,
        spaces,
        stats,
        uploads,
        wechat_events,
    )
    from backend.auth import SECURITY_SCHEME

    api.spec.components.security_scheme("bearerAuth", SECURITY_SCHEME)
    for module in (
        identity,
        regions,
        needs,
        funds,
        ledger,
        spaces,
        stats,
        backoffice,
        need_admin,
        donations,
        payments,
        uploads,
        wechat_events,
    ):
        api.register_blueprint(module.blp, url_prefix="/api/v1")
