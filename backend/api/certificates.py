"""Donation certificates (捐赠证书): the PNG a donor saves and shares."""

from __future__ import annotations

from urllib.parse import quote

from flask import Response

from backend.api.base import Blueprint
from backend.api.schemas.donations import CERTIFICATE_DOC
from backend.api.uploads import RFC5987_SAFE
from backend.auth import BEARER, login_required
from backend.certificates.render import render_png
from backend.certificates.services import own_certificate

blp = Blueprint("certificates", __name__, description="捐赠证书")

#: the donor's own picture: no shared cache may keep it
CERTIFICATE_CACHE_CONTROL = "private, max-age=300"


@blp.get("/donations/<bigid:donation_id>/certificate")
@blp.doc(security=BEARER, responses=CERTIFICATE_DOC)
def donation_certificate(donation_id: int) -> Response:
    """The certificate of one of the caller's paid donations (PNG, 1080×1440).

    It carries the certificate number and a QR code of its public verification page
    (`/p/certificates/<number>`), and shows the amount net of refunds. Someone else's
    donation is a 404, as if it did not exist; an unpaid one is a 409
    (`certificate_not_paid`), one refunded in full a 409 (`certificate_revoked`)."""
    data = own_certificate(login_required(), donation_id)
    response = Response(render_png(data), mimetype="image/png")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="linshan-certificate-{data.number}.png"; '
        f"filename*=UTF-8''{quote(f'捐赠证书-{data.number}.png', safe=RFC5987_SAFE)}"
    )
    response.headers["Cache-Control"] = CERTIFICATE_CACHE_CONTROL
    return response
