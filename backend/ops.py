"""Operations endpoints: liveness and readiness."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
import swagger_ui_bundle
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from flask_migrate import Migrate

from backend.extensions import db
from backend.redis_client import get_redis

log = logging.getLogger(__name__)
ops = Blueprint("ops", __name__)
# Swagger UI's files, from the swagger-ui-bundle package, for the docs page at /api/docs.
docs_assets = Blueprint(
    "docs_assets",
    __name__,
    static_folder=swagger_ui_bundle.swagger_ui_path,
    static_url_path="/api/docs-assets",
)


@ops.get("/healthz")
def healthz() -> ResponseReturnValue:
    """The process is alive (no dependency checked)."""
    return jsonify(status="ok")


def migration_heads() -> set[str]:
    """The head revisions of the migration scripts."""
    migrate: Migrate = current_app.extensions["migrate"].migrate
    config = migrate.get_config()
    return set(ScriptDirectory.from_config(config).get_heads())


@ops.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Database reachable and migrated to head, Redis reachable; 503 with the reason otherwise."""
    checks: dict[str, Any] = {}
    problems: list[str] = []
    try:
        applied = set(db.session.scalars(sa.text("SELECT version_num FROM alembic_version")))
        checks["database"] = "ok"
        heads = migration_heads()
        if applied == heads:
            checks["migrations"] = "ok"
        else:
            checks["migrations"] = "behind"
            problems.append("数据库迁移未到最新版本，请运行 flask --app backend db upgrade")
    except sa.exc.ProgrammingError:
        checks["database"] = "ok"
        checks["migrations"] = "missing"
        problems.append("数据库尚未初始化，请运行 flask --app backend db upgrade")
    except sa.exc.SQLAlchemyError as exc:
        log.warning("readiness: database unavailable: %s", exc.__class__.__name__)
        checks["database"] = "unavailable"
        problems.append("数据库不可用")
    finally:
        db.session.rollback()
    try:
        get_redis().ping()
        checks["redis"] = "ok"
    except Exception as exc:
        log.warning("readiness: redis unavailable: %s", exc.__class__.__name__)
        checks["redis"] = "unavailable"
        problems.append("Redis 不可用")
    if problems:
        body = {
            "code": 503,
            "status": "Service Unavailable",
            "error": "not_ready",
            "message": "；".join(problems),
            "errors": checks,
        }
        return jsonify(body), 503
    return jsonify(status="ready", checks=checks)
