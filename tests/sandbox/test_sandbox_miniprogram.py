"""Mini-program APIs of the sandbox through wechatpy's WeChatClient and plain HTTP."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import zxingcpp
from PIL import Image
from wechatpy.exceptions import WeChatClientException

from backend.wechat_sandbox import DEFAULT_APPID, DEFAULT_SECRET, SandboxServer
from backend.wechat_sandbox.config import DEFAULT_MESSAGE_TOKEN
from tests.sandbox.support import Receiver, SandboxWeChatClient


def get_token(sandbox: SandboxServer, **params: str) -> dict:
    """GET cgi-bin/token with the default app, overridden by `params`."""
    query = {"grant_type": "client_credential", "appid": DEFAULT_APPID, "secret": DEFAULT_SECRET}
    return requests.get(sandbox.url + "cgi-bin/token", params={**query, **params}, timeout=5).json()


def errcode_of(call: Callable[[], object]) -> tuple[int, str]:
    """Run a wechatpy call expected to fail; its errcode and errmsg."""
    with pytest.raises(WeChatClientException) as caught:
        call()
    return caught.value.errcode, caught.value.errmsg


def test_access_token_and_app_credentials(sandbox: SandboxServer) -> None:
    answer = get_token(sandbox)
    assert answer["expires_in"] == 7200
    assert len(answer["access_token"]) > 100
    assert get_token(sandbox, appid="wxwrong")["errcode"] == 40013
    assert get_token(sandbox, secret="wrong")["errcode"] == 40125
    assert get_token(sandbox, grant_type="password")["errcode"] == 40002
    assert "rid: " in get_token(sandbox, secret="wrong")["errmsg"]


def test_stable_token_is_stable_until_forced(sandbox: SandboxServer) -> None:
    body = {"grant_type": "client_credential", "appid": DEFAULT_APPID, "secret": DEFAULT_SECRET}
    url = sandbox.url + "cgi-bin/stable_token"
    first = requests.post(url, json=body, timeout=5).json()
    again = requests.post(url, json=body, timeout=5).json()
    forced = requests.post(url, json={**body, "force_refresh": True}, timeout=5).json()
    assert first["access_token"] == again["access_token"] != forced["access_token"]
    wrong = requests.post(url, json={**body, "secret": "x"}, timeout=5).json()
    assert wrong["errcode"] == 40125


def test_tokens_are_checked_on_every_api(sandbox: SandboxServer) -> None:
    url = sandbox.url + "wxa/msg_sec_check"
    body = {"content": "你好"}

    def post(token: str | None) -> dict:
        params = {} if token is None else {"access_token": token}
        return requests.post(url, params=params, json=body, timeout=5).json()

    assert post(None)["errcode"] == 41001
    assert post("not-a-token")["errcode"] == 40001
    token = get_token(sandbox)["access_token"]
    assert post(token)["errcode"] == 0
    requests.post(sandbox.url + "sandbox/clock", json={"advance_seconds": 7201}, timeout=5)
    assert post(token)["errcode"] == 42001


def test_new_token_leaves_the_old_one_five_minutes(sandbox: SandboxServer) -> None:
    old = get_token(sandbox)["access_token"]
    get_token(sandbox)
    url = sandbox.url + "wxa/msg_sec_check"

    def errcode(token: str) -> int:
        body = {"content": "a"}
        return requests.post(url, params={"access_token": token}, json=body, timeout=5).json()[
            "errcode"
        ]

    assert errcode(old) == 0
    requests.post(sandbox.url + "sandbox/clock", json={"advance_seconds": 301}, timeout=5)
    assert errcode(old) == 40001  # "access_token is invalid or not latest"
    newest = get_token(sandbox)["access_token"]
    assert errcode(newest) == 0


def test_wechatpy_fetches_a_new_token_after_expiry(
    sandbox: SandboxServer, wechat: SandboxWeChatClient
) -> None:
    wechat.wxa.check_text_security("你好")
    first = wechat.access_token
    requests.post(sandbox.url + "sandbox/clock", json={"advance_seconds": 8000}, timeout=5)
    wechat.wxa.check_text_security("你好")  # 42001, then wechatpy refreshes and retries
    assert wechat.access_token != first


def test_jscode2session_stable_openid_and_single_use_codes(wechat: SandboxWeChatClient) -> None:
    first = wechat.wxa.code_to_session("alice.n1")
    second = wechat.wxa.code_to_session("alice.n2")
    bob = wechat.wxa.code_to_session("bob")
    assert first["openid"] == second["openid"] != bob["openid"]
    assert first["unionid"] == second["unionid"] != bob["unionid"]
    assert len(first["openid"]) == 28 and first["openid"].startswith("o")
    assert len(first["session_key"]) == 24
    code, message = errcode_of(lambda: wechat.wxa.code_to_session("alice.n1"))
    assert code == 40163 and message.startswith("code been used, rid: ")
    code, message = errcode_of(lambda: wechat.wxa.code_to_session("no spaces allowed"))
    assert code == 40029 and message.startswith("invalid code, rid: ")
    assert errcode_of(lambda: wechat.wxa.code_to_session("x" * 33))[0] == 40029


def test_sandbox_user_ids_match_login(sandbox: SandboxServer, wechat: SandboxWeChatClient) -> None:
    user = requests.get(sandbox.url + "sandbox/users/carol", timeout=5).json()
    assert wechat.wxa.code_to_session("carol.1")["openid"] == user["openid"]


def test_jscode2session_checks_the_app(sandbox: SandboxServer) -> None:
    url = sandbox.url + "sns/jscode2session"
    params = {
        "appid": DEFAULT_APPID,
        "secret": "wrong",
        "js_code": "dave",
        "grant_type": "authorization_code",
    }
    assert requests.get(url, params=params, timeout=5).json()["errcode"] == 40125
    assert (
        requests.get(url, params={**params, "appid": "wx1"}, timeout=5).json()["errcode"] == 40013
    )


def test_phone_number(wechat: SandboxWeChatClient) -> None:
    answer = wechat.post(
        "wxa/business/getuserphonenumber",
        data={"code": "phone:alice.1"},
        api_base_url=wechat.base_url,
    )
    info = answer["phone_info"]
    assert info["phoneNumber"] == info["purePhoneNumber"]
    assert info["phoneNumber"].startswith("139") and len(info["phoneNumber"]) == 11
    assert info["countryCode"] == "86"
    assert info["watermark"]["appid"] == DEFAULT_APPID
    again = wechat.post(
        "wxa/business/getuserphonenumber",
        data={"code": "phone:alice.2"},
        api_base_url=wechat.base_url,
    )
    assert again["phone_info"]["phoneNumber"] == info["phoneNumber"]
    other = wechat.post(
        "wxa/business/getuserphonenumber", data={"code": "phone:bob"}, api_base_url=wechat.base_url
    )
    assert other["phone_info"]["phoneNumber"] != info["phoneNumber"]

    def phone(code: str) -> object:
        return wechat.post(
            "wxa/business/getuserphonenumber", data={"code": code}, api_base_url=wechat.base_url
        )

    assert errcode_of(lambda: phone("phone:alice.1"))[0] == 40163
    assert errcode_of(lambda: phone("alice"))[0] == 40029


def test_msg_sec_check_v2(wechat: SandboxWeChatClient) -> None:
    def check(content: str) -> dict:
        body = {"content": content, "version": 2, "scene": 2, "openid": "o" + "x" * 27}
        return wechat.post("wxa/msg_sec_check", data=body, api_base_url=wechat.base_url)

    clean = check("邻里互助，温暖社区")
    assert clean["result"] == {"suggest": "pass", "label": 100}
    assert clean["trace_id"]
    risky = check("来参加赌博吧")
    assert risky["result"] == {"suggest": "risky", "label": 20006}
    assert any(item.get("keyword") == "赌博" for item in risky["detail"])
    assert check("这是诈骗")["result"]["label"] == 20008
    assert check("需要人工复核的内容")["result"]["suggest"] == "review"
    no_openid = {"content": "hi", "version": 2, "scene": 2}
    assert (
        errcode_of(
            lambda: wechat.post("wxa/msg_sec_check", data=no_openid, api_base_url=wechat.base_url)
        )[0]
        == 40003
    )


def test_msg_sec_check_v1_through_wechatpy(wechat: SandboxWeChatClient) -> None:
    assert wechat.wxa.check_text_security("你好")["errcode"] == 0
    assert errcode_of(lambda: wechat.wxa.check_text_security("赌博"))[0] == 87014


def test_media_check_result_is_pushed(
    sandbox: SandboxServer, wechat: SandboxWeChatClient, receiver: Callable[..., Receiver]
) -> None:
    push = receiver(lambda received, index: (200, "success"))
    requests.post(
        sandbox.url + "sandbox/config", json={"media_callback_url": push.url + "wx/push"}, timeout=5
    )
    openid = "o" + "y" * 27

    def check(url: str) -> str:
        body = {"media_url": url, "media_type": 2, "version": 2, "scene": 1, "openid": openid}
        return wechat.post("wxa/media_check_async", data=body, api_base_url=wechat.base_url)[
            "trace_id"
        ]

    clean_trace = check("https://img.example.com/ok.png")
    risky_trace = check("https://img.example.com/flagged-1.png")
    events = {}
    for received in push.wait_for(2):
        event = json.loads(received.body)
        events[event["trace_id"]] = event
        assert received.path == "/wx/push"
        token_parts = sorted(
            [DEFAULT_MESSAGE_TOKEN, received.args["timestamp"], received.args["nonce"]]
        )
        expected = hashlib.sha1("".join(token_parts).encode()).hexdigest()  # noqa: S324
        assert received.args["signature"] == expected
    assert events[clean_trace]["result"] == {"suggest": "pass", "label": 100}
    risky = events[risky_trace]
    assert risky["result"]["suggest"] == "risky"
    assert risky["Event"] == "wxa_media_check" and risky["MsgType"] == "event"
    assert risky["appid"] == DEFAULT_APPID and risky["version"] == 2
    assert risky["FromUserName"] == openid and risky["ToUserName"].startswith("gh_")
    recorded = requests.get(
        sandbox.url + "sandbox/notifications?kind=media_check&wait=5", timeout=10
    ).json()
    assert {item["status"] for item in recorded["notifications"]} == {"succeeded"}


def test_wxacode_is_a_decodable_png(sandbox: SandboxServer, wechat: SandboxWeChatClient) -> None:
    response = wechat.wxa.get_wxa_code_unlimited(
        "space=42&x=1", width=430, page="pages/space/index"
    )
    assert isinstance(response, requests.Response)
    assert response.headers["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "PNG" and 280 <= image.width <= 1280
    [barcode] = zxingcpp.read_barcodes(image)
    query = parse_qs(urlsplit(barcode.text).query)
    assert query["scene"] == ["space=42&x=1"]
    assert query["page"] == ["pages/space/index"]
    assert query["appid"] == [DEFAULT_APPID]


def test_wxacode_refuses_bad_scenes(wechat: SandboxWeChatClient) -> None:
    assert errcode_of(lambda: wechat.wxa.get_wxa_code_unlimited("a" * 33))[0] == 40169
    assert errcode_of(lambda: wechat.wxa.get_wxa_code_unlimited(""))[0] == 40169
    assert errcode_of(lambda: wechat.wxa.get_wxa_code_unlimited("空间"))[0] == 40129
    assert errcode_of(lambda: wechat.wxa.get_wxa_code_unlimited("a b"))[0] == 40129
    assert errcode_of(lambda: wechat.wxa.get_wxa_code_unlimited("ok", page="/pages/x"))[0] == 41030
    allowed = "aZ09!#$&'()*+,/:;=?@-._~"
    assert wechat.wxa.get_wxa_code_unlimited(allowed).status_code == 200


def test_subscribe_messages_are_recorded(
    sandbox: SandboxServer, wechat: SandboxWeChatClient
) -> None:
    openid = wechat.wxa.code_to_session("erin")["openid"]
    data = {"thing1": {"value": "社区图书角"}, "amount2": {"value": "12.50元"}}
    answer = wechat.wxa.send_subscribe_message(openid, "TPL-1", data, page="pages/need/index?id=1")
    assert answer["errcode"] == 0 and answer["msgid"]
    wechat.wxa.send_subscribe_message("o" + "z" * 27, "TPL-2", {"thing1": {"value": "别人"}})
    mine = requests.get(
        sandbox.url + "sandbox/messages", params={"touser": openid}, timeout=5
    ).json()
    [message] = mine["messages"]
    assert message["template_id"] == "TPL-1"
    assert message["data"] == data and message["msgid"] == answer["msgid"]
    assert message["page"] == "pages/need/index?id=1"
    everyone = requests.get(sandbox.url + "sandbox/messages", timeout=5).json()["messages"]
    assert len(everyone) == 2


def test_subscribe_message_checks(sandbox: SandboxServer, wechat: SandboxWeChatClient) -> None:
    openid = "o" + "w" * 27
    too_long = {"thing1": {"value": "这" * 21}}
    code, message = errcode_of(lambda: wechat.wxa.send_subscribe_message(openid, "T", too_long))
    assert code == 47003 and "thing1" in message
    assert (
        errcode_of(lambda: wechat.wxa.send_subscribe_message(openid, "", {"a": {"value": "b"}}))[0]
        == 40037
    )
    requests.post(sandbox.url + "sandbox/messages/refuse", json={"openid": openid}, timeout=5)
    ok = {"thing1": {"value": "好"}}
    assert errcode_of(lambda: wechat.wxa.send_subscribe_message(openid, "T", ok))[0] == 43101


def test_media_check_without_callback_url_is_recorded(
    sandbox: SandboxServer, wechat: SandboxWeChatClient
) -> None:
    trace = wechat.wxa.check_media_async("https://img.example.com/%E8%B5%8C%E5%8D%9A.png", 2)[
        "trace_id"
    ]
    waited = requests.get(
        sandbox.url + "sandbox/notifications?trace_id=" + trace + "&wait=5", timeout=10
    )
    [record] = waited.json()["notifications"]
    assert record["status"] == "skipped"
    event = json.loads(record["body"])
    assert event["isrisky"] == 1  # version 1 event: the URL holds 赌博
    [check] = requests.get(sandbox.url + "sandbox/media-checks", timeout=5).json()["media_checks"]
    assert check["trace_id"] == trace and check["result"]["label"] == 20006
