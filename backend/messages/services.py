"""Templates in use, consents the mini-program reports, and what an account deletion drops."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from backend.accounts.models import User
from backend.common.errors import DomainError, Kind
from backend.config import Settings
from backend.extensions import db
from backend.messages.models import (
    MessageKind,
    MessageStatus,
    SubscribeMessage,
    SubscriptionConsent,
)

#: kind → the template's title in WeChat's library (what the user sees when asked)
TITLES = {
    MessageKind.DONATION_PAID: "捐赠成功通知",
    MessageKind.MONEY_SPENT: "善款使用通知",
}
#: unused consents kept per user and template: more acceptances are not recorded (a client
#: that reports the same acceptance in a loop cannot grow the table)
MAX_UNUSED_CONSENTS = 50


@dataclass(frozen=True)
class Template:
    """A subscribe message the app sends, with the user's unused consents to it."""

    kind: MessageKind
    template_id: str
    title: str
    remaining: int = 0


def template_ids(settings: Settings | None = None) -> dict[MessageKind, str]:
    """The configured template of each kind that is on (`WECHAT_TEMPLATE_*`)."""
    settings = settings or current_app.config["SETTINGS"]
    configured = {
        MessageKind.DONATION_PAID: settings.wechat_template_donation_paid,
        MessageKind.MONEY_SPENT: settings.wechat_template_money_spent,
    }
    return {kind: template for kind, template in configured.items() if template}


def subscriptions_of(user: User) -> list[Template]:
    """The templates in use with the user's unused consents to each."""
    templates = template_ids()
    counts = dict(
        db.session.execute(
            sa.select(SubscriptionConsent.template_id, sa.func.count())
            .where(
                SubscriptionConsent.user_id == user.id,
                SubscriptionConsent.used_at.is_(None),
                SubscriptionConsent.template_id.in_(templates.values()),
            )
            .group_by(SubscriptionConsent.template_id)
        ).all()
    )
    return [
        Template(kind, template_id, TITLES[kind], counts.get(template_id, 0))
        for kind, template_id in templates.items()
    ]


def record_consents(user: User, accepted: Iterable[str]) -> list[Template]:
    """One consent per template the user accepted in `wx.requestSubscribeMessage`; an id
    the app does not use refuses the whole request, naming it. Flushes."""
    known = set(template_ids().values())
    accepted = list(dict.fromkeys(accepted))  # one acceptance per template and request
    unknown = [template_id for template_id in accepted if template_id not in known]
    if unknown:
        raise DomainError(
            Kind.BAD_REQUEST,
            "unknown_template",
            f"未知的订阅消息模板：{'、'.join(unknown)}",
            {"template_ids": [f"未知的模板：{template_id}" for template_id in unknown]},
        )
    # The user's row is the lock: two reports at once cannot both pass the limit.
    db.session.execute(sa.select(User.id).where(User.id == user.id).with_for_update())
    remaining = {template.template_id: template.remaining for template in subscriptions_of(user)}
    for template_id in accepted:
        if remaining[template_id] < MAX_UNUSED_CONSENTS:
            db.session.add(SubscriptionConsent(user_id=user.id, template_id=template_id))
    db.session.flush()
    return subscriptions_of(user)


def forget_subscriber(user: User) -> None:
    """Account deletion: drop the user's consents and the messages not yet handed to
    WeChat (nothing more is sent); the record of those sent keeps no text of theirs."""
    db.session.execute(
        sa.delete(SubscribeMessage).where(
            SubscribeMessage.user_id == user.id,
            SubscribeMessage.status == MessageStatus.PENDING,
        )
    )
    db.session.execute(
        sa.update(SubscribeMessage)
        .where(SubscribeMessage.user_id == user.id)
        .values(data={}, consent_id=None)
    )
    db.session.execute(sa.delete(SubscriptionConsent).where(SubscriptionConsent.user_id == user.id))
    db.session.flush()
