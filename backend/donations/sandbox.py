"""Development only: the donor's own pending order paid through the WeChat sandbox.

The mini-program's develop environment cannot pay a sandbox order with
`wx.requestPayment`; the donor asks the backend, which has the sandbox play the payer. The
donation becomes paid the ordinary way, when the sandbox's signed notification arrives.
"""

from __future__ import annotations

import sqlalchemy as sa

from backend.accounts.models import User
from backend.common.errors import conflict
from backend.common.time import utcnow
from backend.donations.models import Donation, DonationStatus
from backend.donations.services import donation_not_found
from backend.extensions import db
from backend.payments.sandbox_control import ask_sandbox_to_pay


def own_order(user: User, out_trade_no: str) -> Donation:
    """The user's order by its number; someone else's or an unknown one is not found."""
    donation = db.session.scalar(sa.select(Donation).where(Donation.out_trade_no == out_trade_no))
    if donation is None or donation.user_id != user.id:
        raise donation_not_found()
    return donation


def pay_in_sandbox(user: User, out_trade_no: str) -> Donation:
    """Have the sandbox pay the user's pending order; the donation is returned as it is
    now (still pending: the payment notification arrives on its own, moments later)."""
    donation = own_order(user, out_trade_no)
    if donation.status != DonationStatus.PENDING:
        if donation.status == DonationStatus.CLOSED:
            raise conflict("donation_closed", "该订单已关闭，请重新下单")
        raise conflict("donation_already_paid", "该订单已支付")
    if donation.expires_at <= utcnow():
        raise conflict("donation_expired", "该订单已过期，请重新下单")
    ask_sandbox_to_pay(donation.out_trade_no)
    return donation
