"""Schemas of the daily reconciliation (the foundation's finance officer), and its
accounting export as CSV for Excel."""

from __future__ import annotations

from collections.abc import Iterable

import marshmallow as ma

from backend.api.ledger import BOM
from backend.api.schemas.base import BeijingDateTime, ObjectSchema, plain_text
from backend.api.schemas.ledger import beijing, csv_text, yuan
from backend.reconciliation.models import BillLineKind, DifferenceKind, DifferenceStatus
from backend.reconciliation.services import ExportLine


class RunSchema(ObjectSchema):
    """One reconciliation of the day: the bill's figures and ours, in fen."""

    id = ma.fields.Integer()
    created_at = BeijingDateTime(metadata={"description": "对账时间"})
    bill_found = ma.fields.Boolean(metadata={"description": "微信支付当日是否有账单"})
    payment_count = ma.fields.Integer(metadata={"description": "账单中的支付笔数"})
    payment_fen = ma.fields.Integer(metadata={"description": "账单中的支付金额合计（分）"})
    refund_count = ma.fields.Integer(metadata={"description": "账单中的退款笔数"})
    refund_fen = ma.fields.Integer(metadata={"description": "账单中的退款金额合计（分）"})
    fee_fen = ma.fields.Integer(metadata={"description": "手续费合计（分，退款退回的为负）"})
    net_fen = ma.fields.Integer(metadata={"description": "结算净额：支付 − 退款 − 手续费（分）"})
    our_payment_count = ma.fields.Integer(metadata={"description": "本系统当日已支付的捐赠笔数"})
    our_payment_fen = ma.fields.Integer(metadata={"description": "本系统当日入账金额合计（分）"})
    difference_count = ma.fields.Integer(metadata={"description": "本次发现的差异数"})
    repaired_count = ma.fields.Integer(metadata={"description": "本次自动修复的差异数"})
    open_count = ma.fields.Integer(metadata={"description": "当日仍待处理的差异数"})


class DifferenceSchema(ObjectSchema):
    """A difference between the bill and the books."""

    id = ma.fields.Integer()
    day = ma.fields.Date()
    kind = ma.fields.Enum(DifferenceKind, by_value=True)
    out_trade_no = ma.fields.String(metadata={"description": "商户订单号（汇总差异为空）"})
    out_refund_no = ma.fields.String(metadata={"description": "商户退款单号（支付差异为空）"})
    wechat_fen = ma.fields.Integer(allow_none=True, metadata={"description": "微信支付的金额"})
    our_fen = ma.fields.Integer(allow_none=True, metadata={"description": "本系统的金额"})
    detail = ma.fields.String()
    status = ma.fields.Enum(DifferenceStatus, by_value=True, metadata={
        "description": "open 待处理；repaired 已自动修复；cleared 复核时已一致；resolved 已人工处理",
    })  # fmt: skip
    created_at = BeijingDateTime()
    resolved_at = BeijingDateTime(allow_none=True)
    resolved_by_id = ma.fields.Integer(allow_none=True)
    note = ma.fields.String(allow_none=True)


class ReportSchema(ObjectSchema):
    """A day's report: the newest run and every difference of the day."""

    day = ma.fields.Date()
    run = ma.fields.Nested(RunSchema)
    differences = ma.fields.List(ma.fields.Nested(DifferenceSchema))


class ResolveInputSchema(ma.Schema):
    """How the finance officer settled the difference."""

    note = ma.fields.String(
        required=True, validate=[ma.validate.Length(min=2, max=500), plain_text]
    )


#: the accounting export's columns
EXPORT_COLUMNS = (
    "交易时间", "类型", "商户订单号", "微信订单号", "商户退款单号", "微信退款单号", "状态",
    "金额（元）", "手续费（元）", "净额（元）", "捐赠编号", "退款编号", "项目", "基金",
)  # fmt: skip
EXPORT_DESCRIPTION = (
    "The day's WeChat Pay bill for the foundation's accounts: one row per transaction of the "
    "bill (支付 or 退款), with our donation and refund ids, the need and the fund. Columns: "
    + ", ".join(EXPORT_COLUMNS)
    + ". Amounts are exact yuan and never negative: a payment's 金额 came in and its 手续费 "
    "was charged; a refund's 金额 went back and its 手续费 was returned; 净额 is 金额 − "
    "手续费 in the row's direction. UTF-8 with a BOM, CRLF line ends, times in Beijing time; "
    "a cell that a spreadsheet would read as a formula starts with '."
)
EXPORT_DOC = {"200": {"description": EXPORT_DESCRIPTION,
                      "content": {"text/csv": {"schema": {"type": "string"}}}}}  # fmt: skip
KIND_LABELS = {BillLineKind.PAYMENT: "支付", BillLineKind.REFUND: "退款"}


def export_row(item: ExportLine) -> list[str]:
    """One bill transaction as a row of the export."""
    line = item.line
    fee = abs(line.fee_fen)
    return [
        beijing(line.traded_at), KIND_LABELS[line.kind], line.out_trade_no, line.transaction_id,
        line.out_refund_no or "", line.refund_id or "", line.status, yuan(line.amount_fen),
        yuan(fee), yuan(line.amount_fen - fee), str(line.donation_id or ""),
        str(line.our_refund_id or ""), item.need_title or "", item.fund_name or "",
    ]  # fmt: skip


def export_csv(lines: Iterable[ExportLine]) -> str:
    """The export's text: a BOM, the header, one row per transaction (cells defused)."""
    return BOM + csv_text([list(EXPORT_COLUMNS), *(export_row(item) for item in lines)])
