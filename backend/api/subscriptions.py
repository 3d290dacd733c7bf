"""Subscribe messages: the templates the app sends and the consents users give."""

from __future__ import annotations

from typing import Any

from backend.api.base import Blueprint
from backend.api.schemas.subscriptions import ConsentInputSchema, SubscriptionsSchema
from backend.auth import BEARER, login_required
from backend.messages.services import record_consents, subscriptions_of

blp = Blueprint("subscriptions", __name__, description="订阅消息")


@blp.get("/me/subscriptions")
@blp.response(200, SubscriptionsSchema)
@blp.doc(security=BEARER)
def get_subscriptions() -> dict[str, Any]:
    """The templates to ask `wx.requestSubscribeMessage` for, with the user's unused
    consents to each."""
    return {"templates": subscriptions_of(login_required())}


@blp.post("/me/subscriptions")
@blp.arguments(ConsentInputSchema)
@blp.response(201, SubscriptionsSchema)
@blp.doc(security=BEARER)
def post_subscriptions(args: dict[str, list[str]]) -> dict[str, Any]:
    """Record the templates the user accepted (one message each); an unknown id is a 400."""
    return {"templates": record_consents(login_required(), args["template_ids"])}
