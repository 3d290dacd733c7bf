"""Helpers for WeChat Pay v3 tests: notifications made as WeChat makes them, written from
WeChat's documents with `cryptography` (not with the adapter's code), and the switch that
runs a payment test on both versions."""

from __future__ import annotations

import base64
import functools
import json
import secrets
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backend.config import SANDBOX_APPID, SANDBOX_MCH_ID

#: run a test with the app and the sandbox speaking v2, then v3 (a session-scoped pair each)
both_pay_versions = pytest.mark.parametrize("pay_version", ["v2", "v3"], indirect=True)
NOTIFY = "/api/v1/payments/wechat/v3/notify"
REFUND_NOTIFY = "/api/v1/payments/wechat/v3/refund-notify"


@functools.lru_cache(maxsize=8)
def _private_key(path: str) -> Any:
    """A PEM private key, read once."""
    with open(path, "rb") as file:
        return serialization.load_pem_private_key(file.read(), password=None)


def wechat_sign(private_pem_path: str, timestamp: str, nonce: str, body: bytes) -> str:
    """WeChat's signature: SHA256withRSA over `timestamp\\nnonce\\nbody\\n`, base64."""
    key = _private_key(private_pem_path)
    message = timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n"
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()  # type: ignore[union-attr, call-arg]


def encrypt_resource(api_v3_key: str, plain: dict[str, Any], original_type: str,
                     associated_data: str = "transaction") -> dict[str, str]:  # fmt: skip
    """An AEAD_AES_256_GCM resource as WeChat encrypts it (12-character nonce)."""
    nonce = secrets.token_hex(6)
    sealed = AESGCM(api_v3_key.encode()).encrypt(
        nonce.encode(), json.dumps(plain).encode(), associated_data.encode()
    )
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(sealed).decode(),
        "associated_data": associated_data,
        "original_type": original_type,
        "nonce": nonce,
    }


def transaction(out_trade_no: str, total: int, **changes: Any) -> dict[str, Any]:
    """A paid transaction as v3's notice carries it (change any field)."""
    data: dict[str, Any] = {
        "appid": SANDBOX_APPID,
        "mchid": SANDBOX_MCH_ID,
        "out_trade_no": out_trade_no,
        "transaction_id": "42000" + secrets.token_hex(11)[:22],
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "attach": "",
        "success_time": "2026-11-23T12:00:00+08:00",
        "payer": {"openid": "o" + "x" * 27},
        "amount": {"total": total, "payer_total": total, "currency": "CNY",
                   "payer_currency": "CNY"},
    }  # fmt: skip
    data.update(changes)
    return data


def notification(env: dict[str, str], inner: dict[str, Any], *,
                 event_type: str = "TRANSACTION.SUCCESS", original_type: str = "transaction",
                 api_v3_key: str | None = None, timestamp: int | None = None,
                 serial: str | None = None, private_pem_path: str | None = None,
                 tamper: bool = False) -> tuple[bytes, dict[str, str]]:  # fmt: skip
    """The body and headers of a v3 notification signed with the sandbox's key of `env`
    (each part can be made wrong: another APIv3 key, an old timestamp, another serial,
    another signing key, a ciphertext changed after encryption)."""
    resource = encrypt_resource(api_v3_key or env["WECHAT_PAY_V3_KEY"], inner, original_type)
    if tamper:
        raw = bytearray(base64.b64decode(resource["ciphertext"]))
        raw[0] ^= 1
        resource["ciphertext"] = base64.b64encode(bytes(raw)).decode()
    body = json.dumps({
        "id": secrets.token_hex(18),
        "create_time": "2026-11-23T12:00:01+08:00",
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": "支付成功" if event_type.startswith("TRANSACTION") else "退款状态改变通知",
        "resource": resource,
    }, ensure_ascii=False).encode()  # fmt: skip
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = secrets.token_hex(16)
    key_path = private_pem_path or env["SANDBOX_PAY_PRIVATE_KEY_PATH"]
    return body, {
        "Content-Type": "application/json",
        "Wechatpay-Timestamp": stamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Serial": serial or env["WECHAT_PAY_PUBLIC_KEY_ID"],
        "Wechatpay-Signature": wechat_sign(key_path, stamp, nonce, body),
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }


def assert_signed_payment(payment: dict[str, str], pay_version: str,
                          environ: dict[str, str]) -> None:  # fmt: skip
    """`wx.requestPayment`'s parameters signed as WeChat's client checks them: v2 MD5 with
    the API key (our own MD5, not wechatpy's), v3 SHA256withRSA over
    `appId\\ntimeStamp\\nnonceStr\\npackage\\n`, checked with the merchant certificate's key."""
    from cryptography import x509

    from tests.payments_support import md5_sign

    assert payment["package"].startswith("prepay_id=")
    if pay_version == "v2":
        assert payment["signType"] == "MD5"
        fields = {k: payment[k] for k in ("appId", "timeStamp", "nonceStr", "package")}
        assert payment["paySign"] == md5_sign({**fields, "signType": "MD5"})
        return
    assert payment["signType"] == "RSA"
    with open(environ["WECHAT_MCH_CERT_PATH"], "rb") as file:
        public = x509.load_pem_x509_certificate(file.read()).public_key()
    message = "".join(f"{payment[k]}\n" for k in ("appId", "timeStamp", "nonceStr", "package"))
    public.verify(base64.b64decode(payment["paySign"]), message.encode(),  # type: ignore[call-arg, union-attr]
                  padding.PKCS1v15(), hashes.SHA256())  # fmt: skip


def resign(environ: dict[str, str], body: bytes) -> dict[str, str]:
    """Fresh WeChat signature headers for a body the sandbox sent (to deliver it again)."""
    stamp, nonce = str(int(time.time())), secrets.token_hex(16)
    return {
        "Content-Type": "application/json",
        "Wechatpay-Timestamp": stamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Serial": environ["WECHAT_PAY_PUBLIC_KEY_ID"],
        "Wechatpay-Signature": wechat_sign(
            environ["SANDBOX_PAY_PRIVATE_KEY_PATH"], stamp, nonce, body
        ),
    }


# ---- one notification, either version: what the donation-path tests post ----------------

V2_NOTIFY = "/api/v1/payments/wechat/notify"


def paid_notice(pay_version: str, environ: dict[str, str], out_trade_no: str, total: int,
                **changes: Any) -> tuple[str, bytes, dict[str, str]]:  # fmt: skip
    """The path, body and headers of WeChat's signed notice that an order is paid, in the
    version's form (`changes`: fields of v2's XML or of v3's transaction)."""
    if pay_version == "v3":
        body, headers = notification(environ, transaction(out_trade_no, total, **changes))
        return NOTIFY, body, headers
    from tests.payments_support import notification as v2_notification
    from tests.payments_support import to_xml

    body = to_xml(v2_notification(out_trade_no, total, **changes))
    return V2_NOTIFY, body, {"Content-Type": "text/xml"}


def parsed_notice(app: Any, pay_version: str, environ: dict[str, str], out_trade_no: str,
                  total: int) -> Any:  # fmt: skip
    """The PaymentNotice the app's own parser makes of a genuine notice (for tests that
    apply a payment without the endpoint: a process dying between commit and Redis)."""
    from backend.payments.v3 import V3Keys, parse_v3_notification
    from backend.payments.wechat_pay import parse_notification

    _, body, headers = paid_notice(pay_version, environ, out_trade_no, total)
    settings = app.config["SETTINGS"]
    if pay_version == "v3":
        return parse_v3_notification(headers, body, V3Keys.from_settings(settings)).payment
    return parse_notification(body, settings)


def answer_of(pay_version: str, status: int, text: str) -> str:
    """SUCCESS or FAIL, as WeChat reads the answer to a notification, after checking its
    form: v2 XML with HTTP 200 (a refused body may get 400/413), v3 an empty 204 or
    `{"code": "FAIL", "message": ...}` with a 4xx/5xx."""
    if pay_version == "v3":
        if status == 204:
            assert text == "", text
            return "SUCCESS"
        assert 400 <= status < 600, (status, text)
        answer = json.loads(text)
        assert answer["code"] == "FAIL" and answer["message"], answer
        return "FAIL"
    if "<return_code><![CDATA[SUCCESS]]></return_code>" in text:
        assert status == 200, (status, text)
        return "SUCCESS"
    assert "<return_code><![CDATA[FAIL]]></return_code>" in text or status in (400, 413), text
    return "FAIL"
