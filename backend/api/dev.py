"""Development only: calls for the mini-program's develop environment on the WeChat
sandbox. Registered only when the app uses the sandbox (never under APP_ENV=production)."""

from __future__ import annotations

from typing import Any

from backend.api.base import Blueprint
from backend.api.schemas.dev import SandboxPayInputSchema, SandboxPaySchema
from backend.auth import BEARER, login_required
from backend.donations.models import Donation
from backend.donations.sandbox import pay_in_sandbox

blp = Blueprint("dev", __name__, description="开发环境（生产环境中不存在）")


@blp.post("/dev/sandbox-pay")
@blp.arguments(SandboxPayInputSchema)
@blp.response(202, SandboxPaySchema)
@blp.doc(security=BEARER)
def sandbox_pay(data: dict[str, Any]) -> Donation:
    """Have the WeChat sandbox pay the caller's pending order (someone else's is a 404); the
    sandbox then delivers the payment notification, and the donation becomes paid."""
    return pay_in_sandbox(login_required(), data["out_trade_no"])
