"""Key material for WeChat Pay v3 against the sandbox (development and tests; never committed).

`make_sandbox_keys(folder)` writes the merchant's API key and self-signed certificate
(random serial), the sandbox's signing key pair (playing the WeChat Pay public key), and a
marker file production refuses, then returns the environment that points the app and the
sandbox at them: `WECHAT_PAY_VERSION=v3`, `WECHAT_PAY_V3_KEY` (32 random characters),
`WECHAT_MCH_KEY_PATH`, `WECHAT_MCH_CERT_PATH`, `WECHAT_PAY_PUBLIC_KEY_PATH`,
`WECHAT_PAY_PUBLIC_KEY_ID` (`PUB_KEY_ID_` + 32 digits) and `SANDBOX_PAY_PRIVATE_KEY_PATH`.
A folder that already holds a complete set is reused (its env file is read back).
"""

from __future__ import annotations

import json
import secrets
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from backend.config import V3_SANDBOX_MARKER, V3_SANDBOX_ORGANIZATION

#: the file the environment is kept in, beside the keys
ENV_FILE = "env.json"
KEY_FILES = ("apiclient_key.pem", "apiclient_cert.pem", "pay_private.pem", "pay_public.pem")


def _private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def merchant_certificate(key: rsa.RSAPrivateKey, mchid: str) -> x509.Certificate:
    """A self-signed merchant API certificate for `key`, with a random serial."""
    name = x509.Name(
        [
            x509.NameAttribute(x509.NameOID.COMMON_NAME, mchid),
            x509.NameAttribute(x509.NameOID.ORGANIZATION_NAME, V3_SANDBOX_ORGANIZATION),
        ]
    )
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )


def make_sandbox_keys(folder: Path, mchid: str = "1900000109") -> dict[str, str]:
    """Write (or reuse) the sandbox's v3 key material in `folder`; its environment."""
    folder.mkdir(parents=True, exist_ok=True)
    env_file = folder / ENV_FILE
    if env_file.is_file() and all((folder / name).is_file() for name in KEY_FILES):
        return json.loads(env_file.read_text())
    merchant = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pay = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = merchant_certificate(merchant, mchid)
    files = {
        "apiclient_key.pem": _private_pem(merchant),
        "apiclient_cert.pem": cert.public_bytes(serialization.Encoding.PEM),
        "pay_private.pem": _private_pem(pay),
        "pay_public.pem": pay.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    }
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        path.chmod(0o600)
    (folder / V3_SANDBOX_MARKER).write_text(
        "WeChat Pay v3 keys made for the local sandbox: production refuses this folder.\n"
    )
    alphabet = string.ascii_letters + string.digits
    env = {
        "WECHAT_PAY_VERSION": "v3",
        "WECHAT_PAY_V3_KEY": "".join(secrets.choice(alphabet) for _ in range(32)),
        "WECHAT_MCH_KEY_PATH": str(folder / "apiclient_key.pem"),
        "WECHAT_MCH_CERT_PATH": str(folder / "apiclient_cert.pem"),
        "WECHAT_PAY_PUBLIC_KEY_PATH": str(folder / "pay_public.pem"),
        "WECHAT_PAY_PUBLIC_KEY_ID": "PUB_KEY_ID_"
        + "".join(secrets.choice(string.digits) for _ in range(32)),
        "SANDBOX_PAY_PRIVATE_KEY_PATH": str(folder / "pay_private.pem"),
    }
    env_file.write_text(json.dumps(env, indent=2))
    env_file.chmod(0o600)
    return env


def sandbox_v3_folder(instance_path: str | Path) -> Path:
    """Where development keeps the sandbox's v3 keys: INSTANCE_PATH/wechatpay-v3/."""
    return Path(instance_path) / "wechatpay-v3"
