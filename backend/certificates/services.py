"""Which donations have a certificate, what it says, and the public check of a number."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import current_app

from backend.accounts.models import User
from backend.certificates.numbers import certificate_number, paid_day, read_number
from backend.common.errors import DomainError, conflict, not_found
from backend.donations.models import Donation, DonationStatus
from backend.donations.services import own_donation
from backend.extensions import db
from backend.funds.models import Fund

#: a donation whose money arrived and did not all go back has a valid certificate (a refund
#: under way does not void it: the certificate shows what was not refunded)
CERTIFIED_STATUSES = frozenset(
    {DonationStatus.PAID, DonationStatus.REFUNDING, DonationStatus.PARTIALLY_REFUNDED}
)
#: the path of the public verification page of a number
VERIFY_PATH = "/p/certificates/"


def has_certificate(status: Any, paid_at: datetime | None) -> bool:
    """Whether a donation in `status`, paid at `paid_at`, has a valid certificate."""
    return paid_at is not None and DonationStatus(status) in CERTIFIED_STATUSES


def number_of(donation: Any) -> str | None:
    """The certificate number of a donation (a model or a row with `id`, `status` and
    `paid_at`), or None when it has no valid certificate."""
    if not has_certificate(donation.status, donation.paid_at):
        return None
    return certificate_number(donation.id, donation.paid_at)


def verify_url(number: str) -> str:
    """The public verification page of a number, on `PUBLIC_BASE_URL` (the QR code's)."""
    return current_app.config["SETTINGS"].public_base_url + VERIFY_PATH + number


def pool_name(fund: Fund) -> str:
    """A fund's general pool as donors read it: 望湖社区慈善基金池."""
    return f"{fund.name}池" if fund.name.endswith("基金") else f"{fund.name}基金池"


@dataclass(frozen=True)
class CertificateData:
    """What a certificate shows: never more of the donor than the masked name."""

    number: str
    #: the masked name (张**) or 爱心人士
    donor: str
    #: what the donation still gives: paid minus refunded
    net_fen: int
    refunded_fen: int
    #: the need's title, or the fund's pool (望湖社区慈善基金池)
    target: str
    need_id: int | None
    fund_id: int
    fund_name: str
    foundation: str
    credit_code: str
    #: the need's public fundraising filing number (公开募捐备案编号), where it has one
    filing_number: str | None
    paid_on: date
    #: the public verification page (the QR code's target)
    url: str
    #: not refunded in full
    valid: bool


def certificate_data(donation: Donation) -> CertificateData:
    """What the certificate of a paid donation shows (valid or not)."""
    if donation.paid_at is None:
        raise certificate_not_paid()
    number = certificate_number(donation.id, donation.paid_at)
    fund = donation.fund
    need = donation.need
    return CertificateData(
        number=number,
        donor=donation.public_name,
        net_fen=donation.net_fen,
        refunded_fen=donation.refunded_fen,
        target=need.title if need is not None else pool_name(fund),
        need_id=need.id if need is not None else None,
        fund_id=fund.id,
        fund_name=fund.name,
        foundation=fund.foundation.name,
        credit_code=fund.foundation.credit_code,
        filing_number=need.filing_number if need is not None else None,
        paid_on=paid_day(donation.paid_at),
        url=verify_url(number),
        valid=has_certificate(donation.status, donation.paid_at),
    )


def certificate_not_paid() -> DomainError:
    """The answer for an order not paid (pending, or closed unpaid)."""
    return conflict("certificate_not_paid", "尚未支付，暂无证书")


def own_certificate(user: User, donation_id: int) -> CertificateData:
    """The certificate of one of the user's donations: someone else's is not found (as if it
    did not exist), an unpaid one has none yet, a refunded one none any more."""
    donation = own_donation(user, donation_id)
    if donation.paid_at is None:
        raise certificate_not_paid()
    if not has_certificate(donation.status, donation.paid_at):
        raise conflict("certificate_revoked", "已全额退款，证书已失效")
    return certificate_data(donation)


def certificate_not_found() -> DomainError:
    """The one answer for a number that is malformed, forged or of no donation."""
    return not_found("certificate_not_found", "证书不存在")


def verify_certificate(number: str) -> CertificateData:
    """The certificate a number belongs to, valid or refunded; anything else not found."""
    parts = read_number(number)
    if parts is None:
        raise certificate_not_found()
    donation = db.session.get(Donation, parts.donation_id)
    if donation is None or donation.paid_at is None or paid_day(donation.paid_at) != parts.paid_on:
        raise certificate_not_found()
    return certificate_data(donation)
