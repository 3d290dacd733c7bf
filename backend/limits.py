"""Limits every request meets before its view (docs/observability.md): body size, a rate
per caller, and the security headers of the pages people open in a browser.

- **Body size.** `MAX_CONTENT_LENGTH` (12 MiB) is the upload's ceiling and applies only to
  `POST /api/v1/uploads`; every other request may send `MAX_BODY_BYTES` (256 KiB, far
  above any JSON the API takes). A larger body is a 413 in the contract's shape before the
  view runs, whether its length is announced or it comes chunked. WeChat Pay's notifications
  bound themselves (16 KiB) and answer FAIL in XML, as WeChat expects.
- **Rate.** Every call under `/api/` and `/p/` takes one token from its caller's bucket
  (`common.ratelimit`): a logged-in user's (`RATE_LIMIT_USER_PER_MINUTE`), wherever the
  user calls from, else the client address's (`RATE_LIMIT_ADDRESS_PER_MINUTE`, looser: a
  charity space's Wi-Fi is one address for many residents, most of them logged in through
  the mini-program and so never counted there). Past it: 429 with `Retry-After`.
  WeChat's own calls (payment notifications, message push) are never limited.
- **Headers.** Pages (`/p/`) and their assets (`/assets/`) may not be framed
  (`X-Frame-Options: DENY`, besides the pages' CSP `frame-ancestors 'none'`), send the
  origin only (`Referrer-Policy`), use no camera, microphone, location or payment API
  (`Permissions-Policy`), and are never sniffed (`nosniff`). Every https response carries
  HSTS. No response grants CORS: the mini-program is not a browser and does not need it,
  the pages call their own origin, and anyone may read the public API from a server.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from backend.auth import token_user_id
from backend.common.ratelimit import caller_bucket, take, too_many

#: the largest body of any request but an upload
MAX_BODY_BYTES = 256 * 1024
#: the upload endpoint, whose limit is MAX_CONTENT_LENGTH
UPLOAD_ENDPOINTS = frozenset({"uploads.post_upload"})
#: WeChat Pay's notifications: bounded by their views (16 KiB), answered in XML
NOTIFICATION_PATHS = ("/api/v1/payments/wechat/",)
#: paths whose callers are WeChat's servers: never rate limited
WECHAT_PATHS = (*NOTIFICATION_PATHS, "/api/v1/wechat/events")
#: paths whose calls take a token from their caller's bucket
LIMITED_PATHS = ("/api/", "/p/")
#: paths people open in a browser, with the pages' headers
PAGE_PATHS = ("/p/", "/assets/")

PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": (
        "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
    ),
}
#: a year, subdomains included (the API's domain is served over https only)
HSTS = "max-age=31536000; includeSubDomains"


def bound_body() -> None:
    """Lower the body limit to MAX_BODY_BYTES but for uploads; refuse an announced excess."""
    if request.path.startswith(NOTIFICATION_PATHS) or request.endpoint in UPLOAD_ENDPOINTS:
        return
    if request.content_length is not None:
        request.max_content_length = MAX_BODY_BYTES
        if request.content_length > MAX_BODY_BYTES:
            raise RequestEntityTooLarge()
    elif request.environ.get("wsgi.input_terminated"):
        # Chunked: werkzeug would cut the body at the limit without a word (the JSON then
        # looks broken); read one byte past it instead, kept for the view.
        request.max_content_length = MAX_BODY_BYTES + 1
        if len(request.get_data(cache=True)) > MAX_BODY_BYTES:
            raise RequestEntityTooLarge()


def limit_rate() -> None:
    """One token from the caller's bucket: the user's when logged in, else the address's."""
    path = request.path
    if not path.startswith(LIMITED_PATHS) or path.startswith(WECHAT_PATHS):
        return
    observe = current_app.config["SETTINGS"].observe
    user_id = token_user_id()
    bucket = caller_bucket("req", user_id, request.remote_addr)
    per_minute = (
        observe.user_requests_per_minute
        if user_id is not None
        else observe.address_requests_per_minute
    )
    wait = take(bucket, per_minute)
    if wait:
        raise too_many(wait)


def security_headers(response: Response) -> Response:
    """The pages' headers (see the module's doc) and HSTS on https."""
    if request.path.startswith(PAGE_PATHS):
        for name, value in PAGE_HEADERS.items():
            response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_limits(app: Flask) -> None:
    """Bound bodies, limit callers' rates and add the pages' headers, for every request."""
    app.before_request(bound_body)
    app.before_request(limit_rate)
    app.after_request(security_headers)
