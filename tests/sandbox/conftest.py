"""Fixtures: a sandbox on a free port per test, a receiver factory, pointed wechatpy clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from wechatpy.pay import WeChatPay

from backend.wechat_sandbox import (
    DEFAULT_APPID,
    DEFAULT_MCH_ID,
    DEFAULT_PAY_KEY,
    DEFAULT_SECRET,
    SandboxConfig,
    SandboxServer,
)
from tests.sandbox.support import Receiver, Responder, SandboxWeChatClient, sandbox_pay

# WeChat's 24 h of notification retries take under a second at this speed.
FAST = 100_000.0


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """Default credentials, time compressed for tests."""
    return SandboxConfig(time_factor=FAST)


@pytest.fixture
def sandbox(sandbox_config: SandboxConfig) -> Iterator[SandboxServer]:
    """A running sandbox; stopped (deliveries cancelled) after the test."""
    server = SandboxServer(sandbox_config).start()
    yield server
    server.stop()


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    """Start receivers with a responder; all stopped after the test."""
    started: list[Receiver] = []

    def start(responder: Responder | None = None) -> Receiver:
        started.append(Receiver(responder).start())
        return started[-1]

    yield start
    for item in started:
        item.stop()


@pytest.fixture
def wechat(sandbox: SandboxServer) -> Iterator[SandboxWeChatClient]:
    """wechatpy's WeChatClient talking to the sandbox."""
    client = SandboxWeChatClient(sandbox.url, DEFAULT_APPID, DEFAULT_SECRET, timeout=10)
    yield client
    client._http.close()


@pytest.fixture
def pay(sandbox: SandboxServer) -> Iterator[WeChatPay]:
    """wechatpy's WeChatPay talking to the sandbox."""
    client = sandbox_pay(sandbox.url, DEFAULT_APPID, DEFAULT_PAY_KEY, DEFAULT_MCH_ID)
    yield client
    client._http.close()
