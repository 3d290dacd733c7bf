"""The sandbox's Flask app."""

from __future__ import annotations

import logging

from flask import Flask

from backend.wechat_sandbox import (
    control,
    messages,
    miniprogram,
    pay,
    payer,
    refunds,
    security,
    v3,
    wxacode,
)
from backend.wechat_sandbox.config import SandboxConfig
from backend.wechat_sandbox.runtime import EXTENSION_KEY, Sandbox

log = logging.getLogger("linshan.sandbox")
MAX_BODY_BYTES = 1024 * 1024


def create_sandbox_app(config: SandboxConfig | None = None) -> Flask:
    """A WeChat sandbox app for `config` (default: from the environment)."""
    config = config or SandboxConfig.from_env()
    app = Flask("backend.wechat_sandbox")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # WeChat answers raw UTF-8
    app.json.sort_keys = False  # type: ignore[attr-defined]
    for blueprint in (
        miniprogram.bp,
        security.bp,
        wxacode.bp,
        messages.bp,
        pay.bp,
        refunds.bp,
        control.bp,
        payer.bp,
    ):
        app.register_blueprint(blueprint)
    if config.v3_enabled:
        v3.register(app, config)
    app.extensions[EXTENSION_KEY] = Sandbox(config)
    return app


def sandbox_of(app: Flask) -> Sandbox:
    """The sandbox an app created by create_sandbox_app holds."""
    return app.extensions[EXTENSION_KEY]
