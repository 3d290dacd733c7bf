"""HTTP API: flask-smorest blueprints that parse, call a service and serialise."""

from __future__ import annotations

from flask_smorest import Api


def register_blueprints(api: Api, *, sandbox: bool = False) -> None:
    """Register every blueprint of the v1 API; with `sandbox` (development on the WeChat
    sandbox, never production) also the development-only calls of `api.dev`."""
    from backend.api import (
        backoffice,
        certificates,
        disclosures,
        donations,
        funds,
        identity,
        journal,
        ledger,
        need_admin,
        needs,
        payments,
        reconciliation,
        refunds,
        regions,
        space_codes,
        spaces,
        spending,
        stats,
        subscriptions,
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
        journal,
        spaces,
        space_codes,
        stats,
        backoffice,
        disclosures,
        need_admin,
        spending,
        donations,
        certificates,
        refunds,
        reconciliation,
        subscriptions,
        payments,
        uploads,
        wechat_events,
    ):
        api.register_blueprint(module.blp, url_prefix="/api/v1")
    if sandbox:
        from backend.api import dev

        api.register_blueprint(dev.blp, url_prefix="/api/v1")
