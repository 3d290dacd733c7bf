"""Schemas of donations: the order, its payment parameters, the donor's own list."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from backend.api.schemas.base import (
    Amount,
    BeijingDateTime,
    Id,
    ObjectSchema,
    PageSchema,
    one_line,
)
from backend.api.schemas.space_codes import binary_doc
from backend.certificates.services import number_of
from backend.donations.services import payment_parameters


class DonationInputSchema(ma.Schema):
    """A donation to a need, or to a fund's general pool (give one of need_id, fund_id)."""

    need_id = Id()
    fund_id = Id()
    amount_fen = Amount(required=True)
    anonymous = ma.fields.Boolean(load_default=False)
    message = ma.fields.String(load_default="", validate=[ma.validate.Length(max=200), one_line])
    space_code = ma.fields.String(validate=ma.validate.Length(min=2, max=16))

    @ma.validates_schema
    def one_target(self, data: dict[str, Any], **kwargs: Any) -> None:
        """Exactly one of need_id and fund_id."""
        if ("need_id" in data) == ("fund_id" in data):
            raise ma.ValidationError("need_id 与 fund_id 须且只能填写一个", "need_id")


class PaymentSchema(ma.Schema):
    """Parameters for `wx.requestPayment`, signed (MD5), to pass on as they are."""

    appId = ma.fields.String()
    timeStamp = ma.fields.String()
    nonceStr = ma.fields.String()
    package = ma.fields.String()
    signType = ma.fields.String()
    paySign = ma.fields.String()


class SignedPaymentField(ma.fields.Nested):
    """The order's `wx.requestPayment` parameters, signed when the answer is written."""

    def get_value(
        self, obj: Any, attr: str, accessor: Any = None, default: Any = ma.missing
    ) -> Any:
        return payment_parameters(obj)


class CertificateNumberField(ma.fields.String):
    """The donation's certificate number (`backend.certificates.numbers`), null while it has
    no valid certificate (unpaid, or refunded in full)."""

    def get_value(
        self, obj: Any, attr: str, accessor: Any = None, default: Any = ma.missing
    ) -> Any:
        return number_of(obj)


class DonationSchema(ObjectSchema):
    """A donation as its donor sees it."""

    id = ma.fields.Integer()
    out_trade_no = ma.fields.String()
    status = ma.fields.String()
    amount_fen = ma.fields.Integer()
    refunded_fen = ma.fields.Integer()
    refunding_fen = ma.fields.Integer(metadata={"description": "refunds asked for, not yet back"})
    need_id = ma.fields.Integer(allow_none=True)
    fund_id = ma.fields.Integer()
    anonymous = ma.fields.Boolean()
    public_name = ma.fields.String()
    message = ma.fields.String()
    created_at = BeijingDateTime()
    expires_at = BeijingDateTime()
    paid_at = BeijingDateTime(allow_none=True)
    certificate_no = CertificateNumberField(
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "the certificate's number (LS20261130-00000042-7K9QH2XA), checked at"
            " /p/certificates/{number}; null while there is no valid certificate (unpaid, or"
            " refunded in full); GET /donations/{id}/certificate is its image"
        },
    )


class DonationCreatedSchema(DonationSchema):
    """A new pending order and what the mini-program needs to pay it."""

    payment = SignedPaymentField(PaymentSchema)


class AllocationSchema(ObjectSchema):
    """Which expense a donation's money went to, how much of it, and when it was paid."""

    expense_id = ma.fields.Integer()
    amount_fen = ma.fields.Integer()
    purpose = ma.fields.String()
    disbursed_at = BeijingDateTime(allow_none=True)


class MyDonationSchema(DonationSchema):
    """A donation with where its money went: the disbursed expenses it paid for, the
    earliest first (allocated oldest donation first when each expense was paid)."""

    #: how much of it expenses have spent so far
    allocated_fen = ma.fields.Integer()
    allocations = ma.fields.List(ma.fields.Nested(AllocationSchema))


class MyDonationPageSchema(PageSchema):
    """A page of the user's donations, newest first."""

    items = ma.fields.List(ma.fields.Nested(MyDonationSchema))


CERTIFICATE_DOC = binary_doc("the donation certificate (PNG, 1080×1440)", "image/png")
