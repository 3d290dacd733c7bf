"""Sending subscribe messages through WeChat (`subscribeMessage.send`), in the worker only.

A message is sent at most once by us. The worker claims due messages with
`FOR UPDATE SKIP LOCKED`, marks them `sending` (the attempt counted, a lease in
`next_attempt_at`) and commits before any HTTP call: no row lock is held while WeChat
answers, and no second worker can take them. Each answer is then recorded in its own
transaction. A message is tried again only when WeChat surely did not send it (it
answered an error, or the connection was never made); when the outcome is unknown (the
answer timed out, or the worker died between the call and the commit, which leaves the
message `sending` past its lease) it is marked failed rather than sent a second time. So a
crash can lose a message, never send one twice; a duplicate can come only from WeChat's
own side.

Retries back off exponentially (1, 2, 4 … 60 minutes) up to `MAX_ATTEMPTS` tries.
43101 (the user refused, or has no consent left at WeChat) spends the consent and skips
the message. An access-token error fetches a new token once and sends again at once.
An error WeChat will repeat whatever we do (a bad openid, template, page or field) fails
the message at once and gives the consent back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
import sqlalchemy as sa
from flask import current_app
from urllib3.exceptions import NewConnectionError
from wechatpy.exceptions import WeChatClientException

from backend.accounts.models import User
from backend.extensions import db
from backend.messages.models import MessageStatus, SubscribeMessage, SubscriptionConsent
from backend.wechat.client import LinshanWeChatClient, build_wechat_client

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)
#: how long a claimed message may stay `sending`: far more than a batch of sends takes
#: (each call times out after 5 s; a token refresh adds two)
SENDING_LEASE = timedelta(minutes=10)
CLAIM_BATCH = 20
#: the user refused, or has no unused acceptance at WeChat
USER_REFUSED = 43101
#: WeChat's access token errors: invalid credential, invalid token, expired token
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
#: errors that come back the same however often we try: a bad openid, template id,
#: argument (a field's value) or page
PERMANENT_ERRORS = frozenset({40003, 40037, 47003, 41030})
SEND_PATH = "cgi-bin/message/subscribe/send"


@dataclass(frozen=True)
class Outgoing:
    """A claimed message, with what the HTTP call needs (read in the claim's transaction)."""

    id: int
    openid: str | None
    template_id: str
    data: dict[str, Any]
    page: str


@dataclass(frozen=True)
class Answer:
    """What became of one call: `sent`, `skipped`, `retry` or `failed`, and why."""

    outcome: str
    error: str | None = None
    msgid: str | None = None
    #: for failed: whether WeChat surely did not send it (the consent is then given back)
    not_sent: bool = False


def message_client() -> LinshanWeChatClient:
    """A WeChat client for one run of the sender: the app's shared token (in Redis), but
    with wechatpy's own token retry off, so a token error is refreshed once, here."""
    client = build_wechat_client(current_app.config["SETTINGS"], current_app.extensions["redis"])
    client.auto_retry = False
    return client


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed try: 1, 2, 4 … minutes, at most an hour."""
    return min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_RETRY)


def claim_due(now: datetime, limit: int = CLAIM_BATCH) -> list[Outgoing]:
    """Take due pending messages no other worker holds and mark them `sending`; flushes.
    The caller commits before sending them."""
    messages = list(
        db.session.scalars(
            sa.select(SubscribeMessage)
            .where(
                SubscribeMessage.status == MessageStatus.PENDING,
                SubscribeMessage.next_attempt_at <= now,
            )
            .order_by(SubscribeMessage.next_attempt_at, SubscribeMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=SubscribeMessage)
        )
    )
    if not messages:
        return []
    openids = dict(
        db.session.execute(
            sa.select(User.id, User.openid).where(User.id.in_({m.user_id for m in messages}))
        ).all()
    )
    claimed = []
    for message in messages:
        message.status = MessageStatus.SENDING
        message.attempts += 1
        message.next_attempt_at = now + SENDING_LEASE
        openid = openids.get(message.user_id)
        claimed.append(
            Outgoing(message.id, openid, message.template_id, message.data, message.page)
        )
    db.session.flush()
    return claimed


def _surely_not_sent(exc: requests.RequestException) -> bool:
    """Whether a network error happened before WeChat could have read the message: on
    another request (the access token's), or before the connection was made."""
    url = getattr(exc.request, "url", None) or ""
    if SEND_PATH not in url:
        return True
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and exc.args:
        return isinstance(getattr(exc.args[0], "reason", None), NewConnectionError)
    return False


def _error(exc: WeChatClientException) -> str:
    if exc.errcode is None and exc.response is not None:
        return f"HTTP {exc.response.status_code}"
    return f"{exc.errcode} {exc.errmsg}"[:200]


def send(client: LinshanWeChatClient, message: Outgoing) -> Answer:
    """Call `subscribeMessage.send` for a claimed message (no database work)."""
    if not message.openid:
        return Answer("skipped", "the account has no openid (deleted)")
    for refreshed in (False, True):
        try:
            result = client.wxa.send_subscribe_message(
                message.openid, message.template_id, message.data, page=message.page
            )
            return Answer("sent", msgid=str(result.get("msgid") or "") or None)
        except WeChatClientException as exc:
            if exc.errcode in TOKEN_ERRORS and not refreshed:
                try:
                    client.fetch_access_token()
                except (WeChatClientException, requests.RequestException) as fetch:
                    return Answer("retry", f"access token: {fetch}"[:200])
                continue
            if exc.errcode == USER_REFUSED:
                return Answer("skipped", _error(exc))
            if exc.errcode in PERMANENT_ERRORS:
                return Answer("failed", _error(exc), not_sent=True)
            return Answer("retry", _error(exc))
        except requests.RequestException as exc:
            if _surely_not_sent(exc):
                return Answer("retry", f"network: {type(exc).__name__}")
            return Answer("failed", f"outcome unknown: {type(exc).__name__}")
    raise AssertionError("unreachable")  # pragma: no cover


def record(message_id: int, answer: Answer, now: datetime) -> str:
    """Write what became of a send; flushes. Returns the outcome recorded (a message gone
    meanwhile, its account deleted, is `gone`)."""
    message = db.session.get(SubscribeMessage, message_id, with_for_update=True)
    if message is None:
        return "gone"
    if message.status != MessageStatus.SENDING and answer.outcome != "sent":
        return "gone"  # taken for dead past its lease; what was decided then stands
    outcome = answer.outcome
    if outcome == "retry" and message.attempts >= MAX_ATTEMPTS:
        outcome = "failed"
        answer = Answer("failed", answer.error, not_sent=True)
    message.last_error = answer.error
    if outcome == "sent":
        message.status = MessageStatus.SENT
        message.sent_at = now
        message.msgid = answer.msgid
    elif outcome == "skipped":
        message.status = MessageStatus.SKIPPED
    elif outcome == "retry":
        message.status = MessageStatus.PENDING
        message.next_attempt_at = now + retry_delay(message.attempts)
    else:
        message.status = MessageStatus.FAILED
        if answer.not_sent:
            _give_back(message)
    if outcome != "sent":
        log.warning("subscribe message %s %s: %s", message.id, outcome, answer.error)
    db.session.flush()
    return outcome


def _give_back(message: SubscribeMessage) -> None:
    """WeChat never delivered the message: its consent is unused again."""
    if message.consent_id is not None:
        db.session.execute(
            sa.update(SubscriptionConsent)
            .where(SubscriptionConsent.id == message.consent_id)
            .values(used_at=None)
        )
        message.consent_id = None


def expire_interrupted(now: datetime) -> int:
    """Fail the messages left `sending` past their lease (their worker died between the
    call and its commit): whether WeChat sent them is unknown, so they are not sent again
    and their consents stay spent. Flushes; how many."""
    expired = db.session.scalars(
        sa.update(SubscribeMessage)
        .where(
            SubscribeMessage.status == MessageStatus.SENDING,
            SubscribeMessage.next_attempt_at <= now,
        )
        .values(status=MessageStatus.FAILED, last_error="outcome unknown: the worker stopped")
        .returning(SubscribeMessage.id)
        .execution_options(synchronize_session=False)
    ).all()
    for message_id in expired:
        log.warning("subscribe message %s was being sent when its worker stopped", message_id)
    return len(expired)
