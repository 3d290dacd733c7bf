"""subscribeMessage.send: checked like WeChat, recorded for the control call to read.

Template keys are checked by their type prefix with WeChat's documented value limits
(thing: 20 characters, number/letter/character_string: 32, symbol: 5, phrase: 5,
phone_number: 17, car_number: 8, name: 10, or 20 without Chinese); a too-long value is
47003 as in WeChat. A user the refuse control call names gets 43101.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response

from backend.wechat_sandbox import ids
from backend.wechat_sandbox.runtime import current_sandbox
from backend.wechat_sandbox.wxjson import (
    DATA_FORMAT_ERROR,
    INVALID_OPENID,
    read_json,
    token_required,
    wx_error,
    wx_ok,
)

bp = Blueprint("sandbox_messages", __name__)

INVALID_TEMPLATE_ID = (40037, "invalid template_id")
USER_REFUSED = (43101, "user refuse to accept the msg")
MINIPROGRAM_STATES = ("developer", "trial", "formal")
LANGS = ("zh_CN", "en_US", "zh_HK", "zh_TW")
VALUE_LIMITS = {
    "thing": 20,
    "number": 32,
    "letter": 32,
    "symbol": 5,
    "character_string": 32,
    "phrase": 5,
    "phone_number": 17,
    "car_number": 8,
    "amount": 32,
    "time": 64,
    "date": 64,
}
_KEY = re.compile(r"^([a-z_]+?)(\d+)$")
_CHINESE = re.compile(r"[\u4e00-\u9fff]")


def argument_invalid(detail: str) -> tuple[int, str]:
    """WeChat's 47003 with its detail."""
    return 47003, f"argument invalid! {detail}"


def check_data(data: Any) -> tuple[int, str] | None:
    """The error for a malformed `data` object, if any."""
    if not isinstance(data, dict) or not data:
        return argument_invalid("data is empty")
    for key, item in data.items():
        if not isinstance(item, dict) or not isinstance(item.get("value"), str):
            return argument_invalid(f"data.{key}.value is empty")
        value = item["value"]
        if not value:
            return argument_invalid(f"data.{key}.value is empty")
        match = _KEY.match(key)
        kind = match.group(1) if match else ""
        limit = VALUE_LIMITS.get(kind)
        if kind == "name":
            limit = 10 if _CHINESE.search(value) else 20
        if limit is not None and len(value) > limit:
            return argument_invalid(f"data.{key}.value invalid")
    return None


@bp.post("/cgi-bin/message/subscribe/send")
@token_required
def send_subscribe_message() -> Response:
    """Check and record a subscribe message; answer its msgid."""
    sandbox = current_sandbox()
    body = read_json()
    if body is None:
        return wx_error(DATA_FORMAT_ERROR)
    touser = body.get("touser")
    if not isinstance(touser, str) or not touser:
        return wx_error(INVALID_OPENID)
    template_id = body.get("template_id")
    if not isinstance(template_id, str) or not template_id:
        return wx_error(INVALID_TEMPLATE_ID)
    error = check_data(body.get("data"))
    if error:
        return wx_error(error)
    state = body.get("miniprogram_state", "formal")
    if state not in MINIPROGRAM_STATES:
        return wx_error(argument_invalid("miniprogram_state invalid"))
    lang = body.get("lang", "zh_CN")
    if lang not in LANGS:
        return wx_error(argument_invalid("lang invalid"))
    msgid = ids.msgid()
    with sandbox.state.lock:
        if touser in sandbox.state.refusing_openids:
            return wx_error(USER_REFUSED)
        sandbox.state.messages.append(
            {
                "msgid": msgid,
                "touser": touser,
                "template_id": template_id,
                "page": body.get("page"),
                "data": body["data"],
                "miniprogram_state": state,
                "lang": lang,
                "sent_at": sandbox.clock.now().isoformat(),
            }
        )
    return wx_ok(msgid=msgid)
