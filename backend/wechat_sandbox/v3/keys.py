"""The v3 key material: the merchant's certificate and the sandbox's own signing key.

Loaded once when the app is created, from the paths of SandboxConfig. In public-key
mode (微信支付公钥) the sandbox names its key by WECHAT_PAY_PUBLIC_KEY_ID; in
platform-certificate mode by the serial of the certificate in WECHAT_PAY_PLATFORM_CERTS_DIR
whose public key is the sandbox's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from backend.wechat_sandbox.config import SandboxConfig

EXTENSION_KEY = "linshan_wechat_sandbox_v3"


@dataclass(frozen=True)
class V3Keys:
    """What v3 signing, verifying and encrypting needs."""

    api_v3_key: str
    merchant_public_key: RSAPublicKey
    #: The merchant certificate's serial number.
    merchant_serial: int
    pay_private_key: RSAPrivateKey
    #: Wechatpay-Serial of the sandbox's signatures.
    pay_serial: str

    def merchant_serial_matches(self, serial_no: str) -> bool:
        """Whether a request's serial_no (hex, any case, leading zeros or not) is the cert's."""
        if not serial_no or len(serial_no) > 64:
            return False
        try:
            return int(serial_no, 16) == self.merchant_serial
        except ValueError:
            return False


def serial_hex(serial: int) -> str:
    """A certificate serial as WeChat writes it: uppercase hex (no leading zeros)."""
    return f"{serial:X}"


def _public_numbers_equal(a: RSAPublicKey, b: RSAPublicKey) -> bool:
    """Whether two RSA public keys are the same key."""
    return a.public_numbers() == b.public_numbers()


def _platform_serial(directory: str, private_key: RSAPrivateKey) -> str:
    """The serial of the certificate in `directory` whose key is `private_key`'s."""
    public = private_key.public_key()
    for path in sorted(Path(directory).glob("*.pem")):
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        key = cert.public_key()
        if isinstance(key, RSAPublicKey) and _public_numbers_equal(key, public):
            return serial_hex(cert.serial_number)
    raise ValueError(
        f"no certificate in WECHAT_PAY_PLATFORM_CERTS_DIR {directory} matches "
        "SANDBOX_PAY_PRIVATE_KEY_PATH"
    )


def load_keys(config: SandboxConfig) -> V3Keys:
    """Read the key files named by `config`; ValueError when one is missing or wrong."""
    if not (config.v3_key and config.mch_cert_path and config.pay_private_key_path):
        raise ValueError("WeChat Pay v3 is not configured")
    try:
        cert = x509.load_pem_x509_certificate(Path(config.mch_cert_path).read_bytes())
        private_key = serialization.load_pem_private_key(
            Path(config.pay_private_key_path).read_bytes(), password=None
        )
    except OSError as exc:
        raise ValueError(f"cannot read a WeChat Pay v3 key file: {exc}") from exc
    merchant_key = cert.public_key()
    if not isinstance(merchant_key, RSAPublicKey):
        raise ValueError("WECHAT_MCH_CERT_PATH must hold an RSA certificate")
    if not isinstance(private_key, RSAPrivateKey):
        raise ValueError("SANDBOX_PAY_PRIVATE_KEY_PATH must hold an RSA private key")
    serial = cert.serial_number
    if config.mch_cert_serial:
        try:
            serial = int(config.mch_cert_serial, 16)
        except ValueError as exc:
            raise ValueError("WECHAT_MCH_CERT_SERIAL must be hexadecimal") from exc
    if config.pay_public_key_id:
        pay_serial = config.pay_public_key_id
    else:
        assert config.platform_certs_dir is not None  # SandboxConfig checks one is given
        pay_serial = _platform_serial(config.platform_certs_dir, private_key)
    return V3Keys(
        api_v3_key=config.v3_key,
        merchant_public_key=merchant_key,
        merchant_serial=serial,
        pay_private_key=private_key,
        pay_serial=pay_serial,
    )
