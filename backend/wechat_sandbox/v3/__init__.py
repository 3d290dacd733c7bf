"""WeChat Pay APIv3 in the sandbox, served beside v2 when the v3 settings are given.

Written from WeChat Pay's v3 documents, independent of the backend's adapter: requests
are checked against the merchant certificate (`signing`), answers and notifications are
signed with the sandbox's own key and notification resources encrypted with the APIv3
key (`aead`). Orders and refunds share the v2 state, so `/sandbox/pay`, the clock, the
retry schedule and bills serve both versions.
"""

from __future__ import annotations

from flask import Flask

from backend.wechat_sandbox.config import SandboxConfig
from backend.wechat_sandbox.v3 import bill, refunds, transactions
from backend.wechat_sandbox.v3.keys import EXTENSION_KEY, load_keys


def register(app: Flask, config: SandboxConfig) -> None:
    """Load the v3 keys and serve `/v3/...` on `app` (config.v3_enabled must hold)."""
    app.extensions[EXTENSION_KEY] = load_keys(config)
    for blueprint in (transactions.bp, refunds.bp, refunds.control_bp, bill.bp):
        app.register_blueprint(blueprint)
