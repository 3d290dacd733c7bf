"""Payment and refund notices as WeChat Pay sends them to the merchant's notify_url."""

from __future__ import annotations

from datetime import datetime

import requests

from backend.wechat_sandbox import ids, signing
from backend.wechat_sandbox.clock import readable_time, wechat_time
from backend.wechat_sandbox.config import SandboxConfig
from backend.wechat_sandbox.crypto import encrypt_req_info
from backend.wechat_sandbox.state import Order, Refund
from backend.wechat_sandbox.xmlio import XmlRejected, parse_flat_xml, to_flat_xml

# Deliberately bad notices the payer control call can send instead of the real one.
FORGE_SIGNATURE = "signature"  # right fields, wrong signature
FORGE_AMOUNT = "amount"  # correctly signed, but total_fee/cash_fee differ from the order
PAYMENT_FAILED = "result"  # a genuine notice of a failed payment (result_code FAIL)
FAIL_MODES = (FORGE_SIGNATURE, FORGE_AMOUNT, PAYMENT_FAILED)


def payment_fields(
    order: Order, config: SandboxConfig, fail: str | None = None
) -> dict[str, object]:
    """The signed fields of the payment notice for a paid order (or a bad one, per `fail`)."""
    fields: dict[str, object] = {
        "appid": order.appid,
        "mch_id": order.mch_id,
        "device_info": order.device_info or None,
        "nonce_str": ids.nonce_str(),
        "result_code": "SUCCESS",
        "openid": order.openid,
        "is_subscribe": "N",
        "trade_type": order.trade_type,
        "bank_type": order.bank_type,
        "total_fee": order.total_fee,
        "fee_type": order.fee_type,
        "cash_fee": order.total_fee,
        "transaction_id": order.transaction_id,
        "out_trade_no": order.out_trade_no,
        "attach": order.attach or None,
        "time_end": wechat_time(order.paid_at) if order.paid_at else None,
        "return_code": "SUCCESS",
    }
    if order.sign_type != signing.MD5:
        fields["sign_type"] = order.sign_type
    if fail == FORGE_AMOUNT:
        forged = order.total_fee - 1 if order.total_fee > 1 else order.total_fee + 1
        fields["total_fee"] = fields["cash_fee"] = forged
    if fail == PAYMENT_FAILED:
        for name in ("transaction_id", "time_end", "bank_type", "cash_fee"):
            fields[name] = None
        fields.update(result_code="FAIL", err_code="NOTENOUGH", err_code_des="余额不足")
    fields = {name: value for name, value in fields.items() if value is not None}
    signature = signing.sign(fields, config.pay_key, order.sign_type)
    if fail == FORGE_SIGNATURE:
        # Flip the signature's last character: right shape, wrong value.
        signature = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    fields["sign"] = signature
    return fields


def payment_notice(order: Order, config: SandboxConfig, fail: str | None = None) -> bytes:
    """The XML body of the payment notice."""
    return to_flat_xml(payment_fields(order, config, fail)).encode("utf-8")


def refund_plain_fields(order: Order, refund: Refund, success_at: datetime) -> dict[str, object]:
    """The fields inside req_info (the decrypted `<root>` document)."""
    return {
        "out_refund_no": refund.out_refund_no,
        "out_trade_no": order.out_trade_no,
        "refund_account": refund.refund_account,
        "refund_fee": refund.refund_fee,
        "refund_id": refund.refund_id,
        "refund_recv_accout": "支付用户零钱",  # sic: WeChat's own spelling of the field
        "refund_request_source": "API",
        "refund_status": "SUCCESS",
        "settlement_refund_fee": refund.refund_fee,
        "settlement_total_fee": order.total_fee,
        "success_time": readable_time(success_at),
        "total_fee": order.total_fee,
        "transaction_id": order.transaction_id,
    }


def refund_notice(
    order: Order, refund: Refund, success_at: datetime, config: SandboxConfig
) -> bytes:
    """The XML body of the refund notice: unsigned, its content encrypted in req_info."""
    plain = to_flat_xml(refund_plain_fields(order, refund, success_at), root="root")
    fields = {
        "return_code": "SUCCESS",
        "appid": order.appid,
        "mch_id": order.mch_id,
        "nonce_str": ids.nonce_str(),
        "req_info": encrypt_req_info(plain, config.pay_key),
    }
    return to_flat_xml(fields).encode("utf-8")


def merchant_accepted(response: requests.Response) -> bool:
    """Whether the merchant's answer to a notice is `<return_code>SUCCESS</return_code>`."""
    if response.status_code != 200:
        return False
    try:
        answer = parse_flat_xml(response.content)
    except XmlRejected:
        return False
    return answer.get("return_code") == "SUCCESS"
