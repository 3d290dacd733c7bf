"""The one place that points wechatpy at `WECHAT_API_BASE` and shares its access token.

wechatpy hard-codes `https://api.weixin.qq.com/` in the token URL and in
`WeChatWxa.API_BASE_URL`; these subclasses take the base from the settings instead, so the
same code talks to WeChat in production and to the sandbox in development and tests.
"""

from __future__ import annotations

from typing import Any

import redis
from flask import Flask, current_app
from wechatpy import WeChatClient
from wechatpy.client.api import WeChatWxa
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.redisstorage import RedisStorage

from backend.config import Settings

TIMEOUT_SECONDS = 5


class LinshanWxa(WeChatWxa):
    """Mini-program APIs under the configured base, plus those wechatpy 1.8 lacks."""

    @property
    def API_BASE_URL(self) -> str:
        """The configured API base (read by wechatpy's request helpers)."""
        return self._client.api_base

    def get_phone_number(self, code: str) -> dict[str, Any]:
        """getuserphonenumber: the phone number behind a `getPhoneNumber` button's code."""
        return self._post("wxa/business/getuserphonenumber", data={"code": code})

    def msg_sec_check_v2(self, content: str, openid: str, scene: int = 1) -> dict[str, Any]:
        """Content security check (version 2) of user text; scene 1 = profile, 2 = comment."""
        return self._post(
            "wxa/msg_sec_check",
            data={"content": content, "version": 2, "scene": scene, "openid": openid},
        )

    def media_check_async_v2(self, media_url: str, openid: str, scene: int = 1) -> dict[str, Any]:
        """mediaCheckAsync (version 2) of an image; the verdict is pushed with its trace_id."""
        # wechatpy's check_media_async sends version 1 only, which has no openid or scene.
        return self._post(
            "wxa/media_check_async",
            data={
                "media_url": media_url,
                "media_type": 2,
                "version": 2,
                "scene": scene,
                "openid": openid,
            },
        )

    def unlimited_code(
        self, scene: str, page: str, width: int, *, check_path: bool = False
    ) -> bytes:
        """getwxacodeunlimit: the image of a mini-program code opening `page` with `scene`.

        wechatpy's get_wxa_code_unlimited cannot send `check_path`; without it set to false
        WeChat refuses a page the released version does not have yet. WeChat answers the
        image itself, or a JSON error (raised by wechatpy as WeChatClientException)."""
        answer = self._post(
            "wxa/getwxacodeunlimit",
            data={"scene": scene, "page": page, "width": width, "check_path": check_path},
        )
        if isinstance(answer, dict):  # JSON without an errcode: not an image either
            raise WeChatClientException(answer.get("errcode"), answer.get("errmsg"))
        return answer.content


class LinshanWeChatClient(WeChatClient):
    """wechatpy's client with every URL under `api_base` and the token kept in Redis."""

    wxa = LinshanWxa()

    def __init__(self, appid: str, secret: str, api_base: str, session: RedisStorage) -> None:
        self.api_base = api_base
        self.API_BASE_URL = f"{api_base}cgi-bin/"
        super().__init__(appid, secret, session=session, timeout=TIMEOUT_SECONDS)

    def fetch_access_token(self) -> dict[str, Any]:
        """Fetch a new access token from the configured base (wechatpy hard-codes WeChat's)."""
        return self._fetch_access_token(
            url=f"{self.api_base}cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )


def build_wechat_client(settings: Settings, redis_client: redis.Redis) -> LinshanWeChatClient:
    """A client for the configured app; its access token is shared through Redis."""
    storage = RedisStorage(redis_client, prefix="linshan:wechat")
    return LinshanWeChatClient(
        settings.wechat_appid, settings.wechat_secret, settings.wechat_api_base, storage
    )


def init_wechat(app: Flask) -> None:
    """Bind the WeChat client to the app."""
    app.extensions["wechat"] = build_wechat_client(app.config["SETTINGS"], app.extensions["redis"])


def get_wechat() -> LinshanWeChatClient:
    """The current app's WeChat client."""
    return current_app.extensions["wechat"]
