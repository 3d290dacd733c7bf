"""Refunds of donations, a need's donations for the back office, and a finished need's
money left over."""

from __future__ import annotations

from functools import partial
from typing import Any

from backend.accounts.permissions import Permission, can, require
from backend.api.base import Blueprint, id_page
from backend.api.idempotency import idempotent
from backend.api.lookups import need_for
from backend.api.schemas.base import PageArgsSchema
from backend.api.schemas.refunds import (
    LeftoverInputSchema,
    LeftoverSchema,
    NeedDonationPageSchema,
    RefundInputSchema,
    RefundListSchema,
    RefundSchema,
)
from backend.auth import BEARER, login_required
from backend.boundary import after_commit
from backend.donations.models import Donation
from backend.donations.services import donation_not_found
from backend.extensions import db
from backend.refunds import leftover, services
from backend.refunds.models import LeftoverAction, Refund

blp = Blueprint("refunds", __name__, description="退款与项目结余")


def _donation_for(permission: Permission | None, donation_id: int) -> Donation:
    """The donation, for its donor (`permission` None) or a holder of `permission` over its
    fund: 401 first, then 404 for anyone who may not read the fund's back office (as for a
    donation that does not exist), then 403."""
    actor = login_required()
    donation = db.session.get(Donation, donation_id)
    if donation is None:
        raise donation_not_found()
    if permission is None and donation.user_id == actor.id:
        return donation
    if not can(actor, Permission.READ_BACK_OFFICE, donation.fund):
        raise donation_not_found()
    if permission is not None:
        require(actor, permission, donation.fund)
    return donation


@blp.post("/donations/<bigid:donation_id>/refunds")
@idempotent
@blp.arguments(RefundInputSchema)
@blp.response(201, RefundSchema)
@blp.doc(security=BEARER)
def refund_donation(data: dict[str, Any], donation_id: int) -> Refund:
    """Refund part or all of a paid donation (foundation admin): what was spent, is being
    refunded, or was paid over a year ago cannot be; WeChat is asked right after the
    commit, and the refund notice settles it."""
    donation = _donation_for(Permission.REFUND, donation_id)
    refund = services.request_refund(login_required(), donation, data["amount_fen"],
                                     data["reason"])  # fmt: skip
    after_commit(partial(services.send_refund, refund.id))
    return refund


@blp.get("/donations/<bigid:donation_id>/refunds")
@blp.response(200, RefundListSchema)
@blp.doc(security=BEARER)
def donation_refunds(donation_id: int) -> dict[str, Any]:
    """A donation's refunds, oldest first (its donor, or the fund's roles)."""
    donation = _donation_for(None, donation_id)
    return {"items": services.refunds_of(donation)}


@blp.get("/needs/<int:need_id>/donations")
@blp.arguments(PageArgsSchema, location="query", as_kwargs=True)
@blp.response(200, NeedDonationPageSchema)
@blp.doc(security=BEARER)
def need_donations(need_id: int, limit: int, cursor: str | None) -> dict[str, Any]:
    """The need's received donations, newest first, each with what can still be refunded
    (fund roles; donors by their masked names only)."""
    _, need = need_for(Permission.READ_BACK_OFFICE, need_id)
    return id_page("need-donations", cursor, {"need": need.id},
                   lambda after: services.need_donations_page(need.id, limit, after))  # fmt: skip


@blp.get("/needs/<int:need_id>/leftover")
@blp.response(200, LeftoverSchema)
@blp.doc(security=BEARER)
def need_leftover(need_id: int) -> leftover.Leftover:
    """What the need has left and what was decided about it (fund roles)."""
    _, need = need_for(Permission.READ_BACK_OFFICE, need_id)
    return leftover.leftover_of(need)


@blp.post("/needs/<int:need_id>/leftover")
@blp.arguments(LeftoverInputSchema)
@blp.response(201, LeftoverSchema)
@blp.doc(security=BEARER)
def decide_leftover(data: dict[str, Any], need_id: int) -> leftover.Leftover:
    """Decide, once, what a completed or closed need's money left becomes (foundation admin,
    recording the committee's decision): refunds to every donor with money left, or a move
    to the fund's general pool."""
    actor, need = need_for(Permission.REFUND, need_id)
    result = leftover.decide_leftover(actor, need, LeftoverAction(data["action"]),
                                      data["decision"])  # fmt: skip
    for refund_id in leftover.leftover_refund_ids(result)[: services.SEND_AT_ONCE]:
        after_commit(partial(services.send_refund, refund_id))
    return result
