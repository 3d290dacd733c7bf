"""The running sandbox: config, clock, memory and deliveries, held by the Flask app."""

from __future__ import annotations

import threading

from flask import current_app

from backend.wechat_sandbox.clock import SandboxClock
from backend.wechat_sandbox.config import SandboxConfig
from backend.wechat_sandbox.delivery import DeliveryManager
from backend.wechat_sandbox.state import SandboxState

EXTENSION_KEY = "linshan_wechat_sandbox"


class Sandbox:
    """One sandbox instance; the blueprints reach it through `current_sandbox()`."""

    def __init__(self, config: SandboxConfig) -> None:
        """Start empty, at real time, with `config`."""
        self.initial_config = config
        self._config = config
        self._config_lock = threading.Lock()
        self.clock = SandboxClock()
        self.state = SandboxState()
        self.deliveries = DeliveryManager()

    @property
    def config(self) -> SandboxConfig:
        """The settings in force."""
        with self._config_lock:
            return self._config

    def replace_config(self, config: SandboxConfig) -> None:
        """Put new settings in force (the config control call)."""
        with self._config_lock:
            self._config = config

    def reset(self) -> None:
        """Forget everything: state, deliveries, clock offset and config changes."""
        self.deliveries.cancel_all(forget=True)
        self.state.clear()
        self.clock.reset()
        self.replace_config(self.initial_config)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Cancel pending deliveries and wait for their threads."""
        self.deliveries.cancel_all()
        self.deliveries.join(timeout)


def current_sandbox() -> Sandbox:
    """The sandbox of the current Flask app."""
    return current_app.extensions[EXTENSION_KEY]
