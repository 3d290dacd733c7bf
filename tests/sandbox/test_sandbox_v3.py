"""WeChat Pay APIv3 in the sandbox, spoken with `requests` and `cryptography` only.

The merchant side here is written from WeChat's v3 documents, like the sandbox, and
imports none of the sandbox's v3 code except for the documented message-format vector.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import secrets
import string
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from wechatpy.pay import WeChatPay
from werkzeug.wrappers import Request, Response

from backend.wechat_sandbox import DEFAULT_APPID, DEFAULT_MCH_ID, SandboxConfig, SandboxServer
from backend.wechat_sandbox.clock import BEIJING
from backend.wechat_sandbox.v3 import signing
from tests.sandbox.conftest import FAST
from tests.sandbox.support import Received, Receiver

OPENID = "oSandboxPayerV3000000000001"
SCHEME = "WECHATPAY2-SHA256-RSA2048"


# --- key material, made fresh for the module (never committed) ---------------------------


def _new_key() -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _self_signed(key: RSAPrivateKey, common_name: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )


@dataclass(frozen=True)
class Keys:
    """The merchant's and the sandbox's keys, and the files the sandbox reads."""

    directory: Path
    merchant_key: RSAPrivateKey
    merchant_cert: x509.Certificate
    pay_key: RSAPrivateKey
    pay_public: RSAPublicKey
    public_key_id: str
    api_v3_key: str

    @property
    def serial(self) -> str:
        return f"{self.merchant_cert.serial_number:X}"

    def env(self) -> dict[str, str]:
        return {
            "WECHAT_PAY_VERSION": "v3",
            "WECHAT_PAY_V3_KEY": self.api_v3_key,
            "WECHAT_MCH_KEY_PATH": str(self.directory / "apiclient_key.pem"),
            "WECHAT_MCH_CERT_PATH": str(self.directory / "apiclient_cert.pem"),
            "WECHAT_PAY_PUBLIC_KEY_PATH": str(self.directory / "pay_public.pem"),
            "WECHAT_PAY_PUBLIC_KEY_ID": self.public_key_id,
            "SANDBOX_PAY_PRIVATE_KEY_PATH": str(self.directory / "pay_private.pem"),
        }


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    directory = tmp_path_factory.mktemp("wechatpay-v3")
    merchant_key, pay_key = _new_key(), _new_key()
    cert = _self_signed(merchant_key, "1900000109")
    (directory / "apiclient_key.pem").write_bytes(_pem(merchant_key))
    (directory / "apiclient_cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "pay_private.pem").write_bytes(_pem(pay_key))
    (directory / "pay_public.pem").write_bytes(
        pay_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    alphabet = string.ascii_letters + string.digits
    return Keys(
        directory=directory,
        merchant_key=merchant_key,
        merchant_cert=cert,
        pay_key=pay_key,
        pay_public=pay_key.public_key(),
        public_key_id="PUB_KEY_ID_" + "".join(secrets.choice(string.digits) for _ in range(32)),
        api_v3_key="".join(secrets.choice(alphabet) for _ in range(32)),
    )


@pytest.fixture
def sandbox_config(keys: Keys) -> SandboxConfig:
    """The tests' sandbox, with v3 on, from the environment variables of the interface."""
    return replace(SandboxConfig.from_env(keys.env()), time_factor=FAST)


# --- the merchant's side ---------------------------------------------------------------------


def nonce(length: int = 32) -> str:
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(length))


def rsa_sign(key: RSAPrivateKey, message: str) -> str:
    raw = key.sign(message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(raw).decode()


def rsa_verify(key: RSAPublicKey, message: str, signature: str) -> bool:
    try:
        key.verify(
            base64.b64decode(signature), message.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature:
        return False
    return True


def answer_verifies(keys: Keys, headers: Any, body: bytes) -> bool:
    """WeChat's answer check: Wechatpay-Signature over timestamp, nonce and body."""
    message = f"{headers['Wechatpay-Timestamp']}\n{headers['Wechatpay-Nonce']}\n{body.decode()}\n"
    return headers["Wechatpay-Serial"] == keys.public_key_id and rsa_verify(
        keys.pay_public, message, headers["Wechatpay-Signature"]
    )


@dataclass
class Merchant:
    """Signs v3 requests as the merchant; every answer's signature is checked."""

    base: str
    keys: Keys

    def call(
        self,
        method: str,
        url: str,
        payload: dict[str, Any] | None = None,
        *,
        mchid: str = DEFAULT_MCH_ID,
        serial: str | None = None,
        timestamp: int | None = None,
        key: RSAPrivateKey | None = None,
        sign_body: str | None = None,
        authorization: str | None = None,
    ) -> requests.Response:
        """`url` is the path and query (what is signed); the answer must verify."""
        body = "" if payload is None else json.dumps(payload, ensure_ascii=False)
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        nonce_str = nonce()
        message = (
            f"{method}\n{url}\n{stamp}\n{nonce_str}\n{body if sign_body is None else sign_body}\n"
        )
        signature = rsa_sign(key or self.keys.merchant_key, message)
        header = authorization or (
            f'{SCHEME} mchid="{mchid}",nonce_str="{nonce_str}",signature="{signature}",'
            f'timestamp="{stamp}",serial_no="{serial or self.keys.serial}"'
        )
        response = requests.request(
            method,
            self.base + url.lstrip("/"),
            data=body.encode("utf-8") if body else None,
            headers={
                "Authorization": header,
                "Accept": "application/json",
                "Content-Type": "application/json",
            },
            timeout=10,
        )
        if response.status_code != 404 or response.content.startswith(b"{"):
            assert answer_verifies(self.keys, response.headers, response.content), response.text
        return response

    def order(self, notify_url: str, total: int = 100, **extra: Any) -> str:
        """A JSAPI order; returns its out_trade_no."""
        out_trade_no = "LS" + secrets.token_hex(8)
        payload = {
            "appid": DEFAULT_APPID,
            "mchid": DEFAULT_MCH_ID,
            "description": "邻善-社区图书角",
            "out_trade_no": out_trade_no,
            "time_expire": (datetime.now(BEIJING) + timedelta(minutes=30)).isoformat(
                timespec="seconds"
            ),
            "attach": "need:7",
            "notify_url": notify_url,
            "amount": {"total": total, "currency": "CNY"},
            "payer": {"openid": OPENID},
            **extra,
        }
        answer = self.call("POST", "/v3/pay/transactions/jsapi", payload)
        assert answer.status_code == 200, answer.text
        assert answer.json()["prepay_id"].startswith("wx")
        return out_trade_no

    def query(self, out_trade_no: str) -> requests.Response:
        return self.call(
            "GET", f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={DEFAULT_MCH_ID}"
        )


def decrypt(api_v3_key: str, resource: dict[str, str]) -> dict[str, Any]:
    """AEAD_AES_256_GCM as WeChat's 回调通知 page describes it."""
    assert resource["algorithm"] == "AEAD_AES_256_GCM"
    plain = AESGCM(api_v3_key.encode()).decrypt(
        resource["nonce"].encode(),
        base64.b64decode(resource["ciphertext"]),
        resource["associated_data"].encode(),
    )
    return json.loads(plain)


class V3Receiver(Receiver):
    """The merchant's notify endpoint: records headers too, checks and decrypts notices."""

    def __init__(self, keys: Keys, status: Callable[[int], int] = lambda index: 204) -> None:
        self.keys = keys
        self.status = status
        self.headers: list[dict[str, str]] = []
        super().__init__()

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        received = Received(
            path=request.path,
            args=dict(request.args),
            body=request.get_data(),
            content_type=request.content_type or "",
            at=time.monotonic(),
        )
        received.notes["headers"] = dict(request.headers)
        received.notes["verified"] = answer_verifies(self.keys, request.headers, received.body)
        with self._cond:
            index = len(self.received)
            self.received.append(received)
            self._cond.notify_all()
        code = self.status(index)
        if code in (200, 204):
            return Response(status=code)(environ, start_response)
        fail = json.dumps({"code": "FAIL", "message": "失败"}, ensure_ascii=False)
        return Response(fail, status=code, content_type="application/json")(environ, start_response)


@pytest.fixture
def merchant(sandbox: SandboxServer, keys: Keys) -> Merchant:
    return Merchant(sandbox.url, keys)


@pytest.fixture
def notify(keys: Keys) -> Iterator[Callable[..., V3Receiver]]:
    started: list[V3Receiver] = []

    def start(status: Callable[[int], int] = lambda index: 204) -> V3Receiver:
        started.append(V3Receiver(keys, status).start())  # type: ignore[arg-type]
        return started[-1]

    yield start
    for item in started:
        item.stop()


def sandbox_pay(sandbox: SandboxServer, out_trade_no: str, **extra: Any) -> requests.Response:
    return requests.post(
        sandbox.url + "sandbox/pay", json={"out_trade_no": out_trade_no, **extra}, timeout=10
    )


def deliveries(sandbox: SandboxServer, out_trade_no: str, **filters: str) -> list[dict]:
    answer = requests.get(
        sandbox.url + f"sandbox/notifications/{out_trade_no}",
        params={"wait": "5", **filters},
        timeout=10,
    ).json()
    assert not answer["pending"]
    return answer["notifications"]


# --- tests -------------------------------------------------------------------------------------


def test_message_formats_match_wechats_documented_example() -> None:
    # The request example of WeChat Pay's 签名生成 page, and the answer format of 签名验证.
    assert (
        signing.request_message(
            "GET", "/v3/certificates", "1554208460", "593BEC0C930BF1AFEB40B4A08C8FB242", ""
        )
        == "GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n"
    )
    assert signing.answer_message("1554209980", "c5ac7061fccab6bf3e254dcf98995b8c", "{}") == (
        "1554209980\nc5ac7061fccab6bf3e254dcf98995b8c\n{}\n"
    )
    parsed = signing.parse_authorization(
        'WECHATPAY2-SHA256-RSA2048 mchid="1900009191",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",'
        'signature="uOVRnA4qG/MNnYzdQxJanN+zU+lTgIcnU9BxGw5dKjK+VdEUz2FeIoC+D5sB/LN+nGzX3hfZg6r5'
        "wT1pl2ZobmIc6p0ldN7J6yDgUzbX8Uk3sD4a4eZVPTBvqNDoUqcYMlZ9uuDdCvNv4TM3c1WzsXUrExwVkI1XO5jCNb"
        "gDJ25nkT/c1gIFvqoogl7MdSFGc4W4xZsqCItnqbypR3RuGIlR9h9vlRsy7zJR9PBI83X8alLDIfR1ukt1P7tMnmog"
        'ZlYKRIdf3RPZv2TcVaZkL2ZiEP2Zk8CXT6eQ/JEnafi8Gr8WvGq+CDDiQRnkC8v6Q==",timestamp="1554208460",'
        'serial_no="1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C"'
    )
    assert parsed is not None
    assert parsed["mchid"] == "1900009191" and parsed["timestamp"] == "1554208460"
    assert parsed["serial_no"] == "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C"


def test_a_signed_order_is_served_and_the_answer_is_signed(
    sandbox: SandboxServer, merchant: Merchant, keys: Keys
) -> None:
    out_trade_no = merchant.order("https://merchant.example/pay/v3/notify")
    answer = merchant.query(out_trade_no)
    assert answer.status_code == 200
    assert answer.headers["Wechatpay-Serial"] == keys.public_key_id
    transaction = answer.json()
    assert transaction["trade_state"] == "NOTPAY" and transaction["trade_state_desc"]
    assert transaction["amount"] == {"total": 100, "currency": "CNY", "payer_currency": "CNY"}
    assert "transaction_id" not in transaction and transaction["payer"] == {"openid": OPENID}
    assert transaction["appid"] == DEFAULT_APPID and transaction["attach"] == "need:7"
    # Tampering with the answer breaks its signature (the check is not vacuous).
    assert not answer_verifies(keys, answer.headers, answer.content.replace(b"NOTPAY", b"SUCCES"))


@pytest.mark.parametrize(
    "forgery",
    [
        "bad_signature",
        "stale_timestamp",
        "future_timestamp",
        "unknown_serial",
        "another_mchid",
        "another_key",
        "body_changed",
        "no_header",
    ],
)
def test_requests_not_signed_right_are_refused(
    sandbox: SandboxServer, merchant: Merchant, keys: Keys, forgery: str
) -> None:
    payload = {"mchid": DEFAULT_MCH_ID}
    url = "/v3/pay/transactions/out-trade-no/LS0000000001/close"
    kwargs: dict[str, Any] = {
        "bad_signature": {"authorization": None, "key": None},
        "stale_timestamp": {"timestamp": int(time.time()) - 301},
        "future_timestamp": {"timestamp": int(time.time()) + 400},
        "unknown_serial": {"serial": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"},
        "another_mchid": {"mchid": "1900000999"},
        "another_key": {"key": _new_key()},
        "body_changed": {"sign_body": '{"mchid":"1900000999"}'},
        "no_header": {"authorization": "Bearer x"},
    }[forgery]
    if forgery == "bad_signature":
        stamp, nonce_str = str(int(time.time())), nonce()
        wrong = rsa_sign(keys.merchant_key, f"POST\n{url}\n{stamp}\n{nonce_str}\n{{}}\n")
        kwargs = {
            "authorization": f'{SCHEME} mchid="{DEFAULT_MCH_ID}",nonce_str="{nonce_str}",'
            f'signature="{wrong}",timestamp="{stamp}",serial_no="{keys.serial}"'
        }
    answer = merchant.call("POST", url, payload, **kwargs)
    assert answer.status_code == 401
    assert answer.json()["code"] == "SIGN_ERROR" and answer.json()["message"]
    # The same request signed right gets past authentication (to "no such order").
    good = merchant.call("POST", url, payload)
    assert good.status_code == 404 and good.json()["code"] == "ORDER_NOT_EXIST"


def test_order_pay_and_notification_with_signature_and_encrypted_resource(
    sandbox: SandboxServer, merchant: Merchant, notify: Callable[..., V3Receiver], keys: Keys
) -> None:
    receiver = notify()
    out_trade_no = merchant.order(receiver.url + "pay/v3/notify", total=2345)
    paid = sandbox_pay(sandbox, out_trade_no)
    assert paid.status_code == 200 and paid.json()["order"]["trade_state"] == "SUCCESS"

    [notice] = receiver.wait_for(1)
    assert notice.path == "/pay/v3/notify" and notice.content_type == "application/json"
    assert notice.notes["verified"] is True
    headers = notice.notes["headers"]
    assert abs(int(headers["Wechatpay-Timestamp"]) - time.time()) < 60
    body = json.loads(notice.body)
    assert body["event_type"] == "TRANSACTION.SUCCESS"
    assert body["resource_type"] == "encrypt-resource" and body["summary"] == "支付成功"
    assert body["resource"]["original_type"] == "transaction"
    assert datetime.fromisoformat(body["create_time"]).utcoffset() == timedelta(hours=8)
    transaction = decrypt(keys.api_v3_key, body["resource"])
    with pytest.raises(InvalidTag):
        decrypt("x" * 32, body["resource"])

    queried = merchant.query(out_trade_no).json()
    assert transaction == queried
    assert transaction["out_trade_no"] == out_trade_no and transaction["mchid"] == DEFAULT_MCH_ID
    assert transaction["trade_state"] == "SUCCESS" and len(transaction["transaction_id"]) == 28
    assert transaction["amount"] == {
        "total": 2345,
        "payer_total": 2345,
        "currency": "CNY",
        "payer_currency": "CNY",
    }
    assert transaction["payer"] == {"openid": OPENID} and transaction["attach"] == "need:7"
    assert datetime.fromisoformat(transaction["success_time"]) <= datetime.now(UTC)
    by_id = merchant.call(
        "GET", f"/v3/pay/transactions/id/{transaction['transaction_id']}?mchid={DEFAULT_MCH_ID}"
    )
    assert by_id.json() == queried
    [job] = deliveries(sandbox, out_trade_no)
    assert job["status"] == "succeeded" and [a["status_code"] for a in job["attempts"]] == [204]


def test_a_merchant_answering_500_gets_retries_on_wechats_schedule(
    sandbox: SandboxServer, merchant: Merchant, notify: Callable[..., V3Receiver]
) -> None:
    receiver = notify(lambda index: 500 if index < 3 else 200)
    out_trade_no = merchant.order(receiver.url + "notify")
    sandbox_pay(sandbox, out_trade_no)
    notices = receiver.wait_for(4)
    assert len(notices) == 4 and all(n.notes["verified"] for n in notices)
    [job] = deliveries(sandbox, out_trade_no)
    assert job["status"] == "succeeded"
    assert [a["status_code"] for a in job["attempts"]] == [500, 500, 500, 200]
    assert [a["delay_seconds"] for a in job["attempts"]] == [0, 15 / FAST, 15 / FAST, 30 / FAST]
    # Every attempt is signed afresh: its own nonce.
    assert len({n.notes["headers"]["Wechatpay-Nonce"] for n in notices}) == 4


def test_a_merchant_that_never_accepts_gets_the_whole_schedule(
    sandbox: SandboxServer, merchant: Merchant, notify: Callable[..., V3Receiver]
) -> None:
    receiver = notify(lambda index: 400)
    out_trade_no = merchant.order(receiver.url + "notify")
    sandbox_pay(sandbox, out_trade_no)
    [job] = deliveries(sandbox, out_trade_no)
    assert job["status"] == "gave_up" and len(job["attempts"]) == 16
    assert len(receiver.received) == 16


@pytest.mark.parametrize(
    "fail", ["signature", "key", "ciphertext", "serial", "timestamp", "amount"]
)
def test_forged_notices_for_v3_orders(
    sandbox: SandboxServer,
    merchant: Merchant,
    notify: Callable[..., V3Receiver],
    keys: Keys,
    fail: str,
) -> None:
    receiver = notify(lambda index: 401)
    out_trade_no = merchant.order(receiver.url + "notify", total=500)
    answer = sandbox_pay(sandbox, out_trade_no, fail=fail)
    assert answer.status_code == 200 and answer.json()["order"]["trade_state"] == "NOTPAY"
    [notice] = receiver.wait_for(1)
    headers = notice.notes["headers"]
    resource = json.loads(notice.body)["resource"]
    stamp = int(headers["Wechatpay-Timestamp"])
    message = f"{stamp}\n{headers['Wechatpay-Nonce']}\n{notice.body.decode()}\n"
    genuine = rsa_verify(keys.pay_public, message, headers["Wechatpay-Signature"])
    if fail in ("signature", "serial"):
        assert not genuine
        assert (headers["Wechatpay-Serial"] == keys.public_key_id) == (fail == "signature")
    else:
        assert genuine and headers["Wechatpay-Serial"] == keys.public_key_id
    assert (time.time() - stamp > 300) == (fail == "timestamp")
    if fail in ("key", "ciphertext"):
        with pytest.raises(InvalidTag):
            decrypt(keys.api_v3_key, resource)
    else:
        total = decrypt(keys.api_v3_key, resource)["amount"]["total"]
        assert (total != 500) == (fail == "amount")
    [job] = deliveries(sandbox, out_trade_no)
    assert len(job["attempts"]) == 1  # a forgery is sent once
    assert merchant.query(out_trade_no).json()["trade_state"] == "NOTPAY"


def test_v2_failure_mode_has_no_v3_notice(sandbox: SandboxServer, merchant: Merchant) -> None:
    out_trade_no = merchant.order("https://merchant.example/notify")
    answer = sandbox_pay(sandbox, out_trade_no, fail="result")
    assert answer.status_code == 400 and "signature" in answer.json()["error"]


def test_repeat_query_close(
    sandbox: SandboxServer, merchant: Merchant, notify: Callable[..., V3Receiver]
) -> None:
    url = "https://merchant.example/pay/v3/notify"
    out_trade_no = merchant.order(url)
    payload = merchant.query(out_trade_no).json()
    assert payload["trade_state"] == "NOTPAY"
    other = {
        "appid": DEFAULT_APPID,
        "mchid": DEFAULT_MCH_ID,
        "description": "另一笔",
        "out_trade_no": out_trade_no,
        "notify_url": url,
        "amount": {"total": 100},
        "payer": {"openid": OPENID},
    }
    reused = merchant.call("POST", "/v3/pay/transactions/jsapi", other)
    assert reused.status_code == 403 and reused.json()["code"] == "OUT_TRADE_NO_USED"
    wrong_appid = merchant.call(
        "POST", "/v3/pay/transactions/jsapi", {**other, "appid": "wx0000000000other"}
    )
    assert wrong_appid.status_code == 403 and wrong_appid.json()["code"] == "APPID_MCHID_NOT_MATCH"
    bad_amount = merchant.call(
        "POST", "/v3/pay/transactions/jsapi", {**other, "amount": {"total": "100"}}
    )
    assert bad_amount.status_code == 400 and bad_amount.json()["code"] == "PARAM_ERROR"

    close_url = f"/v3/pay/transactions/out-trade-no/{out_trade_no}/close"
    closed = merchant.call("POST", close_url, {"mchid": DEFAULT_MCH_ID})
    assert closed.status_code == 204 and closed.content == b""
    assert merchant.call("POST", close_url, {"mchid": DEFAULT_MCH_ID}).status_code == 204
    assert merchant.query(out_trade_no).json()["trade_state"] == "CLOSED"
    assert sandbox_pay(sandbox, out_trade_no).status_code == 409
    again = merchant.call("POST", "/v3/pay/transactions/jsapi", other)
    assert again.status_code == 400 and again.json()["code"] == "ORDER_CLOSED"

    missing = merchant.query("LSnosuchorder")
    assert missing.status_code == 404 and missing.json() == {
        "code": "ORDER_NOT_EXIST",
        "message": "订单不存在",
    }
    wrong_mchid = merchant.call(
        "GET", f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=1900000999"
    )
    assert wrong_mchid.status_code == 400 and wrong_mchid.json()["code"] == "PARAM_ERROR"

    paid_no = merchant.order(notify().url + "notify")
    sandbox_pay(sandbox, paid_no)
    refused = merchant.call(
        "POST",
        f"/v3/pay/transactions/out-trade-no/{paid_no}/close",
        {"mchid": DEFAULT_MCH_ID},
    )
    assert refused.status_code == 400 and refused.json()["code"] == "ORDERPAID"


def test_refund_notice_and_query(
    sandbox: SandboxServer, merchant: Merchant, notify: Callable[..., V3Receiver], keys: Keys
) -> None:
    payments = notify()
    refunds = notify(lambda index: 500 if index == 0 else 204)
    out_trade_no = merchant.order(payments.url + "notify", total=1000)
    sandbox_pay(sandbox, out_trade_no)
    transaction_id = merchant.query(out_trade_no).json()["transaction_id"]
    ask = {
        "out_trade_no": out_trade_no,
        "out_refund_no": "RF" + secrets.token_hex(6),
        "reason": "项目取消",
        "notify_url": refunds.url + "refund/notify",
        "amount": {"refund": 300, "total": 1000, "currency": "CNY"},
    }
    created = merchant.call("POST", "/v3/refund/domestic/refunds", ask)
    assert created.status_code == 200, created.text
    refund = created.json()
    assert refund["status"] == "PROCESSING" and refund["out_refund_no"] == ask["out_refund_no"]
    assert refund["transaction_id"] == transaction_id and refund["channel"] == "ORIGINAL"
    assert refund["amount"]["refund"] == 300 and refund["amount"]["total"] == 1000
    same = merchant.call("POST", "/v3/refund/domestic/refunds", ask).json()
    assert same["refund_id"] == refund["refund_id"]

    first, second = refunds.wait_for(2)
    assert first.notes["verified"] and second.notes["verified"]
    body = json.loads(second.body)
    assert body["event_type"] == "REFUND.SUCCESS" and body["summary"] == "退款成功"
    assert body["resource"]["original_type"] == "refund"
    notice = decrypt(keys.api_v3_key, body["resource"])
    assert notice["out_refund_no"] == ask["out_refund_no"]
    assert notice["refund_id"] == refund["refund_id"] and notice["refund_status"] == "SUCCESS"
    assert notice["transaction_id"] == transaction_id and notice["out_trade_no"] == out_trade_no
    assert notice["amount"] == {
        "total": 1000,
        "refund": 300,
        "payer_total": 1000,
        "payer_refund": 300,
    }
    [job] = deliveries(sandbox, out_trade_no, kind="refund")
    assert [a["status_code"] for a in job["attempts"]] == [500, 204]

    queried = merchant.call("GET", f"/v3/refund/domestic/refunds/{ask['out_refund_no']}").json()
    assert queried["status"] == "SUCCESS" and queried["success_time"]
    assert queried["refund_id"] == refund["refund_id"]
    assert merchant.query(out_trade_no).json()["trade_state"] == "REFUND"

    too_much = merchant.call(
        "POST",
        "/v3/refund/domestic/refunds",
        {
            **ask,
            "out_refund_no": "RF" + secrets.token_hex(6),
            "amount": {"refund": 701, "total": 1000},
        },
    )
    assert too_much.status_code == 403 and too_much.json()["code"] == "NOT_ENOUGH"
    by_id = merchant.call(
        "POST",
        "/v3/refund/domestic/refunds",
        {
            "transaction_id": transaction_id,
            "out_refund_no": "RF" + secrets.token_hex(6),
            "amount": {"refund": 700, "total": 1000, "currency": "CNY"},
        },
    )
    assert by_id.status_code == 200 and by_id.json()["amount"]["refund"] == 700
    changed = merchant.call(
        "POST", "/v3/refund/domestic/refunds", {**ask, "amount": {"refund": 1, "total": 1000}}
    )
    assert changed.status_code == 400 and changed.json()["code"] == "PARAM_ERROR"
    unknown = merchant.call("GET", "/v3/refund/domestic/refunds/RFnosuchrefund")
    assert unknown.status_code == 404 and unknown.json()["code"] == "RESOURCE_NOT_EXISTS"
    unpaid = merchant.order(payments.url + "notify")
    refused = merchant.call(
        "POST",
        "/v3/refund/domestic/refunds",
        {**ask, "out_trade_no": unpaid, "out_refund_no": "RF" + secrets.token_hex(6)},
    )
    assert refused.status_code == 400 and refused.json()["code"] == "INVALID_REQUEST"


@pytest.mark.parametrize("status", ["ABNORMAL", "CLOSED"])
def test_a_refund_can_end_abnormal_or_closed(
    sandbox: SandboxServer,
    merchant: Merchant,
    notify: Callable[..., V3Receiver],
    keys: Keys,
    status: str,
) -> None:
    receiver = notify()
    out_trade_no = merchant.order(receiver.url + "notify", total=800)
    sandbox_pay(sandbox, out_trade_no)
    out_refund_no = "RF" + secrets.token_hex(6)
    planned = requests.post(
        sandbox.url + "sandbox/refund-outcome",
        json={"out_refund_no": out_refund_no, "status": status},
        timeout=10,
    )
    assert planned.status_code == 200
    ask = {
        "out_trade_no": out_trade_no,
        "out_refund_no": out_refund_no,
        "notify_url": receiver.url + "refund/notify",
        "amount": {"refund": 800, "total": 800, "currency": "CNY"},
    }
    assert merchant.call("POST", "/v3/refund/domestic/refunds", ask).json()["status"] == (
        "PROCESSING"
    )
    notices = [n for n in receiver.wait_for(2) if n.path == "/refund/notify"]
    [notice] = notices
    body = json.loads(notice.body)
    assert notice.notes["verified"] and body["event_type"] == f"REFUND.{status}"
    refund = decrypt(keys.api_v3_key, body["resource"])
    assert refund["refund_status"] == status and "success_time" not in refund
    queried = merchant.call("GET", f"/v3/refund/domestic/refunds/{out_refund_no}").json()
    assert queried["status"] == status and "success_time" not in queried
    again = requests.post(
        sandbox.url + "sandbox/refund-outcome",
        json={"out_refund_no": out_refund_no, "status": status},
        timeout=10,
    )
    assert again.status_code == 409


def test_trade_bill(
    sandbox: SandboxServer, merchant: Merchant, notify: Callable[..., V3Receiver]
) -> None:
    receiver = notify()
    out_trade_no = merchant.order(receiver.url + "notify", total=1234)
    sandbox_pay(sandbox, out_trade_no)
    transaction_id = merchant.query(out_trade_no).json()["transaction_id"]
    today = datetime.now(BEIJING).date().isoformat()
    answer = merchant.call("GET", f"/v3/bill/tradebill?bill_date={today}&bill_type=ALL")
    assert answer.status_code == 200, answer.text
    bill = answer.json()
    assert bill["hash_type"] == "SHA1" and bill["download_url"].startswith(sandbox.url)
    path = bill["download_url"][len(sandbox.url) - 1 :]
    file = _download(merchant, path)
    assert hashlib.sha1(file).hexdigest() == bill["hash_value"]  # noqa: S324
    text = file.decode("utf-8")
    lines = text.split("\r\n")
    assert lines[0].startswith("交易时间,公众账号ID,商户号")
    [row] = [line for line in lines if out_trade_no in line]
    assert f"`{transaction_id}" in row and "`12.34" in row and "`SUCCESS" in row
    assert lines[-3].startswith("总交易单数") and lines[-2].startswith("`1,`12.34")

    gz = merchant.call("GET", f"/v3/bill/tradebill?bill_date={today}&tar_type=GZIP").json()
    packed = _download(merchant, gz["download_url"][len(sandbox.url) - 1 :])
    assert hashlib.sha1(packed).hexdigest() == gz["hash_value"]  # noqa: S324
    assert gzip.decompress(packed) == file

    empty_day = (datetime.now(BEIJING) - timedelta(days=3)).date().isoformat()
    none = merchant.call("GET", f"/v3/bill/tradebill?bill_date={empty_day}")
    assert none.status_code == 400 and none.json()["code"] == "NO_STATEMENT_EXIST"
    bad = merchant.call("GET", "/v3/bill/tradebill?bill_date=20250101")
    assert bad.status_code == 400 and bad.json()["code"] == "PARAM_ERROR"
    lost = _raw_download(merchant, "/v3/billdownload/file?token=nosuchtoken")
    assert lost.status_code == 404


def _raw_download(merchant: Merchant, url: str) -> requests.Response:
    stamp, nonce_str = str(int(time.time())), nonce()
    signature = rsa_sign(merchant.keys.merchant_key, f"GET\n{url}\n{stamp}\n{nonce_str}\n\n")
    header = (
        f'{SCHEME} mchid="{DEFAULT_MCH_ID}",nonce_str="{nonce_str}",signature="{signature}",'
        f'timestamp="{stamp}",serial_no="{merchant.keys.serial}"'
    )
    return requests.get(
        merchant.base + url.lstrip("/"), headers={"Authorization": header}, timeout=10
    )


def _download(merchant: Merchant, url: str) -> bytes:
    """The bill file: a signed GET; the file itself is not signed."""
    response = _raw_download(merchant, url)
    assert response.status_code == 200
    assert "Wechatpay-Signature" not in response.headers
    return response.content


def test_v3_is_served_only_when_configured(keys: Keys) -> None:
    with SandboxServer(SandboxConfig(time_factor=FAST)) as plain:
        answer = requests.post(plain.url + "v3/pay/transactions/jsapi", json={}, timeout=10)
        assert answer.status_code == 404
    config = SandboxConfig.from_env(keys.env())
    assert config.v3_enabled and config.pay_public_key_id == keys.public_key_id
    assert not SandboxConfig.from_env({}).v3_enabled
    with pytest.raises(ValueError, match="32"):
        SandboxConfig.from_env({**keys.env(), "WECHAT_PAY_V3_KEY": "short"})
    without_cert = {k: v for k, v in keys.env().items() if k != "WECHAT_MCH_CERT_PATH"}
    with pytest.raises(ValueError, match="WECHAT_MCH_CERT_PATH"):
        SandboxConfig.from_env(without_cert)
    missing_file = {**keys.env(), "SANDBOX_PAY_PRIVATE_KEY_PATH": str(keys.directory / "none.pem")}
    with pytest.raises(ValueError, match="cannot read"):
        SandboxServer(SandboxConfig.from_env(missing_file))


def test_platform_certificate_mode_names_the_certificate(keys: Keys, tmp_path: Path) -> None:
    certs = tmp_path / "platform"
    certs.mkdir()
    stranger = _self_signed(_new_key(), "Tenpay.com Root CA other")
    mine = _self_signed(keys.pay_key, "Tenpay.com Root CA")
    (certs / "a.pem").write_bytes(stranger.public_bytes(serialization.Encoding.PEM))
    (certs / "b.pem").write_bytes(mine.public_bytes(serialization.Encoding.PEM))
    env = {k: v for k, v in keys.env().items() if k != "WECHAT_PAY_PUBLIC_KEY_ID"}
    env["WECHAT_PAY_PLATFORM_CERTS_DIR"] = str(certs)
    config = replace(SandboxConfig.from_env(env), time_factor=FAST)
    with SandboxServer(config) as server:
        serial = f"{mine.serial_number:X}"
        answer = Merchant(server.url, replace(keys, public_key_id=serial))
        response = answer.query("LSnosuchorder")
        assert response.status_code == 404
        assert int(response.headers["Wechatpay-Serial"], 16) == mine.serial_number


def test_v2_orders_keep_their_xml_notices(
    sandbox: SandboxServer, pay: WeChatPay, receiver: Callable[..., Receiver]
) -> None:
    merchant_v2 = receiver()
    created = pay.order.create(
        trade_type="JSAPI",
        body="邻善-社区图书角",
        total_fee=100,
        notify_url=merchant_v2.url + "pay/notify",
        client_ip="127.0.0.1",
        user_id=OPENID,
        out_trade_no="LS" + secrets.token_hex(8),
    )
    assert created["result_code"] == "SUCCESS"
    out_trade_no = requests.get(sandbox.url + "sandbox/orders", timeout=10).json()["orders"][0][
        "out_trade_no"
    ]
    assert sandbox_pay(sandbox, out_trade_no).status_code == 200
    [notice] = merchant_v2.wait_for(1)
    assert notice.content_type.startswith("text/xml") and notice.body.startswith(b"<xml>")
    assert pay.parse_payment_result(notice.body)["out_trade_no"] == out_trade_no
