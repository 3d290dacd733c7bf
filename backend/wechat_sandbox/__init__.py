"""A local stand-in for WeChat's mini-program APIs and WeChat Pay, for development and tests.

Written from WeChat's documents, sharing no code with the backend's WeChat adapter, so
that a signing or XML mistake on one side cannot cancel out on the other.

WeChat Pay v2 (XML, MD5/HMAC-SHA256) is always served. APIv3 (`/v3/...`, JSON,
SHA256withRSA, AEAD_AES_256_GCM; see `backend.wechat_sandbox.v3`) is served beside it
at the same base URL when `WECHAT_PAY_V3_KEY` is set, with `WECHAT_MCH_CERT_PATH` (the
merchant certificate whose key signs requests; `WECHAT_MCH_CERT_SERIAL` overrides its
serial), `SANDBOX_PAY_PRIVATE_KEY_PATH` (the sandbox's own signing key) and either
`WECHAT_PAY_PUBLIC_KEY_ID` (public-key mode: the id in `Wechatpay-Serial`) or
`WECHAT_PAY_PLATFORM_CERTS_DIR` (platform-certificate mode: the serial of the certificate
there that matches the sandbox's key). Orders of both versions share one state:
`/sandbox/pay`, the clock, refunds, retries and bills work alike.
"""

from backend.wechat_sandbox.app import create_sandbox_app, sandbox_of
from backend.wechat_sandbox.config import (
    DEFAULT_APPID,
    DEFAULT_MCH_ID,
    DEFAULT_PAY_KEY,
    DEFAULT_PORT,
    DEFAULT_SECRET,
    SandboxConfig,
)
from backend.wechat_sandbox.server import SandboxServer

__all__ = [
    "DEFAULT_APPID",
    "DEFAULT_MCH_ID",
    "DEFAULT_PAY_KEY",
    "DEFAULT_PORT",
    "DEFAULT_SECRET",
    "SandboxConfig",
    "SandboxServer",
    "create_sandbox_app",
    "sandbox_of",
]
