"""Helpers for the sandbox tests: a local HTTP receiver and sandbox-pointed wechatpy clients."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wechatpy import WeChatClient
from wechatpy.pay import WeChatPay
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

SUCCESS_XML = "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
FAIL_XML = (
    "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[NO]]></return_msg></xml>"
)


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    args: dict[str, str]
    body: bytes
    content_type: str
    at: float
    answer: str = ""
    notes: dict[str, Any] = field(default_factory=dict)


Responder = Callable[[Received, int], tuple[int, str]]


class _Quiet(WSGIRequestHandler):
    """No request lines on stderr."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Drop the line."""


class Receiver:
    """A merchant or mini-program server: records requests, answers via `responder`."""

    def __init__(self, responder: Responder | None = None) -> None:
        """Bind a free port; serve after start()."""
        self.responder: Responder = responder or (lambda received, index: (200, SUCCESS_XML))
        self.received: list[Received] = []
        self._cond = threading.Condition()
        self._server = make_server(
            "127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_Quiet
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}/"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Record, answer."""
        request = Request(environ)
        received = Received(
            path=request.path,
            args=dict(request.args),
            body=request.get_data(),
            content_type=request.content_type or "",
            at=time.monotonic(),
        )
        with self._cond:
            index = len(self.received)
            self.received.append(received)
        status, text = self.responder(received, index)
        received.answer = text
        with self._cond:
            self._cond.notify_all()
        return Response(text, status=status, content_type="text/xml")(environ, start_response)

    def start(self) -> Receiver:
        """Serve in a thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop and close."""
        self._server.shutdown()
        self._thread.join(5)
        self._server.server_close()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """Wait until `count` requests arrived; return them all."""
        with self._cond:
            self._cond.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)


class SandboxWeChatClient(WeChatClient):
    """wechatpy's client with its hard-coded api.weixin.qq.com URLs pointed at the sandbox."""

    def __init__(self, base_url: str, appid: str, secret: str, **kwargs: Any) -> None:
        """`base_url` ends with `/`."""
        super().__init__(appid, secret, **kwargs)
        self.base_url = base_url
        self.API_BASE_URL = base_url + "cgi-bin/"
        self.wxa.API_BASE_URL = base_url

    def fetch_access_token(self) -> dict[str, Any]:
        """Same request as WeChatClient's, to the sandbox."""
        return self._fetch_access_token(
            url=self.base_url + "cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )


def sandbox_pay(base_url: str, appid: str, api_key: str, mch_id: str) -> WeChatPay:
    """wechatpy's WeChatPay with API_BASE_URL set to the sandbox."""
    pay = WeChatPay(appid=appid, api_key=api_key, mch_id=mch_id, timeout=10)
    pay.API_BASE_URL = base_url
    return pay
