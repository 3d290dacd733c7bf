"""Helpers for payment tests: an independent WeChat Pay signer and the sandbox's controls."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import requests

from backend.config import SANDBOX_APPID, SANDBOX_MCH_ID, SANDBOX_PAY_KEY


def md5_sign(fields: dict[str, Any], key: str = SANDBOX_PAY_KEY) -> str:
    """WeChat Pay v2 MD5 signature, written from WeChat's document (not wechatpy's code)."""
    pairs = sorted((k, str(v)) for k, v in fields.items() if k != "sign" and str(v) != "")
    text = "&".join(f"{k}={v}" for k, v in pairs) + f"&key={key}"
    return hashlib.md5(text.encode()).hexdigest().upper()  # noqa: S324 - WeChat's MD5 scheme


def notification(out_trade_no: str, total_fee: int, **changes: Any) -> dict[str, Any]:
    """The fields of a genuine-looking payment notification (change any, then sign)."""
    fields: dict[str, Any] = {
        "appid": SANDBOX_APPID,
        "mch_id": SANDBOX_MCH_ID,
        "nonce_str": secrets.token_hex(16),
        "result_code": "SUCCESS",
        "return_code": "SUCCESS",
        "openid": "o" + "x" * 27,
        "is_subscribe": "N",
        "trade_type": "JSAPI",
        "bank_type": "OTHERS",
        "total_fee": total_fee,
        "cash_fee": total_fee,
        "fee_type": "CNY",
        "transaction_id": "42000" + secrets.token_hex(12)[:23],
        "out_trade_no": out_trade_no,
        "time_end": "20261123120000",
    }
    fields.update(changes)
    return fields


def to_xml(fields: dict[str, Any], key: str = SANDBOX_PAY_KEY, sign: str | None = None) -> bytes:
    """Signed XML of `fields` (`sign` overrides the signature)."""
    body = {**fields, "sign": sign or md5_sign(fields, key)}
    inner = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in body.items())
    return f"<xml>{inner}</xml>".encode()


def sandbox_pay(sandbox_url: str, out_trade_no: str, **options: Any) -> dict[str, Any]:
    """Play the payer at the sandbox; it then delivers the notification."""
    response = requests.post(
        f"{sandbox_url}sandbox/pay", json={"out_trade_no": out_trade_no, **options}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def wait_deliveries(sandbox_url: str, out_trade_no: str, seconds: int = 10) -> list[dict]:
    """Wait until the sandbox has nothing pending for the order; its delivery records."""
    response = requests.get(
        f"{sandbox_url}sandbox/notifications/{out_trade_no}",
        params={"wait": seconds},
        timeout=seconds + 5,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["pending"] == 0, body
    return body["notifications"]


def move_sandbox_clock(sandbox_url: str, seconds: float) -> None:
    """Advance the sandbox's clock."""
    response = requests.post(
        f"{sandbox_url}sandbox/clock", json={"advance_seconds": seconds}, timeout=5
    )
    assert response.status_code == 200, response.text
