"""The day's transaction bill as WeChat Pay's downloadbill serves it.

A header line, one line per transaction with every value prefixed by a backquote, then
a summary header and a summary line; amounts in yuan; lines end with CRLF. Payments are
listed on the Beijing day they were paid (交易状态 SUCCESS), refunds on the day they were
asked (交易状态 REFUND, with the refund columns filled). Values are not quoted, as in
WeChat's bills: a comma in a body or attach shifts the columns there too. The sandbox
charges a 0.6% fee, rounded half up to the fen, and gives it back on refunds.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from backend.wechat_sandbox.clock import BEIJING, readable_time
from backend.wechat_sandbox.state import Order, Refund

ALL = "ALL"
SUCCESS = "SUCCESS"
REFUND = "REFUND"
RECHARGE_REFUND = "RECHARGE_REFUND"
BILL_TYPES = (ALL, SUCCESS, REFUND, RECHARGE_REFUND)
FEE_RATE = "0.60%"

_COMMON = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额"
HEADERS = {
    ALL: _COMMON
    + ",微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注",
    SUCCESS: _COMMON + ",商品名称,商户数据包,手续费,费率,订单金额,费率备注",
    REFUND: _COMMON
    + ",退款申请时间,退款成功时间,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注",
}
HEADERS[RECHARGE_REFUND] = HEADERS[REFUND]
SUMMARY_HEADER = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)


def yuan(fen: int) -> str:
    """Fen as yuan with two decimals (negative allowed)."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def fee_fen(amount_fen: int) -> int:
    """The sandbox's 0.6% fee, rounded half up to the fen."""
    return (amount_fen * 6 + 500) // 1000


def _on_day(moment: datetime | None, day: date) -> bool:
    """Whether a moment falls on `day` in Beijing."""
    return moment is not None and moment.astimezone(BEIJING).date() == day


def _line(values: Iterable[object]) -> str:
    """Backquote every value and join with commas."""
    return ",".join("`" + str(value) for value in values)


def _payment_row(order: Order, bill_type: str) -> list[object]:
    """The columns of a payment."""
    assert order.paid_at is not None
    common = [
        readable_time(order.paid_at),
        order.appid,
        order.mch_id,
        "0",
        order.device_info,
        order.transaction_id,
        order.out_trade_no,
        order.openid,
        order.trade_type,
        "SUCCESS",
        order.bank_type,
        order.fee_type,
        yuan(order.total_fee),
        "0.00",
    ]
    fee = yuan(fee_fen(order.total_fee))
    if bill_type == SUCCESS:
        return [*common, order.body, order.attach, fee, FEE_RATE, yuan(order.total_fee), ""]
    refund_columns = ["0", "0", "0.00", "0.00", "", ""]
    tail = [order.body, order.attach, fee, FEE_RATE, yuan(order.total_fee), "0.00", ""]
    return [*common, *refund_columns, *tail]


def _refund_row(order: Order, refund: Refund, bill_type: str) -> list[object]:
    """The columns of a refund."""
    common = [
        readable_time(refund.requested_at),
        order.appid,
        order.mch_id,
        "0",
        order.device_info,
        order.transaction_id,
        order.out_trade_no,
        order.openid,
        order.trade_type,
        "REFUND",
        order.bank_type,
        order.fee_type,
        "0.00",
        "0.00",
    ]
    times = [
        readable_time(refund.requested_at),
        readable_time(refund.success_at) if refund.success_at else "",
    ]
    refund_columns = [
        refund.refund_id,
        refund.out_refund_no,
        yuan(refund.refund_fee),
        "0.00",
        "ORIGINAL",
        refund.status,
    ]
    tail = [
        order.body,
        order.attach,
        yuan(-fee_fen(refund.refund_fee)),
        FEE_RATE,
        "0.00",
        yuan(refund.refund_fee),
        "",
    ]
    if bill_type == ALL:
        return [*common, *refund_columns, *tail]
    return [*common, *times, *refund_columns, *tail]


def render_bill(orders: Iterable[Order], day: date, bill_type: str) -> str | None:
    """The bill text for `day`, or None when the day has no transaction of that type."""
    events: list[tuple[str, list[object], int, int, int]] = []  # time, row, settled, refund, fee
    for order in orders:
        if bill_type in (ALL, SUCCESS) and _on_day(order.paid_at, day):
            row = _payment_row(order, bill_type)
            events.append((str(row[0]), row, order.total_fee, 0, fee_fen(order.total_fee)))
        if bill_type in (ALL, REFUND):
            for refund in order.refunds:
                if _on_day(refund.requested_at, day):
                    row = _refund_row(order, refund, bill_type)
                    fee = -fee_fen(refund.refund_fee)
                    events.append((str(row[0]), row, 0, refund.refund_fee, fee))
    if not events:
        return None
    events.sort(key=lambda event: event[0])
    settled = sum(event[2] for event in events)
    refunded = sum(event[3] for event in events)
    fees = sum(event[4] for event in events)
    lines = [HEADERS[bill_type], *(_line(event[1]) for event in events), SUMMARY_HEADER]
    lines.append(
        _line(
            [
                len(events),
                yuan(settled),
                yuan(refunded),
                "0.00",
                yuan(fees),
                yuan(settled),
                yuan(refunded),
            ]
        )
    )
    return "\r\n".join(lines) + "\r\n"
