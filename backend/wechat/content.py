"""WeChat's content security check of text people write."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from wechatpy.exceptions import WeChatClientException

from backend.common.errors import DomainError, Kind
from backend.wechat.client import get_wechat

log = logging.getLogger(__name__)


def wechat_unavailable(exc: WeChatClientException) -> DomainError:
    """The error when WeChat fails us, logged for the operator."""
    log.error("WeChat call failed: errcode=%s errmsg=%s", exc.errcode, exc.errmsg)
    return DomainError(Kind.UPSTREAM, "wechat_unavailable", "微信服务暂时不可用，请稍后再试")


#: set while the platform itself writes text (the demo city): nobody's words to check
_PLATFORM_TEXT: ContextVar[bool] = ContextVar("platform_text", default=False)


@contextmanager
def platform_text() -> Iterator[None]:
    """Within this block text is the platform's own (the demo city's), not a user's:
    WeChat's content check is not asked (the demo is seeded offline)."""
    token = _PLATFORM_TEXT.set(True)
    try:
        yield
    finally:
        _PLATFORM_TEXT.reset(token)


def check_text(openid: str | None, fields: dict[str, str], scene: int = 1) -> None:
    """Refuse text WeChat's content check does not pass; names every field it flags."""
    if _PLATFORM_TEXT.get():
        return
    flagged: dict[str, list[str]] = {}
    for field, text in fields.items():
        if not text:
            continue
        try:
            result = get_wechat().wxa.msg_sec_check_v2(text, openid=openid or "", scene=scene)
        except WeChatClientException as exc:
            raise wechat_unavailable(exc) from None
        if result.get("result", {}).get("suggest", "pass") != "pass":
            flagged[field] = ["内容未通过安全检测"]
    if flagged:
        raise DomainError(
            Kind.INVALID, "content_rejected", "内容未通过安全检测，请修改后重试", flagged
        )
