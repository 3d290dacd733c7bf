"""WeChat Pay v3: fixed vectors, the notification checks, the configuration, and the
donation path end to end on the v3 app and sandbox pair.

WeChat's pages document the message formats (the signing guide's
`GET\\n/v3/certificates\\n1554208460\\n593BEC0C930BF1AFEB40B4A08C8FB242\\n\\n`), not a key
with its signatures: the fixed signatures and the ciphertext below were computed once with
`cryptography` (RSA PKCS#1 v1.5 signatures are deterministic), independently of the adapter,
and wechatpayv3's own utilities are asked to agree.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from wechatpayv3 import utils as wechatpayv3_utils
from wechatpy.exceptions import WeChatPayException

from backend.config import ConfigError, Settings
from backend.donations.models import Donation, PaymentNotification, RejectedNotification
from backend.extensions import db
from backend.ledger.models import JournalEntry
from backend.needs.models import Need, NeedStatus
from backend.payments.gateway import get_gateway
from backend.payments.v3 import (
    V3Keys,
    aead_decrypt,
    authorization,
    check_signed,
    parse_v3_notification,
    pay_sign,
    rsa_sign,
    rsa_verifies,
    signature_message,
)
from backend.payments.v3_keys import make_sandbox_keys
from backend.payments.wechat_pay import NotificationRejected
from tests.payments_support import sandbox_pay, wait_deliveries
from tests.permissions import login
from tests.v3_support import (
    NOTIFY,
    REFUND_NOTIFY,
    assert_signed_payment,
    notification,
    resign,
    transaction,
)

#: a fixed merchant key for the vectors (made for these tests, no account's)
VECTOR_KEY_PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQC24gfAeLl4Qc+S\n"
    "tJA0R8a8XiGewv5f1/5ZcvLrJQSYfnPARtSy5GyIyIhgR5C2G3/TACIaieJq9R3L\n"
    "7rgWKaB8J3wThVe7xKbcqCTM71s6f/cEX1S0dddayYJmSfspLPm+3RKPKyXh6yLU\n"
    "k3FH3WATzWJLsdXiuJuw6Pd71KOG+I8hTqNVwaYirSkgxM/3TIGQVtfcyubOFJoh\n"
    "bXqIyhsS4epKERIUjOh+JQnfyPtcWxoP4BGJS1+PWXmhSG/JGQeI5vGFyGVrgqyy\n"
    "nwPXTdplVkozFqsOYpYGB2namwQM2H5v7hVSqZxdCIVE8JBprEl+UESWaZni3RrC\n"
    "CosnlwsZAgMBAAECggEABNk6PmKU/Di2cZvC5PfwL2dJeeWOi+j0j9eJ1C0fkZFs\n"
    "rTDTi8idjgTPBMpw7jsNaQEsZkq4i4BjIVh7Xe8Nl60OT5At8sb0a44zp5FC+GqT\n"
    "GHUUkFI9euUzxVV5yK4uEt7WkqAguXwb6Mnd63tVhEDiNcKJuqCNVCPhB9Hr4fSi\n"
    "kZlG6OdulSfaZ0T7iqPCwwAfd/EBCEeD68trLQAQ9GJaeGzzv4mLJQwJhT8+he/j\n"
    "0+7fFcjJyWiKx87oN7LJqdhSrqELAbqMdaitAugWqbCyk41bqYPIn/vTg0gLWNnH\n"
    "MQbs1dm999lDrWGFZQY9ZWH0wi2jG5eNFraYZizO1wKBgQDaDd/oAxEA86AcM1iI\n"
    "LAnZYrfGDvRvnGzOwxodLmnSeA9Y4oUYBeVG6eaE2Wmo5iLR96NRd/9zaCQ4qddi\n"
    "/5uxKigKlDiSgcwJJxL4rNrfPTWadxBIzGyMIQmNtCPLq29ECwfoIjn3TUmkI255\n"
    "XIuXwqlmVN4dSwI69wd5gRzWawKBgQDWtU5jxwlrHqHacjEBM3UigQggTrBh735c\n"
    "5JME43BGxTXlMuKDKCzMSzYchTEEo/srwha7/ilJnDg/Er7EWtZ/T3+K8CEBbofU\n"
    "zJOuHBGnbXiIzOeh2lESsgUUfcFP+FcsR0RYiidUFfkl17x4ERYGI8ScFNfW4LC1\n"
    "d8//7g2diwKBgCEP84BJXr2nMwKzolvbWY71kendAKEftbvQB1ifXfpErAcNKaMP\n"
    "2cjb1FEWahfq9SKjCsdii4AjLULONdNT8HZ3buTTvpQwTBCjNRQxmWo57LPEE9sF\n"
    "6/t/UuSCiN7r2o4VohhHgESIGn9hw/Fw39Wd9XOHsLn+UpNAO4jn08iLAoGBAM//\n"
    "qqZMjppAfanC0CiKsiIwADBUKtllivPw12B3+TAGIvUcO4W16Ngs0IoGmfsV5OB6\n"
    "UU3jphnShkbMIRTVr1B8MmHlyQO7EUmcukCEnrGlAoz8fDU26y2CWhuEzD5tpf2W\n"
    "OObRR9JUyx3XBpUGcGCYTAKsyoA3Adl67XzRIE2LAoGBALRJNxinkvEBRiEACqYk\n"
    "pwW+PvgItaJPmsdfmbLLGRNKcn7mo0T4YfGnucT9CtLveIHowySoJaKo4nAZOQzi\n"
    "FoA3p/x5WHtyU14gc/YlV+TP7/FeuGja8WykX+hnPGjHAqM61NJwNAe1yzZLawmy\n"
    "zWxLa9SbQvxp31jdIzyasvsn\n"
    "-----END PRIVATE KEY-----\n"
)
#: WeChat's signing guide's example message (a GET of /v3/certificates, empty body)
DOC_MESSAGE = b"GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n"
DOC_MESSAGE_SIGNATURE = (
    "ecm4AVWjyqYc9HNP097YlI+2kc10JI+C4CgfJ/zrM3nLCmjYLbJ2WihNfLobV2IqzFQPTxA7QVVPu2/J"
    "NXukYzxbVZTdjdb1l6yIM/rB6u1RcYhMwQocFYkvHh0mv0szVRUvdoBqrkluz/PPLsTtHWJTCWQ3eVTr"
    "q1EEa7QMih64EAENRJbeLy2Ngh4jIRqf52RuPxh5JwqlofxOzSQOweA1D/BinLRVsyrrXWrF9neIWHQy"
    "k74EMkLEZLtrByxq2JqxxRY5PJBRIWxBz2p0qcTEJxnGeQWiF0Yse8OgX41mi9TlfCjdaXhWt1iSHCv/"
    "hduU+5XKNmwVyA8T+ETLsQ=="
)
PAY_SIGN = (
    "a+e6LYBGLhrwzf2ZHoC+SCXvZsfq2VlioiulH4tiQ7mbb6zreI8JdtE0eZ1S32I3e7jBrTad/B1k9bSf"
    "iZWSBcduDfILH22vRQY1Vl1QDVnkD4PpbNZO8aL7SBHrGtu1rN9SEINNIp0DsrFgSiYNy1b9sg+2ynoN"
    "EyZfreE2CubwLNzwNy7nii4i3nmSV/X7HiEp5KS1QrB9xRrOjnI18ZGiVtehAUurkvsfo+C7Nalpbytp"
    "VasgHuhhqRlGh85JyiYucbd7pvsfJxCg48WKgd15V6VC503XXNxFym4XFvGKr5gng/+cNWC7AOTWWHks"
    "MAZsFdyHRrO9GAPdL+iI1Q=="
)
#: requestPayment's example values (the prepay_id of WeChat's JSAPI guide)
PAY_APPID, PAY_TIME, PAY_NONCE = (
    "wx0000000000sandbox",
    1700000000,
    "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
)
PAY_PREPAY_ID = "wx201410272009395522657a690389285100"
#: AEAD_AES_256_GCM: key, nonce, associated data, plaintext and WeChat's ciphertext form
AEAD_KEY = "V3VectorKey0123456789abcdefABCDE"
AEAD_NONCE, AEAD_DATA = "0123456789ab", "transaction"
AEAD_PLAIN = b'{"out_trade_no":"LS1","amount":{"total":100}}'
AEAD_CIPHERTEXT = (
    "dL9SSy/df0ybIdAoOCBNrCBqKR3q8kSCXU7vm+FxWAkEef9V2F/UuEuvNcu/OIGhpGUiY8WDHniRZB5Rlg=="
)

DOC_PATH = "/v3/pay/transactions/jsapi"


def vector_key() -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(VECTOR_KEY_PEM.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def vector_keys(**changes: object) -> V3Keys:
    fields: dict = {
        "mchid": "1900000109",
        "appid": PAY_APPID,
        "merchant_key": vector_key(),
        "merchant_serial": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
        "api_v3_key": AEAD_KEY.encode(),
        "wechat_keys": {"PUB_KEY_ID_0114232134912410000000000000000000": vector_key().public_key()},
    }
    fields.update(changes)
    return V3Keys(**fields)


# ---- fixed vectors ---------------------------------------------------------------------


def test_the_signed_message_is_wechats_documented_format() -> None:
    assert signature_message("GET", "/v3/certificates", "1554208460",
                             "593BEC0C930BF1AFEB40B4A08C8FB242", "") == DOC_MESSAGE  # fmt: skip


def test_the_documented_message_signs_to_the_fixed_signature() -> None:
    key = vector_key()
    assert rsa_sign(key, DOC_MESSAGE) == DOC_MESSAGE_SIGNATURE
    assert wechatpayv3_utils.rsa_sign(key, DOC_MESSAGE.decode()) == DOC_MESSAGE_SIGNATURE
    assert rsa_verifies(key.public_key(), DOC_MESSAGE, DOC_MESSAGE_SIGNATURE)
    assert not rsa_verifies(key.public_key(), DOC_MESSAGE + b"x", DOC_MESSAGE_SIGNATURE)
    assert not rsa_verifies(key.public_key(), DOC_MESSAGE, "not base64!")


def test_request_authorization_is_what_wechat_checks() -> None:
    body = '{"appid":"wx0000000000sandbox","amount":{"total":1}}'
    header = authorization(vector_keys(), "POST", DOC_PATH, body, timestamp=1554208460,
                           nonce="593BEC0C930BF1AFEB40B4A08C8FB242")  # fmt: skip
    scheme, _, params = header.partition(" ")
    assert scheme == "WECHATPAY2-SHA256-RSA2048"
    fields = dict(part.split("=", 1) for part in params.split(","))
    fields = {k: v.strip('"') for k, v in fields.items()}
    assert fields["mchid"] == "1900000109"
    assert fields["serial_no"] == "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
    assert fields["timestamp"] == "1554208460"
    message = f"POST\n{DOC_PATH}\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{body}\n"
    # wechatpayv3 signs the same string to the same bytes (PKCS#1 v1.5 is deterministic)
    assert fields["signature"] == wechatpayv3_utils.rsa_sign(vector_key(), message)
    vector_key().public_key().verify(base64.b64decode(fields["signature"]), message.encode(),
                                     padding.PKCS1v15(), hashes.SHA256())  # fmt: skip


def test_request_payment_parameters_are_signed_as_v3_wants() -> None:
    params = pay_sign(vector_keys(), PAY_PREPAY_ID, timestamp=PAY_TIME, nonce=PAY_NONCE)
    assert params == {
        "appId": PAY_APPID,
        "timeStamp": str(PAY_TIME),
        "nonceStr": PAY_NONCE,
        "package": f"prepay_id={PAY_PREPAY_ID}",
        "signType": "RSA",
        "paySign": PAY_SIGN,
    }


def test_aead_vector_decrypts_and_nothing_else_does() -> None:
    key = AEAD_KEY.encode()
    assert aead_decrypt(key, AEAD_NONCE, AEAD_CIPHERTEXT, AEAD_DATA) == AEAD_PLAIN
    assert wechatpayv3_utils.aes_decrypt(AEAD_NONCE, AEAD_CIPHERTEXT, AEAD_DATA,
                                         AEAD_KEY) == AEAD_PLAIN.decode()  # fmt: skip
    raw = bytearray(base64.b64decode(AEAD_CIPHERTEXT))
    raw[3] ^= 0x20
    tampered = base64.b64encode(bytes(raw)).decode()
    for args in (
        (b"another-apiv3-key-of-32-bytes!!!", AEAD_NONCE, AEAD_CIPHERTEXT, AEAD_DATA),
        (key, AEAD_NONCE, tampered, AEAD_DATA),
        (key, "ba9876543210", AEAD_CIPHERTEXT, AEAD_DATA),
        (key, AEAD_NONCE, AEAD_CIPHERTEXT, "refund"),
        (key, AEAD_NONCE, "%%%", AEAD_DATA),
    ):
        with pytest.raises(ValueError, match="does not decrypt"):
            aead_decrypt(*args)


# ---- notification checks, on their own ------------------------------------------------


@pytest.fixture(scope="module")
def keyset(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], V3Keys]:
    """Sandbox key material and the adapter's keys loaded from it through Settings."""
    env = make_sandbox_keys(tmp_path_factory.mktemp("v3keys"))
    settings = Settings.from_env({"APP_ENV": "development", **env})
    return env, V3Keys.from_settings(settings)


@pytest.fixture(scope="module")
def other_key_pem(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A private key WeChat never had."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path_factory.mktemp("other") / "other.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))  # fmt: skip
    return str(path)


def test_a_genuine_payment_notice_parses(keyset) -> None:
    env, keys = keyset
    body, headers = notification(env, transaction("LS20261123120000abcdef", 5000))
    notice = parse_v3_notification(headers, body, keys)
    assert notice.event_type == "TRANSACTION.SUCCESS"
    payment = notice.payment
    assert payment is not None and notice.refund is None
    assert (payment.out_trade_no, payment.total_fee, payment.paid) == (
        "LS20261123120000abcdef", 5000, True)  # fmt: skip
    assert payment.transaction_id.startswith("42000")
    assert payment.time_end is not None and payment.time_end.isoformat() == (
        "2026-11-23T12:00:00+08:00"
    )
    assert payment.openid == "o" + "x" * 27


@pytest.mark.parametrize(("event", "status", "ours"), [
    ("REFUND.SUCCESS", "SUCCESS", "SUCCESS"),
    ("REFUND.ABNORMAL", "ABNORMAL", "CHANGE"),
    ("REFUND.CLOSED", "CLOSED", "REFUNDCLOSE"),
])  # fmt: skip
def test_a_genuine_refund_notice_parses(keyset, event, status, ours) -> None:
    env, keys = keyset
    inner = {"mchid": env.get("WECHAT_MCH_ID", "1900000109"), "out_trade_no": "LS1",
             "transaction_id": "4200000001", "out_refund_no": "RF1", "refund_id": "5030000001",
             "refund_status": status, "success_time": "2026-11-23T12:05:00+08:00",
             "amount": {"total": 5000, "refund": 2000, "payer_total": 5000,
                        "payer_refund": 2000}}  # fmt: skip
    body, headers = notification(env, inner, event_type=event, original_type="refund")
    refund = parse_v3_notification(headers, body, keys).refund
    assert refund is not None
    assert (refund.out_trade_no, refund.out_refund_no, refund.refund_fee, refund.status) == (
        "LS1", "RF1", 2000, ours)  # fmt: skip
    assert refund.refund_id == "5030000001"


def forgeries(env: dict[str, str], other_pem: str) -> dict[str, tuple[bytes, dict[str, str]]]:
    """Notifications WeChat did not make, each wrong in one way, and why each is refused."""
    inner = transaction("LS20261123120000abcdef", 5000)
    made = {
        "bad signature": notification(env, inner, private_pem_path=other_pem),
        "stale timestamp": notification(env, inner, timestamp=int(time.time()) - 330),
        "unknown serial": notification(env, inner,
                                       serial="PUB_KEY_ID_0114232134912410000000000000000000"),
        "resource does not decrypt": notification(
            env, inner, api_v3_key="another-apiv3-key-of-32-bytes!!!"),
    }  # fmt: skip
    made["tampered"] = notification(env, inner, tamper=True)
    body, headers = notification(env, inner)
    made["body changed"] = (body.replace(b"encrypt-resource", b"encrypt-resourcf"), headers)
    made["future timestamp"] = notification(env, inner, timestamp=int(time.time()) + 330)
    headers = dict(notification(env, inner)[1])
    del headers["Wechatpay-Signature"]
    made["no signature"] = (notification(env, inner)[0], headers)
    return made


REASONS = {
    "bad signature": "bad signature",
    "stale timestamp": "stale timestamp",
    "future timestamp": "stale timestamp",
    "unknown serial": "unknown serial",
    "resource does not decrypt": "resource does not decrypt",
    "tampered": "resource does not decrypt",
    "body changed": "bad signature",
    "no signature": "signature headers missing",
}


def test_forged_notices_are_refused_unverified(keyset, other_key_pem) -> None:
    env, keys = keyset
    made = forgeries(env, other_key_pem)
    assert set(made) == set(REASONS)
    for name, (body, headers) in made.items():
        with pytest.raises(NotificationRejected) as caught:
            parse_v3_notification(headers, body, keys)
        assert (name, caught.value.reason) == (name, REASONS[name])
        assert caught.value.verified is False


def test_a_signed_notice_for_another_merchant_is_refused_verified(keyset) -> None:
    env, keys = keyset
    for field, value, reason in (("mchid", "1900000999", "mch_id mismatch"),
                                 ("appid", "wx0000000000another", "appid mismatch"),
                                 ("out_trade_no", "LS<script>", "bad out_trade_no"),
                                 ("amount", {"total": -1}, "bad amount")):  # fmt: skip
        inner = {**transaction("LS1", 100), field: value}
        body, headers = notification(env, inner)
        with pytest.raises(NotificationRejected) as caught:
            parse_v3_notification(headers, body, keys)
        assert (caught.value.reason, caught.value.verified) == (reason, True)


def test_check_signed_window_is_five_minutes(keyset) -> None:
    env, keys = keyset
    body, headers = notification(env, {"x": 1}, timestamp=1_000_000_000)
    assert check_signed(headers, body, keys, now=1_000_000_300) is None
    assert check_signed(headers, body, keys, now=999_999_700) is None
    assert check_signed(headers, body, keys, now=1_000_000_301) == "stale timestamp"


# ---- the endpoints, on a v3 app alone (refused before any order is looked up) ---------


@pytest.fixture
def v3_app(make_app, pay_v3_environ, clean):
    return make_app(pay_v3_environ)


def test_forged_notices_get_v3_errors_and_are_tallied(v3_app, pay_v3_environ,
                                                     other_key_pem) -> None:  # fmt: skip
    client = v3_app.test_client()
    for name, (body, headers) in forgeries(pay_v3_environ, other_key_pem).items():
        for path in (NOTIFY, REFUND_NOTIFY):
            response = client.post(path, data=body, headers=headers)
            assert response.status_code == 401, (name, path)
            assert response.get_json() == {"code": "FAIL", "message": REASONS[name]}
    with v3_app.app_context():
        tallied = {(r.kind, r.reason): r.count for r in db.session.scalars(
            sa.select(RejectedNotification))}  # fmt: skip
        kept = db.session.scalar(sa.select(sa.func.count()).select_from(PaymentNotification))
    expected: dict[tuple[str, str], int] = {}
    for reason in REASONS.values():
        for kind in ("payment", "refund"):
            expected[(kind, reason)] = expected.get((kind, reason), 0) + 1
    assert tallied == expected
    assert kept == 0  # nothing unverified is kept whole


def test_signed_notice_for_another_merchant_is_kept_and_failed(v3_app, pay_v3_environ) -> None:
    body, headers = notification(pay_v3_environ, transaction("LS1", 100, mchid="1900000999"))
    response = v3_app.test_client().post(NOTIFY, data=body, headers=headers)
    assert response.status_code == 400
    assert response.get_json() == {"code": "FAIL", "message": "mch_id mismatch"}
    with v3_app.app_context():
        kept = db.session.scalars(sa.select(PaymentNotification)).all()
        assert [(k.kind, k.outcome, k.body) for k in kept] == [
            ("payment", "rejected: mch_id mismatch", body.decode())]  # fmt: skip


def test_v3_endpoints_are_absent_on_a_v2_app(client) -> None:
    assert client.post(NOTIFY, data=b"{}").status_code == 404
    assert client.post(REFUND_NOTIFY, data=b"{}").status_code == 404


# ---- configuration ---------------------------------------------------------------------


def test_v3_configuration_is_checked_at_start(keyset, tmp_path: Path) -> None:
    env, _ = keyset
    base = {"APP_ENV": "development", **env}
    settings = Settings.from_env(base)
    assert settings.wechat_pay_version == "v3"
    assert settings.pay_v3 is not None
    cert = x509.load_pem_x509_certificate(Path(env["WECHAT_MCH_CERT_PATH"]).read_bytes())
    assert settings.pay_v3.merchant_serial == format(cert.serial_number, "X")
    assert Settings.from_env({"APP_ENV": "development"}).pay_v3 is None

    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_path = tmp_path / "other.pem"
    other_path.write_bytes(other.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))  # fmt: skip
    cases = {
        "WECHAT_PAY_VERSION must be v2 or v3": {"WECHAT_PAY_VERSION": "v4"},
        "WECHAT_PAY_V3_KEY must be": {"WECHAT_PAY_V3_KEY": "short"},
        "WECHAT_MCH_KEY_PATH must be an unencrypted PEM": {"WECHAT_MCH_KEY_PATH": str(garbage)},
        "WECHAT_MCH_CERT_PATH does not match": {"WECHAT_MCH_KEY_PATH": str(other_path)},
        "WECHAT_PAY_PUBLIC_KEY_ID must look like": {"WECHAT_PAY_PUBLIC_KEY_ID": "KEY1"},
        "WECHAT_PAY_PUBLIC_KEY_PATH must be a PEM public key": {
            "WECHAT_PAY_PUBLIC_KEY_PATH": str(garbage)},
        "give WECHAT_PAY_PUBLIC_KEY_PATH and WECHAT_PAY_PUBLIC_KEY_ID together": {
            "WECHAT_PAY_PUBLIC_KEY_ID": ""},
        "needs WECHAT_PAY_PUBLIC_KEY_PATH": {"WECHAT_PAY_PUBLIC_KEY_ID": "",
                                             "WECHAT_PAY_PUBLIC_KEY_PATH": ""},
        "WECHAT_PAY_PLATFORM_CERTS_DIR must be a folder": {
            "WECHAT_PAY_PLATFORM_CERTS_DIR": str(tmp_path / "none")},
        "WECHAT_MCH_CERT_SERIAL must be": {"WECHAT_MCH_CERT_SERIAL": "not-hex"},
        "does not name a readable file": {"WECHAT_MCH_CERT_PATH": str(tmp_path / "missing.pem")},
    }  # fmt: skip
    for message, changes in cases.items():
        with pytest.raises(ConfigError, match=message):
            Settings.from_env({**base, **changes})


def test_platform_certificates_are_keys_by_their_serial(keyset, tmp_path: Path) -> None:
    env, _ = keyset
    from backend.payments.v3_keys import merchant_certificate

    pay_key = serialization.load_pem_private_key(
        Path(env["SANDBOX_PAY_PRIVATE_KEY_PATH"]).read_bytes(), password=None)  # fmt: skip
    cert = merchant_certificate(pay_key, "platform")  # type: ignore[arg-type]
    (tmp_path / "platform.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    base = {"APP_ENV": "development", **env, "WECHAT_PAY_PUBLIC_KEY_ID": "",
            "WECHAT_PAY_PUBLIC_KEY_PATH": "", "WECHAT_PAY_PLATFORM_CERTS_DIR": str(tmp_path)}  # fmt: skip
    keys = V3Keys.from_settings(Settings.from_env(base))
    serial = format(cert.serial_number, "X")
    assert list(keys.wechat_keys) == [serial]
    body, headers = notification(env, transaction("LS1", 100), serial=serial)
    assert parse_v3_notification(headers, body, keys).payment is not None
    body, headers = notification(env, transaction("LS1", 100))  # the public key id: unknown
    with pytest.raises(NotificationRejected, match="unknown serial"):
        parse_v3_notification(headers, body, keys)


def test_production_refuses_the_sandbox_key_material(keyset, tmp_path: Path) -> None:
    env, _ = keyset
    production = {
        "APP_ENV": "production", "DATABASE_URL": "postgresql://x@db/x", "REDIS_URL": "redis://r",
        "SECRET_KEY": "s" * 40, "PUBLIC_BASE_URL": "https://linshan.example.org",
        "WECHAT_APPID": "wx1234567890abcdef", "WECHAT_SECRET": "secret-of-the-real-app",
        "WECHAT_MCH_ID": "1230000109", "WECHAT_PAY_KEY": "k" * 32,
        "WECHAT_MESSAGE_TOKEN": "real-token", "WECHAT_TEMPLATE_DONATION_PAID": "off",
        "WECHAT_TEMPLATE_MONEY_SPENT": "off", **env,
    }  # fmt: skip
    with pytest.raises(ConfigError, match="sandbox's key material: not for production"):
        Settings.from_env(production)
    # A v3 account needs no APIv2 key; the v2 endpoints then check against a random one.
    development = {k: v for k, v in production.items() if k != "WECHAT_PAY_KEY"}
    development["APP_ENV"] = "development"
    first, second = Settings.from_env(development), Settings.from_env(development)
    assert len(first.wechat_pay_key) == 32 and first.wechat_pay_key != second.wechat_pay_key
    with pytest.raises(ConfigError, match="WECHAT_PAY_KEY missing"):
        Settings.from_env({**development, "WECHAT_PAY_VERSION": "v2"})
    # copied out of their folder, the sandbox's certificate still gives itself away
    for name in ("WECHAT_MCH_KEY_PATH", "WECHAT_MCH_CERT_PATH", "WECHAT_PAY_PUBLIC_KEY_PATH"):
        copy = tmp_path / Path(env[name]).name
        copy.write_bytes(Path(env[name]).read_bytes())
        production[name] = str(copy)
    with pytest.raises(ConfigError, match="WECHAT_MCH_CERT_PATH is the sandbox's certificate"):
        Settings.from_env(production)


# ---- end to end on the v3 pair: the app and the sandbox both speaking v3 ----------------

on_v3 = pytest.mark.parametrize("pay_version", ["v3"], indirect=True)


@on_v3
@pytest.mark.usefixtures("demo", "live_server")
def test_a_v3_donation_is_ordered_paid_notified_and_counted_once(
    client, app, wechat_sandbox, pay_version, pay_v3_environ
) -> None:
    donor = login(client, "donor_zhang")
    headers = {"Authorization": f"Bearer {donor['token']}"}
    with app.app_context():
        need = db.session.scalar(sa.select(Need).where(
            Need.status == NeedStatus.FUNDRAISING).order_by(Need.id))  # fmt: skip
        need_id = need.id
    before = client.get(f"/api/v1/needs/{need_id}/progress").get_json()
    created = client.post("/api/v1/donations", json={"need_id": need_id, "amount_fen": 4321},
                          headers=headers)  # fmt: skip
    assert created.status_code == 201, created.get_json()
    order = created.get_json()
    assert_signed_payment(order["payment"], pay_version, pay_v3_environ)

    sandbox_pay(wechat_sandbox.url, order["out_trade_no"])
    deliveries = wait_deliveries(wechat_sandbox.url, order["out_trade_no"])
    assert deliveries[0]["status"] == "succeeded"
    after = client.get(f"/api/v1/needs/{need_id}/progress").get_json()
    assert after["raised_fen"] == before["raised_fen"] + 4321
    with app.app_context():
        donation = db.session.get(Donation, order["id"])
        assert donation.status.value == "paid"
        assert donation.transaction_id
        entries = db.session.scalars(sa.select(JournalEntry).where(
            JournalEntry.donation_id == order["id"])).all()  # fmt: skip
        assert [sorted((ln.account, ln.amount_fen) for ln in e.lines) for e in entries] == [
            [("clearing:wechat", -4321), (f"need:{need_id}", 4321)]]  # fmt: skip
        kept = db.session.scalars(sa.select(PaymentNotification).where(
            PaymentNotification.out_trade_no == order["out_trade_no"])).all()  # fmt: skip
        assert [k.outcome for k in kept] == ["applied"]
        body = kept[0].body.encode()
    assert json.loads(body)["event_type"] == "TRANSACTION.SUCCESS"

    # The same notice again (WeChat's retry, freshly signed): handled, nothing counted twice.
    again = client.post(NOTIFY, data=body, headers=resign(pay_v3_environ, body))
    assert again.status_code == 204
    assert (
        client.get(f"/api/v1/needs/{need_id}/progress").get_json()["raised_fen"]
        == (after["raised_fen"])
    )
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(JournalEntry).where(
            JournalEntry.donation_id == order["id"])) == 1  # fmt: skip


@on_v3
@pytest.mark.usefixtures("demo", "live_server")
def test_a_v3_notice_with_the_wrong_amount_credits_nothing(
    client, app, wechat_sandbox, pay_v3_environ
) -> None:
    donor = login(client, "donor_zhang")
    with app.app_context():
        need_id = db.session.scalar(sa.select(Need.id).where(
            Need.status == NeedStatus.FUNDRAISING).order_by(Need.id))  # fmt: skip
    order = client.post("/api/v1/donations", json={"need_id": need_id, "amount_fen": 500},
                        headers={"Authorization": f"Bearer {donor['token']}"}).get_json()  # fmt: skip
    body, headers = notification(pay_v3_environ, transaction(order["out_trade_no"], 50_000))
    response = client.post(NOTIFY, data=body, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["code"] == "FAIL"
    with app.app_context():
        assert db.session.get(Donation, order["id"]).status.value == "pending"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(JournalEntry).where(
            JournalEntry.donation_id == order["id"])) == 0  # fmt: skip


@on_v3
@pytest.mark.usefixtures("demo", "live_server")
@pytest.mark.parametrize("fail", ["signature", "amount", "key", "ciphertext", "serial",
                                  "timestamp"])  # fmt: skip
def test_the_sandboxs_v3_forgeries_credit_nothing(client, app, wechat_sandbox, fail) -> None:
    donor = login(client, "donor_zhang")
    with app.app_context():
        need_id = db.session.scalar(sa.select(Need.id).where(
            Need.status == NeedStatus.FUNDRAISING).order_by(Need.id))  # fmt: skip
    order = client.post("/api/v1/donations", json={"need_id": need_id, "amount_fen": 700},
                        headers={"Authorization": f"Bearer {donor['token']}"}).get_json()  # fmt: skip
    sandbox_pay(wechat_sandbox.url, order["out_trade_no"], fail=fail)
    deliveries = wait_deliveries(wechat_sandbox.url, order["out_trade_no"])
    assert deliveries and all(d["status"] != "succeeded" for d in deliveries), deliveries
    with app.app_context():
        assert db.session.get(Donation, order["id"]).status.value == "pending"


@on_v3
@pytest.mark.usefixtures("demo", "live_server")
def test_the_v3_gateway_maps_wechats_answers_and_checks_their_signatures(
    app, make_app, client, wechat_sandbox, pay_v3_environ, tmp_path: Path
) -> None:
    with app.app_context():
        gateway = get_gateway()
        assert gateway.version == "v3"
        assert gateway.query_refund("RFNOSUCHREFUND0001") is None
        with pytest.raises(WeChatPayException) as caught:
            gateway.query_order("LSNOSUCHORDER00000001")
        assert caught.value.errcode == "ORDERNOTEXIST"
    # An app holding another WeChat Pay public key under the same id believes no answer.
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    wrong = tmp_path / "wrong_public.pem"
    wrong.write_bytes(other.public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo))  # fmt: skip
    doubting = make_app({**pay_v3_environ, "WECHAT_PAY_PUBLIC_KEY_PATH": str(wrong)})
    donor = login(doubting.test_client(), "donor_zhang")
    with app.app_context():
        need_id = db.session.scalar(sa.select(Need.id).where(
            Need.status == NeedStatus.FUNDRAISING).order_by(Need.id))  # fmt: skip
    refused = doubting.test_client().post(
        "/api/v1/donations", json={"need_id": need_id, "amount_fen": 100},
        headers={"Authorization": f"Bearer {donor['token']}"})  # fmt: skip
    assert refused.status_code == 502, refused.get_json()
    assert refused.get_json()["error"] == "payment_unavailable"


def test_oversized_misrouted_or_unknown_v3_notices_are_failed(v3_app, pay_v3_environ) -> None:
    client = v3_app.test_client()
    big = client.post(NOTIFY, data=b"{" + b" " * 20_000 + b"}",
                      headers={"Content-Type": "application/json"})  # fmt: skip
    assert big.status_code == 413
    assert big.get_json() == {"code": "FAIL", "message": "body too large"}
    refund_inner = {"mchid": "1900000109", "out_trade_no": "LS1", "out_refund_no": "RF1",
                    "refund_status": "SUCCESS", "amount": {"refund": 1, "total": 1}}  # fmt: skip
    body, headers = notification(pay_v3_environ, refund_inner, event_type="REFUND.SUCCESS",
                                 original_type="refund")  # fmt: skip
    misrouted = client.post(NOTIFY, data=body, headers=headers)
    assert (misrouted.status_code, misrouted.get_json()["message"]) == (400, "not a payment event")
    body, headers = notification(pay_v3_environ, transaction("LS1", 1))
    misrouted = client.post(REFUND_NOTIFY, data=body, headers=headers)
    assert (misrouted.status_code, misrouted.get_json()["message"]) == (400, "not a refund event")
    body, headers = notification(pay_v3_environ, transaction("LS1", 1),
                                 event_type="TRANSACTION.CLOSED")  # fmt: skip
    unknown = client.post(NOTIFY, data=body, headers=headers)
    assert (unknown.status_code, unknown.get_json()["message"]) == (400, "unknown event_type")
    with v3_app.app_context():
        outcomes = sorted(db.session.scalars(sa.select(PaymentNotification.outcome)))
        tallied = [(r.reason, r.count) for r in db.session.scalars(
            sa.select(RejectedNotification))]  # fmt: skip
    assert outcomes == ["rejected: not a payment", "rejected: not a refund",
                        "rejected: unknown event_type"]  # fmt: skip
    assert tallied == [("body too large", 1)]
