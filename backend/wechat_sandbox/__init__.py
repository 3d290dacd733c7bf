"""A local stand-in for WeChat's mini-program APIs and WeChat Pay v2, for development and tests.

Written from WeChat's documents, sharing no code with the backend's WeChat adapter, so
that a signing or XML mistake on one side cannot cancel out on the other.
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
