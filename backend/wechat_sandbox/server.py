"""Run the sandbox in a background thread (tests) on a given or free port."""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from backend.wechat_sandbox.app import create_sandbox_app, sandbox_of
from backend.wechat_sandbox.config import SandboxConfig
from backend.wechat_sandbox.runtime import Sandbox

log = logging.getLogger("linshan.sandbox")


class QuietRequestHandler(WSGIRequestHandler):
    """Request lines go to the sandbox logger at DEBUG instead of werkzeug's at INFO."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log one request line."""
        log.debug("%s %s -> %s", self.command, self.path, code)


class SandboxServer:
    """A sandbox served by werkzeug in a daemon thread: `url` is its base URL (with `/`)."""

    def __init__(
        self, config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        """Bind now (port 0 picks a free port); serve after start()."""
        self.app = create_sandbox_app(config)
        self._server: BaseWSGIServer = make_server(
            host, port, self.app, threaded=True, request_handler=QuietRequestHandler
        )
        self.host = host
        self.port = self._server.server_port
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}/"
        self._thread: threading.Thread | None = None

    @property
    def sandbox(self) -> Sandbox:
        """The running sandbox (state, clock, deliveries)."""
        return sandbox_of(self.app)

    def start(self) -> SandboxServer:
        """Serve in a background thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="wechat-sandbox",
                daemon=True,
            )
            self._thread.start()
            log.info("WeChat sandbox serving at %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving, cancel deliveries, close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self.sandbox.shutdown()
        self._server.server_close()

    def __enter__(self) -> SandboxServer:
        """Start on entering a with block."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop on leaving it."""
        self.stop()
