"""Schemas of the development-only calls (absent under APP_ENV=production)."""

from __future__ import annotations

import marshmallow as ma

#: our order numbers: LS + 14 digits + 16 hex digits, at most WeChat's 32 characters
ORDER_NUMBER = r"^[0-9A-Za-z_\-|*@]{1,32}$"


class SandboxPayInputSchema(ma.Schema):
    """The order to have the WeChat sandbox pay."""

    out_trade_no = ma.fields.String(
        required=True,
        validate=ma.validate.Regexp(ORDER_NUMBER, error="订单号格式不正确"),
        metadata={"description": "the donation's out_trade_no, as POST /donations answered"},
    )


class SandboxPaySchema(ma.Schema):
    """The order as it is when the sandbox has accepted to pay it; its status becomes
    `paid` when the sandbox's payment notification has arrived (poll GET /donations/{id})."""

    id = ma.fields.Integer()
    out_trade_no = ma.fields.String()
    status = ma.fields.String()
