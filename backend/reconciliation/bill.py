"""WeChat Pay's daily bill (对账单, downloadbill with bill_type ALL), read strictly.

The bill is CSV text: a header line, one line per transaction with every value prefixed
by a backquote, a summary header and a summary line, CRLF line ends. Values are not
quoted, so a comma in the goods' name (商品名称) or the merchant's data (商户数据包)
shifts the columns there: the columns before them and the five after them are read by
their place from either end. Amounts are yuan with two decimals, read as integer fen
without ever passing through a float; times are Beijing wall-clock times.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from backend.common.time import BEIJING

#: the header of an ALL bill, as WeChat writes it
HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
    "交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,"
    "充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,"
    "费率备注"
)
SUMMARY_HEADER = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)
#: columns before the goods' name, and after the merchant's data
LEADING = 20
TRAILING = 5
#: yuan with exactly two decimals, no sign but an optional minus, no leading zeros
YUAN = re.compile(r"(-?)(0|[1-9][0-9]{0,14})\.([0-9]{2})", re.ASCII)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class BillFormatError(ValueError):
    """The bill is not what WeChat writes: the message says where and why."""


def yuan_to_fen(text: str) -> int:
    """Yuan text as WeChat writes it ("12.34", "0.06", "-0.06") as exact integer fen."""
    match = YUAN.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise BillFormatError(f"not an amount in yuan with two decimals: {text!r}")
    sign, whole, cents = match.groups()
    fen = int(whole) * 100 + int(cents)
    return -fen if sign else fen


@dataclass(frozen=True, slots=True)
class BillRow:
    """One transaction of the bill: a payment (SUCCESS) or a refund (REFUND)."""

    line_no: int
    traded_at: datetime
    transaction_id: str
    out_trade_no: str
    #: SUCCESS or REFUND (交易状态)
    trade_state: str
    #: 应结订单金额 (0 on a refund line)
    settlement_fen: int
    refund_id: str
    out_refund_no: str
    #: 退款金额 (the refund settled; 0 on a payment line)
    refund_fen: int
    #: 退款状态 (SUCCESS, PROCESSING, CHANGE, REFUNDCLOSE; '' on a payment line)
    refund_status: str
    #: 手续费, signed (a refund gives it back)
    fee_fen: int
    #: 订单金额 (0 on a refund line)
    order_fen: int
    #: 申请退款金额 (0 on a payment line)
    refund_requested_fen: int

    @property
    def is_refund(self) -> bool:
        """Whether this is a refund line."""
        return self.trade_state == "REFUND"


@dataclass(frozen=True, slots=True)
class BillSummary:
    """The bill's summary line: what WeChat says its rows add up to."""

    count: int
    settlement_fen: int
    refund_fen: int
    recharge_refund_fen: int
    fee_fen: int
    order_fen: int
    refund_requested_fen: int


@dataclass(frozen=True, slots=True)
class Bill:
    """A parsed bill: its rows in order and its summary."""

    rows: list[BillRow]
    summary: BillSummary


def _values(line: str, line_no: int) -> list[str]:
    """The backquoted values of a line, backquotes removed."""
    values = line.split(",")
    for value in values[:LEADING] + values[-TRAILING:]:
        if not value.startswith("`"):
            raise BillFormatError(f"line {line_no}: a value without its backquote: {value!r}")
    return [value[1:] if value.startswith("`") else value for value in values]


def _time(text: str, line_no: int) -> datetime:
    try:
        return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=BEIJING)
    except ValueError:
        raise BillFormatError(f"line {line_no}: not a time: {text!r}") from None


def _amount(text: str, line_no: int, column: str) -> int:
    try:
        return yuan_to_fen(text)
    except BillFormatError as exc:
        raise BillFormatError(f"line {line_no}, {column}: {exc}") from None


def _row(line: str, line_no: int) -> BillRow:
    values = _values(line, line_no)
    if len(values) < LEADING + TRAILING + 2:
        raise BillFormatError(f"line {line_no}: {len(values)} columns, expected 27")
    lead, tail = values[:LEADING], values[-TRAILING:]
    state = lead[9]
    if state not in ("SUCCESS", "REFUND"):
        raise BillFormatError(f"line {line_no}: unknown 交易状态 {state!r}")
    if not lead[6]:
        raise BillFormatError(f"line {line_no}: no 商户订单号")
    if state == "REFUND" and not lead[15]:
        raise BillFormatError(f"line {line_no}: a refund without 商户退款单号")
    return BillRow(
        line_no=line_no,
        traded_at=_time(lead[0], line_no),
        transaction_id=lead[5],
        out_trade_no=lead[6],
        trade_state=state,
        settlement_fen=_amount(lead[12], line_no, "应结订单金额"),
        refund_id=lead[14] if state == "REFUND" else "",
        out_refund_no=lead[15] if state == "REFUND" else "",
        refund_fen=_amount(lead[16], line_no, "退款金额"),
        refund_status=lead[19] if state == "REFUND" else "",
        fee_fen=_amount(tail[0], line_no, "手续费"),
        order_fen=_amount(tail[2], line_no, "订单金额"),
        refund_requested_fen=_amount(tail[3], line_no, "申请退款金额"),
    )


def parse_bill(text: str) -> Bill:
    """Read a bill's text; raise BillFormatError naming the line at fault."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\r\n")
    if lines and lines[-1] == "":
        lines.pop()
    if any("\n" in line or "\r" in line for line in lines):
        raise BillFormatError("lines must end with CRLF")
    if len(lines) < 3 or lines[0] != HEADER:
        raise BillFormatError("line 1: not the header of an ALL bill")
    if lines[-2] != SUMMARY_HEADER:
        raise BillFormatError(f"line {len(lines) - 1}: not the summary header")
    rows = [_row(line, number) for number, line in enumerate(lines[1:-2], start=2)]
    totals = _values(lines[-1], len(lines))
    if len(totals) != 7 or not (totals[0].isascii() and totals[0].isdigit()):
        raise BillFormatError(f"line {len(lines)}: not a summary line")
    names = SUMMARY_HEADER.split(",")
    amounts = [
        _amount(value, len(lines), name) for value, name in zip(totals[1:], names[1:], strict=True)
    ]
    return Bill(rows=rows, summary=BillSummary(int(totals[0]), *amounts))


def summary_mismatches(bill: Bill) -> dict[str, tuple[int, int]]:
    """The summary's figures that are not what the rows add up to: name → (summary, rows)."""
    rows, summary = bill.rows, bill.summary
    sums = {
        "总交易单数": (summary.count, len(rows)),
        "应结订单总金额": (summary.settlement_fen, sum(r.settlement_fen for r in rows)),
        "退款总金额": (summary.refund_fen, sum(r.refund_fen for r in rows)),
        "手续费总金额": (summary.fee_fen, sum(r.fee_fen for r in rows)),
        "订单总金额": (summary.order_fen, sum(r.order_fen for r in rows)),
        "申请退款总金额": (summary.refund_requested_fen, sum(r.refund_requested_fen for r in rows)),
    }
    return {name: pair for name, pair in sums.items() if pair[0] != pair[1]}
