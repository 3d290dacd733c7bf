"""Control calls (JSON) that play the user's and payer's part and let tests look inside.

- `GET /sandbox/health`; `POST /sandbox/reset` forgets everything.
- `GET|POST /sandbox/clock` `{advance_seconds}` or `{set: iso8601}` (naive = Beijing).
- `GET|POST /sandbox/config` `{media_callback_url, time_factor, flagged_words, review_words}`.
- `GET /sandbox/messages?touser&template_id`, `POST /sandbox/messages/refuse {openid, refuse}`,
  `GET /sandbox/media-checks`, `GET /sandbox/wxa-codes` (getwxacodeunlimit requests),
  `GET /sandbox/users/<name>`.
- The payer's calls (`/sandbox/pay`, notifications, orders) are in `payer.py`.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from backend.wechat_sandbox.clock import BEIJING
from backend.wechat_sandbox.config import SandboxConfig, parse_words
from backend.wechat_sandbox.identity import login_name, openid_for, phone_for, unionid_for
from backend.wechat_sandbox.runtime import Sandbox, current_sandbox

bp = Blueprint("sandbox_control", __name__, url_prefix="/sandbox")


class ControlError(Exception):
    """A control call that cannot be done: HTTP status and reason."""

    def __init__(self, status: int, error: str) -> None:
        """Carry the HTTP status and a short reason."""
        super().__init__(error)
        self.status = status
        self.error = error


@bp.app_errorhandler(ControlError)
def _control_error(exc: ControlError) -> tuple[Response, int]:
    """`{"error": ...}` with the status."""
    return jsonify({"error": exc.error}), exc.status


def json_body() -> dict[str, Any]:
    """The JSON object of a control call."""
    data = request.get_json(silent=True, force=True)
    if not isinstance(data, dict):
        raise ControlError(400, "a JSON object is expected")
    return data


def int_field(data: dict[str, Any], name: str, default: int, maximum: int) -> int:
    """An optional non-negative integer field."""
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ControlError(400, f"{name} must be an integer from 0 to {maximum}")
    return value


def _clock_view(sandbox: Sandbox) -> dict[str, Any]:
    """JSON shape of the clock."""
    now = sandbox.clock.now()
    return {
        "now": now.isoformat(),
        "beijing": now.astimezone(BEIJING).isoformat(),
        "offset_seconds": sandbox.clock.offset_seconds,
    }


def _config_view(config: SandboxConfig) -> dict[str, Any]:
    """JSON shape of the settings (no secret, no key)."""
    return {
        "appid": config.appid,
        "mch_id": config.mch_id,
        "time_factor": config.time_factor,
        "flagged_words": dict(config.flagged_words),
        "review_words": list(config.review_words),
        "media_callback_url": config.media_callback_url,
    }


@bp.get("/health")
def health() -> Response:
    """Alive, and for whom it plays WeChat."""
    sandbox = current_sandbox()
    return jsonify({"status": "ok", **_config_view(sandbox.config), **_clock_view(sandbox)})


@bp.post("/reset")
def reset() -> Response:
    """Forget all state, cancel deliveries, put the clock and settings back."""
    current_sandbox().reset()
    return jsonify({"status": "reset"})


@bp.get("/clock")
def get_clock() -> Response:
    """The sandbox's time."""
    return jsonify(_clock_view(current_sandbox()))


@bp.post("/clock")
def move_clock() -> Response:
    """Move the clock: `{advance_seconds: n}` or `{set: "2025-01-01T10:00:00+08:00"}`."""
    sandbox = current_sandbox()
    data = json_body()
    if "set" in data:
        try:
            sandbox.clock.set(datetime.fromisoformat(str(data["set"])))
        except ValueError as exc:
            raise ControlError(400, "set must be an ISO 8601 time") from exc
    elif isinstance(data.get("advance_seconds"), int | float) and not isinstance(
        data.get("advance_seconds"), bool
    ):
        sandbox.clock.advance(float(data["advance_seconds"]))
    else:
        raise ControlError(400, "give advance_seconds (a number) or set (ISO 8601)")
    return jsonify(_clock_view(sandbox))


@bp.get("/config")
def get_config() -> Response:
    """The settings in force."""
    return jsonify(_config_view(current_sandbox().config))


@bp.post("/config")
def change_config() -> Response:
    """Change media_callback_url, time_factor, flagged_words or review_words."""
    sandbox = current_sandbox()
    data = json_body()
    changes: dict[str, Any] = {}
    if "media_callback_url" in data:
        url = data["media_callback_url"]
        if url is not None and not (
            isinstance(url, str) and url.startswith(("http://", "https://"))
        ):
            raise ControlError(400, "media_callback_url must be an http(s) URL or null")
        changes["media_callback_url"] = url
    if "time_factor" in data:
        factor = data["time_factor"]
        if isinstance(factor, bool) or not isinstance(factor, int | float) or factor <= 0:
            raise ControlError(400, "time_factor must be a positive number")
        changes["time_factor"] = float(factor)
    if "flagged_words" in data:
        words = data["flagged_words"]
        if isinstance(words, list) and all(isinstance(w, str) for w in words):
            changes["flagged_words"] = parse_words(",".join(words))
        elif isinstance(words, dict) and all(isinstance(v, int) for v in words.values()):
            changes["flagged_words"] = {str(k): v for k, v in words.items()}
        else:
            raise ControlError(400, "flagged_words must be a list of words or {word: label}")
    if "review_words" in data:
        review = data["review_words"]
        if not isinstance(review, list) or not all(isinstance(w, str) and w for w in review):
            raise ControlError(400, "review_words must be a list of words")
        changes["review_words"] = tuple(review)
    sandbox.replace_config(dataclasses.replace(sandbox.config, **changes))
    return jsonify(_config_view(sandbox.config))


@bp.get("/messages")
def messages() -> Response:
    """Subscribe messages sent, optionally to one `touser` or of one `template_id`."""
    sandbox = current_sandbox()
    touser = request.args.get("touser")
    template_id = request.args.get("template_id")
    with sandbox.state.lock:
        found = [
            message
            for message in sandbox.state.messages
            if (not touser or message["touser"] == touser)
            and (not template_id or message["template_id"] == template_id)
        ]
    return jsonify({"messages": found})


@bp.post("/messages/refuse")
def refuse_messages() -> Response:
    """Make a user refuse (or accept again) subscribe messages: 43101 while refusing."""
    sandbox = current_sandbox()
    data = json_body()
    openid = data.get("openid")
    if not isinstance(openid, str) or not openid:
        raise ControlError(400, "openid is required")
    refuse = data.get("refuse", True)
    with sandbox.state.lock:
        if refuse:
            sandbox.state.refusing_openids.add(openid)
        else:
            sandbox.state.refusing_openids.discard(openid)
        refusing = sorted(sandbox.state.refusing_openids)
    return jsonify({"refusing": refusing})


@bp.get("/media-checks")
def media_checks() -> Response:
    """mediaCheckAsync requests and the verdicts decided for them."""
    sandbox = current_sandbox()
    with sandbox.state.lock:
        return jsonify({"media_checks": list(sandbox.state.media_checks)})


@bp.get("/wxa-codes")
def wxa_codes() -> Response:
    """Every getwxacodeunlimit request, oldest first, with the errcode answered (0: a code)."""
    sandbox = current_sandbox()
    with sandbox.state.lock:
        return jsonify({"wxa_codes": list(sandbox.state.wxa_codes)})


@bp.get("/users/<name>")
def user(name: str) -> Response:
    """The ids a sandbox user NAME gets, without spending a login code."""
    if login_name(name) != name:
        raise ControlError(400, "NAME is 1-32 characters of [A-Za-z0-9_-]")
    config = current_sandbox().config
    return jsonify(
        {
            "name": name,
            "openid": openid_for(config.appid, name),
            "unionid": unionid_for(name),
            "phone_number": phone_for(name),
        }
    )
