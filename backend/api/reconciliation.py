"""The daily reconciliation of WeChat Pay's bill, for the foundation's finance officer:
the merchant account is the deployment's, so the report is deployment-wide."""

from __future__ import annotations

from typing import Any

from flask import Response

from backend.accounts.models import User
from backend.accounts.permissions import Permission, require_deployment_wide
from backend.api.base import Blueprint
from backend.api.schemas.reconciliation import (
    EXPORT_DOC,
    DifferenceSchema,
    ReportSchema,
    ResolveInputSchema,
    export_csv,
)
from backend.auth import BEARER, login_required
from backend.reconciliation import services
from backend.reconciliation.models import ReconciliationDifference
from backend.reconciliation.services import DayReport

blp = Blueprint("reconciliation", __name__, description="对账：微信支付账单与账本")


def finance_officer() -> User:
    """The caller, when they may reconcile (401, 403)."""
    actor = login_required()
    require_deployment_wide(actor, Permission.RECONCILE)
    return actor


@blp.get("/reconciliation/<string:day>")
@blp.response(200, ReportSchema)
@blp.doc(security=BEARER)
def day_report(day: str) -> DayReport:
    """The day's reconciliation (YYYY-MM-DD, Beijing): the newest run's figures and every
    difference of the day (foundation admins, platform admins)."""
    finance_officer()
    return services.day_report(services.parse_day(day))


@blp.post("/reconciliation/differences/<bigid:difference_id>/resolve")
@blp.arguments(ResolveInputSchema)
@blp.response(200, DifferenceSchema)
@blp.doc(security=BEARER)
def resolve_difference(data: dict[str, Any], difference_id: int) -> ReconciliationDifference:
    """Resolve an open difference with a note on how it was settled (recorded in the
    audit log)."""
    return services.resolve_difference(finance_officer(), difference_id, data["note"])


@blp.get("/reconciliation/<string:day>/export.csv")
@blp.doc(security=BEARER, responses=EXPORT_DOC)
def export(day: str) -> Response:
    """The day's bill for the accounts, as a CSV file for Excel (UTF-8 with BOM)."""
    finance_officer()
    parsed = services.parse_day(day)
    response = Response(export_csv(services.export_lines(parsed)), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="linshan-reconciliation-{parsed:%Y-%m-%d}.csv"'
    )
    return response
