"""WeChat Pay APIv3: JSON over HTTPS, RSA-SHA256 signatures both ways, AEAD_AES_256_GCM.

Requests carry `Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,nonce_str=…,signature=…,
timestamp=…,serial_no=…`, the signature over `METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n`
with the merchant's API key, `serial_no` its certificate's. Answers and notifications are
signed by WeChat over `TIMESTAMP\\nNONCE\\nBODY\\n`: checked with the WeChat Pay public key
(`Wechatpay-Serial` = its id) or the platform certificate that serial names; a timestamp
more than 5 minutes off and a serial naming no key we hold are refused. Notification
resources are AEAD_AES_256_GCM under the APIv3 key.

Direct HTTP (requests + cryptography), not wechatpayv3's `Core`, because that falls short
here: it verifies answers over `response.text` (bytes decoded by requests' guess of the
charset, not the bytes WeChat signed), raises a bare `Exception` when a
`Wechatpay-Signature-Type` header is missing, has no timestamp window, answers an unknown
serial by downloading platform certificates in the middle of a request (a notification
could make us call out), and hides its gateway in a private attribute. wechatpayv3 stays a
development dependency: the tests check our signatures with it, independently of this code.

Errors are raised as wechatpy's `WeChatPayException`, with v3's codes given the names the
v2 callers already handle (ORDERPAID, ORDERCLOSED, REFUNDNOTEXIST, SYSTEMERROR …), so the
donation, refund and reconciliation code has one error path for both versions.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from wechatpy.exceptions import WeChatPayException

from backend.config import PayV3Settings, Settings
from backend.payments.refunds import RefundState, truncated_desc
from backend.payments.wechat_pay import (
    MAX_NOTIFICATION_BYTES,
    ORDER_NUMBER,
    NotificationRejected,
    PaymentNotice,
    same_text,
    wechat_time,
)

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
SCHEME = "WECHATPAY2-SHA256-RSA2048"
#: notifications and answers signed further than this from our clock are refused
MAX_SKEW_SECONDS = 300
#: the headers of WeChat's signature
SIGNATURE, TIMESTAMP, NONCE, SERIAL = (
    "Wechatpay-Signature",
    "Wechatpay-Timestamp",
    "Wechatpay-Nonce",
    "Wechatpay-Serial",
)
#: v3 error codes under the v2 names the callers handle
V2_CODES = {
    "ORDER_CLOSED": "ORDERCLOSED",
    "ORDER_NOT_EXIST": "ORDERNOTEXIST",
    "RESOURCE_NOT_EXISTS": "REFUNDNOTEXIST",
    "SYSTEM_ERROR": "SYSTEMERROR",
    "NOT_ENOUGH": "NOTENOUGH",
    "RATELIMIT_EXCEEDED": "FREQUENCY_LIMITED",
    "FREQUENCY_LIMITED": "FREQUENCY_LIMITED",
}
#: v3 refund states under v2's (RefundState speaks v2: settle_refund reads it)
V2_REFUND_STATES = {
    "SUCCESS": "SUCCESS",
    "PROCESSING": "PROCESSING",
    "ABNORMAL": "CHANGE",
    "CLOSED": "REFUNDCLOSE",
}
#: refund notices' event types and the final state each one reports
REFUND_EVENTS = {"REFUND.SUCCESS", "REFUND.ABNORMAL", "REFUND.CLOSED"}
PAYMENT_EVENT = "TRANSACTION.SUCCESS"
#: trade bill missing for the day (WeChat answers 400 NO_STATEMENT_EXIST)
NO_BILL = "NO_STATEMENT_EXIST"


def signature_message(*parts: str) -> bytes:
    """What v3 signs: each part followed by a newline, UTF-8."""
    return "".join(f"{part}\n" for part in parts).encode("utf-8")


def rsa_sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    """SHA256withRSA (PKCS#1 v1.5), base64."""
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa_verifies(key: rsa.RSAPublicKey, message: bytes, signature: str) -> bool:
    """Whether `signature` (base64) is SHA256withRSA of `message` under `key`."""
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, message, padding.PKCS1v15(), hashes.SHA256())
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True


def aead_decrypt(api_v3_key: bytes, nonce: str, ciphertext: str, associated_data: str) -> bytes:
    """AEAD_AES_256_GCM as v3 uses it (the 16-byte tag at the end of the base64 ciphertext);
    ValueError when it is not base64 or does not authenticate under this key."""
    try:
        data = base64.b64decode(ciphertext, validate=True)
        return AESGCM(api_v3_key).decrypt(
            nonce.encode("utf-8"), data, associated_data.encode("utf-8")
        )
    except (binascii.Error, InvalidTag, ValueError):
        raise ValueError("resource does not decrypt") from None


def aead_encrypt(api_v3_key: bytes, nonce: str, plaintext: bytes, associated_data: str) -> str:
    """The inverse of `aead_decrypt` (for tests and development tools)."""
    sealed = AESGCM(api_v3_key).encrypt(
        nonce.encode("utf-8"), plaintext, associated_data.encode("utf-8")
    )
    return base64.b64encode(sealed).decode("ascii")


def certificate_serial(cert: x509.Certificate) -> str:
    """A certificate's serial as WeChat writes it: uppercase hex, no leading zeros."""
    return format(cert.serial_number, "X")


def read_private_key(path: str) -> rsa.RSAPrivateKey:
    """An RSA private key from a PEM file (ValueError otherwise)."""
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def read_public_key(path: str) -> rsa.RSAPublicKey:
    """An RSA public key from a PEM file (ValueError otherwise)."""
    key = serialization.load_pem_public_key(Path(path).read_bytes())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def read_certificate(path: str | Path) -> x509.Certificate:
    """An X.509 certificate with an RSA key from a PEM file (ValueError otherwise)."""
    cert = x509.load_pem_x509_certificate(Path(path).read_bytes())
    if not isinstance(cert.public_key(), rsa.RSAPublicKey):
        raise ValueError("not an RSA certificate")
    return cert


@dataclass(frozen=True)
class V3Keys:
    """The key material of one merchant account, loaded once (config validated it)."""

    mchid: str
    appid: str
    merchant_key: rsa.RSAPrivateKey
    merchant_serial: str
    api_v3_key: bytes
    #: WeChat's signing keys by the serial `Wechatpay-Serial` names (public key id or
    #: platform certificate serial)
    wechat_keys: Mapping[str, rsa.RSAPublicKey]

    @classmethod
    def from_settings(cls, settings: Settings) -> V3Keys:
        """Load the files `settings.pay_v3` names."""
        v3 = settings.pay_v3
        assert v3 is not None
        wechat: dict[str, rsa.RSAPublicKey] = {}
        if v3.public_key_path is not None and v3.public_key_id is not None:
            wechat[v3.public_key_id] = read_public_key(v3.public_key_path)
        if v3.platform_certs_dir is not None:
            for pem in sorted(Path(v3.platform_certs_dir).glob("*.pem")):
                cert = read_certificate(pem)
                wechat[certificate_serial(cert)] = cert.public_key()  # type: ignore[assignment]
        assert settings.wechat_mch_key_path is not None
        return cls(
            mchid=settings.wechat_mch_id,
            appid=settings.wechat_appid,
            merchant_key=read_private_key(settings.wechat_mch_key_path),
            merchant_serial=v3.merchant_serial,
            api_v3_key=v3.api_v3_key.encode("ascii"),
            wechat_keys=wechat,
        )


def check_signed(headers: Mapping[str, str], body: bytes, keys: V3Keys, now: float) -> str | None:
    """Why WeChat's signature on `body` does not hold (a fixed text), or None when it does:
    the headers present, the timestamp within 5 minutes of `now`, the serial one of ours,
    the signature over `timestamp\\nnonce\\nbody\\n` valid under that key."""
    signature, stamp = headers.get(SIGNATURE), headers.get(TIMESTAMP)
    nonce, serial = headers.get(NONCE), headers.get(SERIAL)
    if not (signature and stamp and nonce and serial):
        return "signature headers missing"
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        return "bad timestamp"
    if abs(int(stamp) - now) > MAX_SKEW_SECONDS:
        return "stale timestamp"
    key = keys.wechat_keys.get(serial)
    if key is None:
        return "unknown serial"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "bad signature"
    if not rsa_verifies(key, signature_message(stamp, nonce, text), signature):
        return "bad signature"
    return None


def authorization(keys: V3Keys, method: str, path: str, body: str, *,
                  timestamp: int | None = None, nonce: str | None = None) -> str:  # fmt: skip
    """The `Authorization` header of a request (path with its query, body as sent)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(16).upper()
    signature = rsa_sign(keys.merchant_key, signature_message(method, path, stamp, nonce, body))
    return (
        f'{SCHEME} mchid="{keys.mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{stamp}",serial_no="{keys.merchant_serial}"'
    )


def pay_sign(keys: V3Keys, prepay_id: str, *, timestamp: int | None = None,
             nonce: str | None = None) -> dict[str, str]:  # fmt: skip
    """`wx.requestPayment`'s parameters, v3: signType RSA, paySign over
    `appId\\ntimeStamp\\nnonceStr\\npackage\\n` with the merchant's API key."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(16)
    package = f"prepay_id={prepay_id}"
    message = signature_message(keys.appid, stamp, nonce, package)
    return {
        "appId": keys.appid,
        "timeStamp": stamp,
        "nonceStr": nonce,
        "package": package,
        "signType": "RSA",
        "paySign": rsa_sign(keys.merchant_key, message),
    }


def _failure(code: str | None, message: str | None) -> WeChatPayException:
    """A v3 failure as the exception the v2 callers handle (`errcode` in v2's names)."""
    errcode = V2_CODES.get(code or "", code) if code else None
    return WeChatPayException("FAIL", "FAIL", message, errcode=errcode, errmsg=message)


class V3Client:
    """Signed JSON requests to WeChat Pay v3 at the configured base URL, answers checked."""

    def __init__(self, settings: Settings, keys: V3Keys) -> None:
        self.base = settings.wechat_pay_api_base.rstrip("/")
        self.prefix = urlsplit(self.base).path  # signed paths start at the host's root
        self.keys = keys
        self.http = requests.Session()

    def call(self, method: str, path: str, payload: dict[str, Any] | None = None,
             *, signed_answer: bool = True) -> tuple[int, bytes]:  # fmt: skip
        """Send one request; the status and body of a 2xx answer (signature checked), or
        WeChatPayException (`errcode` None when WeChat was not reached or the answer
        could not be trusted: both worth trying again)."""
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")) if payload else ""
        headers = {
            "Authorization": authorization(self.keys, method, self.prefix + path, body),
            "Accept": "application/json",
            "User-Agent": "linshan-wechatpay-v3",
        }
        if payload is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = self.http.request(method, self.base + path, data=body.encode("utf-8"),
                                         headers=headers, timeout=TIMEOUT_SECONDS)  # fmt: skip
        except requests.RequestException as exc:
            raise _failure(None, f"WeChat Pay v3 not reached: {exc.__class__.__name__}") from None
        if not 200 <= response.status_code < 300:
            try:
                error = response.json()
            except ValueError:
                error = {}
            code = error.get("code") if isinstance(error, dict) else None
            message = error.get("message") if isinstance(error, dict) else None
            if not code and (response.status_code >= 500 or response.status_code == 429):
                code = None  # nothing WeChat decided: worth trying again, like "not reached"
            else:
                code = str(code or f"HTTP{response.status_code}")
            raise _failure(code, str(message or f"HTTP {response.status_code}"))
        if signed_answer:
            why = check_signed(response.headers, response.content, self.keys, time.time())
            if why is not None:
                log.error("WeChat Pay v3 answer to %s %s refused: %s", method, path, why)
                raise _failure(None, f"answer refused: {why}")
        return response.status_code, response.content

    def call_json(self, method: str, path: str,
                  payload: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
        """`call`, the answer read as a JSON object."""
        _, content = self.call(method, path, payload)
        try:
            data = json.loads(content) if content else {}
        except ValueError:
            raise _failure(None, "answer is not JSON") from None
        if not isinstance(data, dict):
            raise _failure(None, "answer is not a JSON object")
        return data


def _rfc3339(instant: datetime) -> str:
    """v3's times: RFC 3339 with the offset (Beijing time, as WeChat writes them)."""
    return wechat_time(instant).isoformat(timespec="seconds")


def _parse_time(text: object) -> datetime | None:
    """An RFC 3339 time of WeChat's, or None (ValueError when malformed)."""
    if not text:
        return None
    if not isinstance(text, str):
        raise ValueError("not a time")
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError("time without offset")
    return parsed


def _fen(value: object) -> int | None:
    """A fen amount as v3 writes it (a JSON integer), or None."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 10**18:
        return None
    return value


def notice_from_transaction(data: Mapping[str, Any]) -> PaymentNotice:
    """A PaymentNotice from v3's transaction object (query answer or decrypted notice);
    ValueError naming the field that is off."""
    out_trade_no = data.get("out_trade_no")
    if not isinstance(out_trade_no, str) or not ORDER_NUMBER.fullmatch(out_trade_no):
        raise ValueError("bad out_trade_no")
    amount = data.get("amount")
    total = _fen(amount.get("total")) if isinstance(amount, dict) else None
    if total is None:
        raise ValueError("bad amount")
    paid = data.get("trade_state") == "SUCCESS"
    transaction_id = data.get("transaction_id") or ""
    if not isinstance(transaction_id, str) or (
        transaction_id and not ORDER_NUMBER.fullmatch(transaction_id)
    ):
        raise ValueError("bad transaction_id")
    if paid and not transaction_id:
        raise ValueError("no transaction_id")
    try:
        success_time = _parse_time(data.get("success_time"))
    except ValueError:
        raise ValueError("bad success_time") from None
    payer = data.get("payer")
    openid = payer.get("openid") if isinstance(payer, dict) else None
    return PaymentNotice(
        out_trade_no=out_trade_no,
        transaction_id=transaction_id,
        total_fee=total,
        paid=paid,
        time_end=success_time,
        openid=openid if isinstance(openid, str) and openid else None,
        raw=dict(data),
    )


def refund_state_from(data: Mapping[str, Any]) -> RefundState:
    """A RefundState (v2's names for the states) from v3's refund object (query answer or
    decrypted notice; the notice names its state `refund_status`); ValueError when off."""
    out_trade_no, out_refund_no = data.get("out_trade_no"), data.get("out_refund_no")
    if not isinstance(out_trade_no, str) or not ORDER_NUMBER.fullmatch(out_trade_no):
        raise ValueError("bad refund numbers")
    if not isinstance(out_refund_no, str) or not 1 <= len(out_refund_no) <= 64:
        raise ValueError("bad refund numbers")
    amount = data.get("amount")
    refund = _fen(amount.get("refund")) if isinstance(amount, dict) else None
    if refund is None:
        raise ValueError("bad refund amount")
    status = V2_REFUND_STATES.get(str(data.get("refund_status") or data.get("status") or ""))
    if status is None:
        raise ValueError("bad refund status")
    try:
        success_time = _parse_time(data.get("success_time"))
    except ValueError:
        raise ValueError("bad success_time") from None
    refund_id = data.get("refund_id")
    return RefundState(
        out_trade_no=out_trade_no,
        out_refund_no=out_refund_no,
        refund_id=refund_id[:32] if isinstance(refund_id, str) else "",
        refund_fee=refund,
        status=status,
        success_time=success_time,
    )


@dataclass(frozen=True)
class V3Notice:
    """A verified v3 notification: its event type, and the payment or refund it reports."""

    event_type: str
    payment: PaymentNotice | None = None
    refund: RefundState | None = None


def parse_v3_notification(headers: Mapping[str, str], body: bytes, keys: V3Keys,
                          now: float | None = None) -> V3Notice:  # fmt: skip
    """Verify and decrypt a v3 notification; NotificationRejected when anything is off
    (`verified` once the resource decrypted with our APIv3 key: only WeChat, or whoever
    holds our keys, can have made it)."""
    if len(body) > MAX_NOTIFICATION_BYTES:
        raise NotificationRejected("body too large")
    why = check_signed(headers, body, keys, time.time() if now is None else now)
    if why is not None:
        raise NotificationRejected(why)
    try:
        outer = json.loads(body)
    except ValueError:
        raise NotificationRejected("malformed json") from None
    resource = outer.get("resource") if isinstance(outer, dict) else None
    if not isinstance(resource, dict) or resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise NotificationRejected("bad resource")
    parts = [resource.get(k) for k in ("nonce", "ciphertext", "associated_data")]
    parts[2] = parts[2] or ""
    if not all(isinstance(p, str) for p in parts) or not parts[0] or not parts[1]:
        raise NotificationRejected("bad resource")
    try:
        plain = aead_decrypt(keys.api_v3_key, *parts)  # type: ignore[arg-type]
        inner = json.loads(plain)
    except ValueError:
        raise NotificationRejected("resource does not decrypt") from None
    if not isinstance(inner, dict):
        raise NotificationRejected("resource does not decrypt")
    named = inner.get("out_trade_no")
    named = named if isinstance(named, str) and ORDER_NUMBER.fullmatch(named) else None

    def refuse(reason: str) -> NotificationRejected:
        return NotificationRejected(reason, named, verified=True)

    if not same_text(str(inner.get("mchid", "")), keys.mchid):
        raise refuse("mch_id mismatch")
    event_type = outer.get("event_type")
    if event_type == PAYMENT_EVENT:
        if not same_text(str(inner.get("appid", "")), keys.appid):
            raise refuse("appid mismatch")
        try:
            payment = notice_from_transaction(inner)
        except ValueError as exc:
            raise refuse(str(exc)) from None
        return V3Notice(PAYMENT_EVENT, payment=payment)
    if event_type in REFUND_EVENTS:
        try:
            refund = refund_state_from(inner)
        except ValueError as exc:
            raise refuse(str(exc)) from None
        if refund.status not in ("SUCCESS", "CHANGE", "REFUNDCLOSE"):
            raise refuse("bad refund status")
        return V3Notice(str(event_type), refund=refund)
    raise refuse("unknown event_type")


class V3Gateway:
    """WeChat Pay v3 behind the payments boundary (see `backend.payments.gateway`)."""

    version = "v3"
    payment_notify_path = "/api/v1/payments/wechat/v3/notify"
    refund_notify_path = "/api/v1/payments/wechat/v3/refund-notify"

    def __init__(self, settings: Settings) -> None:
        self.keys = V3Keys.from_settings(settings)
        self.client = V3Client(settings, self.keys)

    def create_jsapi_order(self, *, out_trade_no: str, description: str, total_fen: int,
                           openid: str, client_ip: str, attach: str, time_start: datetime,
                           time_expire: datetime, notify_url: str) -> str:  # fmt: skip
        """`/v3/pay/transactions/jsapi`: the prepay_id."""
        answer = self.client.call_json("POST", "/v3/pay/transactions/jsapi", {
            "appid": self.keys.appid,
            "mchid": self.keys.mchid,
            "description": description,
            "out_trade_no": out_trade_no,
            "time_expire": _rfc3339(time_expire),
            "attach": attach,
            "notify_url": notify_url,
            "amount": {"total": total_fen, "currency": "CNY"},
            "payer": {"openid": openid},
            "scene_info": {"payer_client_ip": client_ip},
        })  # fmt: skip
        prepay_id = answer.get("prepay_id")
        if not isinstance(prepay_id, str) or not prepay_id:
            raise _failure(None, "no prepay_id in the answer")
        return prepay_id

    def payment_parameters(self, prepay_id: str) -> dict[str, str]:
        """`wx.requestPayment`'s parameters (signType RSA)."""
        return pay_sign(self.keys, prepay_id)

    def query_order(self, out_trade_no: str) -> tuple[str, PaymentNotice | None]:
        """The order's trade_state, and its PaymentNotice when paid."""
        data = self.client.call_json(
            "GET",
            f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}"
            f"?mchid={quote(self.keys.mchid, safe='')}",
        )
        state = str(data.get("trade_state") or "")
        if state != "SUCCESS":
            return state, None
        if not same_text(str(data.get("mchid", "")), self.keys.mchid) or not same_text(
            str(data.get("appid", "")), self.keys.appid
        ):
            raise _failure(None, "answer names another merchant or app")
        try:
            return state, notice_from_transaction(data)
        except ValueError as exc:
            raise _failure(None, f"answer malformed: {exc}") from None

    def close_order(self, out_trade_no: str) -> None:
        """Close an unpaid order (204)."""
        self.client.call("POST", f"/v3/pay/transactions/out-trade-no/"
                         f"{quote(out_trade_no, safe='')}/close", {"mchid": self.keys.mchid})  # fmt: skip

    def apply_refund(self, *, out_trade_no: str, out_refund_no: str, total_fee: int,
                     refund_fee: int, reason: str, notify_url: str) -> dict[str, Any]:  # fmt: skip
        """`/v3/refund/domestic/refunds`: WeChat's answer (refund_id, status …)."""
        payload: dict[str, Any] = {
            "out_trade_no": out_trade_no,
            "out_refund_no": out_refund_no,
            "notify_url": notify_url,
            "amount": {"refund": refund_fee, "total": total_fee, "currency": "CNY"},
        }
        desc = truncated_desc(reason)
        if desc:
            payload["reason"] = desc
        return self.client.call_json("POST", "/v3/refund/domestic/refunds", payload)

    def query_refund(self, out_refund_no: str) -> RefundState | None:
        """The refund's state, or None when WeChat knows no such refund."""
        try:
            data = self.client.call_json(
                "GET", f"/v3/refund/domestic/refunds/{quote(out_refund_no, safe='')}"
            )
        except WeChatPayException as exc:
            if exc.errcode == "REFUNDNOTEXIST":
                return None
            raise
        try:
            return refund_state_from(data)
        except ValueError as exc:
            raise _failure(None, f"answer malformed: {exc}") from None

    def download_bill(self, day: date) -> str | None:
        """The day's trade bill (ALL) as CSV text, None when WeChat has none; the file's
        SHA1 is checked against the signed answer's `hash_value`."""
        try:
            data = self.client.call_json(
                "GET", f"/v3/bill/tradebill?bill_date={day:%Y-%m-%d}&bill_type=ALL"
            )
        except WeChatPayException as exc:
            if exc.errcode == NO_BILL:
                return None
            raise
        url = data.get("download_url")
        if not isinstance(url, str) or not url.startswith(self.client.base + "/"):
            raise _failure(None, "bill download_url not at WeChat Pay")
        # The file itself is not signed (WeChat's rule); its hash, in the signed answer, is.
        _, content = self.client.call("GET", url[len(self.client.base) :], signed_answer=False)
        expected = str(data.get("hash_value") or "").lower()
        digest = hashlib.sha1(content).hexdigest()  # noqa: S324 - WeChat's choice
        hash_type = str(data.get("hash_type") or "SHA1").upper()
        if hash_type != "SHA1" or not same_text(digest, expected):
            raise _failure(None, "bill hash mismatch")
        return content.decode("utf-8")


__all__ = [
    "PayV3Settings",
    "V3Gateway",
    "V3Keys",
    "V3Notice",
    "aead_decrypt",
    "aead_encrypt",
    "authorization",
    "check_signed",
    "parse_v3_notification",
    "pay_sign",
    "rsa_sign",
    "rsa_verifies",
    "signature_message",
]
