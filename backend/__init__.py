"""邻善 Linshan: community charity funds, donations through WeChat Pay, open ledgers."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from backend.config import ConfigError, Settings, development_secret_key

log = logging.getLogger("linshan")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def instance_path_from_env(environ: Mapping[str, str]) -> Path:
    """The instance folder: `INSTANCE_PATH`, or `instance/` beside the package."""
    return Path(environ.get("INSTANCE_PATH") or PROJECT_ROOT / "instance").resolve()


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. `config` overrides Flask settings; its `ENVIRON` replaces os.environ."""
    config = dict(config or {})
    environ: Mapping[str, str] = config.pop("ENVIRON", os.environ)
    try:
        settings = Settings.from_env(environ)
    except ConfigError as exc:
        # One line for the operator, no traceback; exit code 3 makes gunicorn halt, not respawn.
        print(f"linshan: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(3) from None
    return build_app(settings, config, instance_path_from_env(environ))


def build_app(settings: Settings, overrides: Mapping[str, Any], instance_path: Path) -> Flask:
    """Wire a Flask app for already validated settings."""
    from backend import embedded, models  # noqa: F401 - every model registered on the metadata
    from backend.api.base import BigIdConverter, IdConverter, LinshanApi, id_param_schema
    from backend.db_pool import ping_idle_connections
    from backend.donations.totals import DonationTotals
    from backend.errors import register_error_handlers
    from backend.extensions import db, migrate
    from backend.logging_setup import configure_logging, init_request_logging
    from backend.payments.wechat_pay import init_payments
    from backend.progress import service as progress
    from backend.progress.versions import install_versions
    from backend.redis_client import init_redis
    from backend.uploads.storage import init_uploads
    from backend.wechat.client import init_wechat

    configure_logging(settings.log_level, settings.observe.log_format)
    app = Flask(__name__, instance_path=str(instance_path))
    app.json.sort_keys = False  # type: ignore[attr-defined] - keep the schemas' field order
    database_url = settings.database_url or embedded.ensure_postgres(instance_path)
    redis_url = settings.redis_url or embedded.ensure_redis(instance_path)
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.secret_key or development_secret_key(instance_path),
        SQLALCHEMY_DATABASE_URI=database_url,
        # Connections idle for a while are pinged before use (see db_pool); busy ones are not.
        SQLALCHEMY_ENGINE_OPTIONS={"pool_recycle": 1800},
        REDIS_URL=redis_url,
        MAX_CONTENT_LENGTH=12 * 1024 * 1024,
        API_TITLE="邻善 Linshan API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        # Served by the app itself (swagger-ui-bundle), so /api/docs works offline too.
        OPENAPI_SWAGGER_UI_URL="/api/docs-assets/",
    )
    app.config.update(overrides)
    if settings.trusted_proxy_count:
        # request.remote_addr becomes the client's address as the trusted proxies saw it.
        n = settings.trusted_proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    db.init_app(app)
    with app.app_context():
        ping_idle_connections(db.engine)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), compare_type=True)
    init_redis(app, redis_url)
    init_wechat(app)
    init_payments(app)
    init_uploads(app)
    init_request_logging(app)
    from backend.limits import init_limits
    from backend.metrics import init_metrics

    init_metrics(app)  # request latency by endpoint; /metrics (docs/observability.md)
    register_error_handlers(app)
    init_limits(app)  # body size, per-caller rate, the pages' security headers
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["bigid"] = BigIdConverter
    api = LinshanApi(app)
    api.register_converter(IdConverter, id_param_schema)
    api.register_converter(BigIdConverter, id_param_schema)
    progress.use_source(app, DonationTotals())
    from backend.api.public_cache import PUBLIC_TABLES

    install_versions(app, PUBLIC_TABLES)  # what keeps the public answers' copies current
    from backend.api import register_blueprints
    from backend.api.uploads import media
    from backend.boundary import init_transaction_boundary
    from backend.cli import register_commands
    from backend.ops import docs_assets, ops

    # /api/v1/dev/*: only where the sandbox plays WeChat (development); 404 in production
    register_blueprints(api, sandbox=settings.uses_sandbox and not settings.production)
    app.register_blueprint(ops)
    app.register_blueprint(media)
    app.register_blueprint(docs_assets)
    from backend.web import init_web

    init_web(app)  # the public web pages (/p/…) and their HTML 404
    init_transaction_boundary(app)
    register_commands(app)

    for warning in settings.warnings:
        log.warning(warning)
    if settings.database_url is None:
        log.warning("no DATABASE_URL: using the embedded PostgreSQL under %s", instance_path)
    if settings.redis_url is None:
        log.warning("no REDIS_URL: using the embedded Redis at %s", redis_url)
    return app
