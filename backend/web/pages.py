"""Server-rendered public pages (`/p/…`) for people without WeChat: the plain QR codes on
posters point here. The same services and figures as the API, as HTML.

Each page is gathered and rendered by one function, `render_*_page(...)`, which returns its
HTML; the views turn that into a response with the pages' headers (`page_response`), and
`public_answer` (backend/api/public_cache.py) serves copies of it while nothing it shows
has changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, render_template, request
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from backend.api.base import id_page
from backend.api.ledger import expense_page
from backend.api.lookups import region_or_404
from backend.api.public_cache import public_answer
from backend.api.schemas.ledger import evidence_url
from backend.certificates.numbers import MAX_LENGTH as CERTIFICATE_NUMBER_MAX
from backend.certificates.services import verify_certificate
from backend.common.errors import DomainError, Kind
from backend.common.money import yuan
from backend.donations.services import income_page
from backend.funds.services import fund_summary
from backend.ledger.sealing import published_head
from backend.needs.disclosure import DisclosureState, load_reports
from backend.needs.figures import Figures
from backend.needs.models import CATEGORY_LABELS, NeedStatus
from backend.needs.services import (
    NeedCard,
    NeedFilters,
    need_progress,
    public_need,
    public_needs_page,
    with_figures,
)
from backend.regions.services import RegionNode, region_tree
from backend.spaces.services import spaces_page
from backend.spending.public import disbursed_page, mask_payee, public_need_totals
from backend.stats.services import rollup
from backend.stats.spaces import space_detail
from backend.uploads.storage import get_storage
from backend.uploads.urls import media_url
from backend.web import charts
from backend.web.assets import PROGRESS_SCRIPT, SCRIPT_HASH, asset_url
from backend.web.labels import FILTERS, chinese_date, metric_value

web = Blueprint("web", __name__, url_prefix="/p", template_folder="templates")

#: rows of each ledger list on a page (income; disbursed expenses)
LEDGER_PAGE = 20
#: needs listed on a fund's or a region's page
NEEDS_SHOWN = 50
#: spaces listed on a region's page
SPACES_SHOWN = 30
#: error pages: any cache may keep one a few seconds (the pages themselves carry
#: `public_answer`'s headers)
PAGE_CACHE_CONTROL = "public, max-age=5"


# --- responses ----------------------------------------------------------------------------


def base_url() -> str:
    """The configured public base URL (`PUBLIC_BASE_URL`), without a trailing slash."""
    return current_app.config["SETTINGS"].public_base_url


def absolute(url: str | None) -> str | None:
    """`url` made absolute on the public base URL (None stays None)."""
    if not url:
        return None
    return url if urlsplit(url).scheme else base_url() + "/" + url.lstrip("/")


def content_security_policy() -> str:
    """Only this origin (and the media storage's, where it is elsewhere); the one inline
    script by its hash; no frames, no forms, no plugins."""
    images = ["'self'", "data:"]
    media = urlsplit(get_storage().url("x"))
    if media.scheme in ("http", "https") and media.netloc:
        # The storage's own origin: a CDN, or this app under its public name when the page
        # was reached by another (127.0.0.1 rather than the configured host).
        images.append(f"{media.scheme}://{media.netloc}")
    return "; ".join(
        (
            "default-src 'none'",
            "style-src 'self'",
            f"img-src {' '.join(images)}",
            f"script-src '{SCRIPT_HASH}'",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


def page_headers(response: Response) -> Response:
    """Headers every public page carries, the error pages too."""
    response.headers["Content-Security-Policy"] = content_security_policy()
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    response.headers["Cache-Control"] = PAGE_CACHE_CONTROL
    return response


def page_response(html: str, status: int = 200) -> Response:
    """The rendered page with the headers every page carries (`public_answer`, around each
    route, adds the ETag and answers 304)."""
    return page_headers(Response(html, status, mimetype="text/html"))


ERROR_PAGES = {
    400: ("链接无效", "这个翻页链接无效或已过期，请回到第一页重新浏览。"),
    404: ("页面不存在", "您要找的项目、基金、慈善空间、区域或证书不存在，或尚未公开。"),
}


def error_page(status: int, message: str | None = None) -> Response:
    """A friendly Chinese HTML page for an error (never JSON under /p/)."""
    title, default = ERROR_PAGES.get(status, ("出错了", "请稍后再试。"))
    html = render_template(
        "web/error.html",
        page=PageMeta(title, message or default, request.path, noindex=True),
        status=status,
        message=message or default,
    )
    return page_headers(Response(html, status, mimetype="text/html"))


@web.errorhandler(DomainError)
def domain_error_page(exc: DomainError) -> ResponseReturnValue:
    """A need that is not public, an unknown fund, space or region: the 404 page; a stale
    or forged cursor: the 400 page; anything else as the API answers it."""
    if exc.kind == Kind.NOT_FOUND:
        return error_page(404)
    if exc.kind == Kind.BAD_REQUEST:
        return error_page(400)
    from backend.errors import handle_domain_error

    return handle_domain_error(exc)


def not_found_page(exc: Exception) -> ResponseReturnValue:
    """The app's 404: the HTML page under /p/ (an unknown id, a bad path), JSON elsewhere."""
    if request.path == "/p" or request.path.startswith("/p/"):
        return error_page(404)
    from backend.errors import handle_http_exception

    return handle_http_exception(exc)  # type: ignore[arg-type]


# --- the pages' common parts ----------------------------------------------------------------


@dataclass(frozen=True)
class PageMeta:
    """What the `<head>` says of a page: title, description, Open Graph, canonical URL."""

    title: str
    description: str
    path: str
    og_type: str = "website"
    image: str | None = None
    noindex: bool = False

    @property
    def url(self) -> str:
        """The canonical absolute URL (`og:url`, `<link rel=canonical>`)."""
        return base_url() + self.path


def summary(text: str, limit: int = 110) -> str:
    """The first `limit` characters of a text on one line, for descriptions."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@web.app_template_global("progress_bar")
def progress_bar(percent: int, colour: str = charts.RAISED_COLOUR) -> Markup:
    """An inline SVG bar (templates call it)."""
    return charts.progress_bar(percent, colour=colour)


@web.record_once
def _register_filters(state: Any) -> None:
    state.app.jinja_env.filters.update({f"web_{name}": f for name, f in FILTERS.items()})
    state.app.jinja_env.globals.update(
        web_asset_url=asset_url,
        web_category_label=lambda c: CATEGORY_LABELS.get(c, str(c)),
        web_metric_value=metric_value,
    )


# --- need -----------------------------------------------------------------------------------


def photo_urls(upload: Any) -> tuple[str, str]:
    """(full size, thumbnail) URLs of an upload's image (the thumbnail where there is one)."""
    full = media_url(upload, upload.storage_key)
    thumb = media_url(upload, upload.thumbnail_key) if upload.thumbnail_key else full
    return full, thumb


def render_need_page(
    need_id: int, cursor: str | None = None, expense_cursor: str | None = None
) -> str:
    """A published need: story, budget, live progress, ledger (income and disbursed
    expenses with their evidence), updates with photos, disclosure, foundation, filing
    number and the sealed journal's head. Not found for a need the public may not see.

    Queries: the need (1) with budget lines, images and updates (3), the updates' photos
    (1), the ledger's figures (1), a page of income (1), a page of expenses (1), the
    journal's head (2): 10; the progress is read from Redis (PostgreSQL only without it)."""
    need = public_need(need_id, page=True)  # first: a draft is a 404
    load_reports([need], photos=True)
    progress = need_progress(need.id)  # exactly what GET /needs/<id>/progress answers
    card = NeedCard(need, Figures(progress.raised_fen, progress.donation_count))
    totals = public_need_totals(need.id)
    filters = {"need": need.id}
    income = id_page("need-ledger", cursor, filters,
                     lambda after: income_page(need_id=need.id, limit=LEDGER_PAGE, after=after))  # fmt: skip
    expenses = expense_page("need-expenses", expense_cursor, filters,
                            lambda after: disbursed_page(need_id=need.id, limit=LEDGER_PAGE,
                                                         after=after))  # fmt: skip
    updates = [
        {
            "report": update,
            "photos": [
                (
                    *photo_urls(image.upload),
                    f"{need.title}：{chinese_date(update.created_at)}的进展照片{i}",
                )
                for i, image in enumerate(update.images, start=1)
            ],
        }
        for update in need.updates
    ]
    image = absolute(need.cover_url or (need.images[0].url if need.images else None))
    if image is None:
        image = next((absolute(u["photos"][0][0]) for u in updates if u["photos"]), None)
    disclosure = card.disclosure
    meta = PageMeta(
        title=f"{need.title}｜邻善",
        description=summary(
            f"{need.fund.name}：已筹{yuan(progress.raised_fen)}，目标"
            f"{yuan(progress.goal_fen)}。{need.story}"
        ),
        path=f"/p/needs/{need.id}",
        og_type="article",
        image=image,
    )
    return render_template(
        "web/need.html",
        page=meta,
        need=need,
        card=card,
        progress=progress,
        progress_url=f"/api/v1/needs/{need.id}/progress",
        progress_script=PROGRESS_SCRIPT,
        totals=totals,
        income=income,
        expenses=[public_expense(e) for e in expenses["expenses"]],
        expenses_next_cursor=expenses["expenses_next_cursor"],
        updates=updates,
        disclosure=disclosure,
        overdue=disclosure.state == DisclosureState.OVERDUE,
        head=published_head(),
        csv_url=f"/api/v1/needs/{need.id}/ledger.csv",
        category=CATEGORY_LABELS[need.category],
    )


def public_expense(expense: Any) -> dict[str, Any]:
    """A disbursed expense as the pages show it: the payee masked, evidence with URLs."""
    evidence = []
    for i, item in enumerate(expense.evidence, start=1):
        evidence.append(
            {
                "url": evidence_url(item),
                "thumbnail_url": evidence_url(item, thumbnail=True),
                "is_image": item.content_type.startswith("image/"),
                "stage": item.stage,
                "alt": f"{expense.purpose}的{'付款凭证' if item.stage == 'disbursement' else '票据凭证'}{i}",
            }
        )
    return {"expense": expense, "payee": mask_payee(expense), "evidence": evidence}


@web.get("/needs/<int:need_id>")
@public_answer
def need_page(need_id: int) -> Response:
    """The public page of a need."""
    return page_response(
        render_need_page(need_id, request.args.get("cursor"), request.args.get("expense_cursor"))
    )


# --- fund -----------------------------------------------------------------------------------


def render_fund_page(
    fund_id: int, cursor: str | None = None, expense_cursor: str | None = None
) -> str:
    """A fund: figures as `GET /api/v1/funds/<id>` has them, governance (counts), its needs
    with progress, its ledger's first page.

    Queries: the fund (1), its needs for the disclosure duty (1) and their updates (1),
    the journal accounts and balance (2), raised (1), governance (1), its needs' page (1)
    and their updates (1), a page of income (1), a page of expenses (1): 11."""
    fund = fund_summary(fund_id)
    needs = public_needs_page(NeedFilters(fund_id=fund.fund.id), NEEDS_SHOWN, None)
    filters = {"fund": fund.fund.id}
    income = id_page("fund-ledger", cursor, filters,
                     lambda after: income_page(fund_id=fund.fund.id, limit=LEDGER_PAGE, after=after))  # fmt: skip
    expenses = expense_page("fund-expenses", expense_cursor, filters,
                            lambda after: disbursed_page(fund_id=fund.fund.id, limit=LEDGER_PAGE,
                                                         after=after))  # fmt: skip
    meta = PageMeta(
        title=f"{fund.fund.name}｜邻善",
        description=summary(
            f"{fund.fund.foundation.name}设立的社区慈善基金：已筹{yuan(fund.raised_fen)}，"
            f"已支出{yuan(fund.spent_fen)}，结余{yuan(fund.balance_fen)}。"
        ),
        path=f"/p/funds/{fund.fund.id}",
    )
    return render_template(
        "web/fund.html",
        page=meta,
        summary=fund,
        fund=fund.fund,
        needs=with_figures(needs.items),
        more_needs=needs.more,
        income=income,
        expenses=[public_expense(e) for e in expenses["expenses"]],
        expenses_next_cursor=expenses["expenses_next_cursor"],
        csv_url=f"/api/v1/funds/{fund.fund.id}/ledger.csv",
    )


@web.get("/funds/<int:fund_id>")
@public_answer
def fund_page(fund_id: int) -> Response:
    """The public page of a fund."""
    return page_response(
        render_fund_page(fund_id, request.args.get("cursor"), request.args.get("expense_cursor"))
    )


# --- space ----------------------------------------------------------------------------------


def render_space_page(code: str) -> str:
    """A charity space: where and when it opens, its photo, the needs it shows with their
    progress; what its codes brought in and its district ranking, where the service has them.

    Queries: the space with its region, fund and photo (1), its figures and rank (2), the
    needs it shows (1–3), their updates (1): 5–7."""
    detail = space_detail(code)
    space = detail.space
    photo = getattr(space, "photo", None)
    photo_full, photo_thumb = photo_urls(photo) if photo is not None else (None, None)
    meta = PageMeta(
        title=f"{space.name}｜邻善慈善空间",
        description=summary(
            f"{space.address}。{space.description or ''}"
            f"正在展示{len(detail.needs)}个公益项目，扫码或点击即可查看。"
        ),
        path=f"/p/spaces/{space.code}",
        image=absolute(photo_full),
    )
    return render_template(
        "web/space.html",
        page=meta,
        space=space,
        needs=detail.needs,
        figures=getattr(detail, "figures", None),
        rank=getattr(detail, "district_rank", None),
        photo=photo_full,
        photo_thumb=photo_thumb,
    )


@web.get("/spaces/<string(maxlength=16):code>")
@public_answer
def space_page(code: str) -> Response:
    """The public page of a charity space (the plain QR code's target)."""
    return page_response(render_space_page(code))


# --- certificate ----------------------------------------------------------------------------


def render_certificate_page(number: str) -> str:
    """The verification page of a donation certificate (the QR code on it points here):
    genuine, or no longer valid once refunded in full; the masked name, the amount, the need
    or pool, the day. An unknown or altered number is not found.

    Queries: the donation (1), its fund and foundation (2), its need (0–1): 3–4."""
    certificate = verify_certificate(number)
    meta = PageMeta(
        title=f"捐赠证书核验 {certificate.number}｜邻善",
        description=summary(
            f"{certificate.donor}于{chinese_date(certificate.paid_on)}向{certificate.target}"
            f"捐赠{yuan(certificate.net_fen)}。"
        ),
        path=f"/p/certificates/{certificate.number}",
        noindex=True,
    )
    return render_template("web/certificate.html", page=meta, certificate=certificate)


@web.get(f"/certificates/<string(maxlength={CERTIFICATE_NUMBER_MAX}):number>")
def certificate_page(number: str) -> Response:
    """The public check of a certificate number. Not a `public_answer`: donations are in
    no `PUBLIC_TABLES`, so the page is made afresh (kept a few seconds, as error pages)."""
    return page_response(render_certificate_page(number))


# --- region ---------------------------------------------------------------------------------


def find_node(nodes: list[RegionNode], region_id: int) -> list[RegionNode]:
    """The path from a root to the region with this id (empty when absent)."""
    for node in nodes:
        if node.id == region_id:
            return [node]
        below = find_node(node.children, region_id)
        if below:
            return [node, *below]
    return []


def render_region_page(region_id: int, *, path: str | None = None) -> str:
    """A region's dashboard: the roll-up of `backend.stats.services.rollup` (figures,
    needs by status, the monthly money chart, targets), its child regions, the needs
    raising money and the charity spaces in it.

    Queries: the region (1), the tree (1), the roll-up (5), the needs raising money (1)
    and their updates (1), the spaces (1): 10."""
    region = region_or_404(region_id)
    if region is None:  # pragma: no cover - an id is always given
        raise DomainError(Kind.NOT_FOUND, "region_not_found", "区域不存在")
    stats = rollup(region)
    trail = find_node(region_tree(), region.id)
    children = trail[-1].children if trail else []
    needs = public_needs_page(
        NeedFilters(region=region, status=NeedStatus.FUNDRAISING), NEEDS_SHOWN, None
    )
    spaces = spaces_page(region, None, SPACES_SHOWN, None)
    monthly = getattr(stats, "monthly", None) or []
    months = [charts.MonthBar(m.label, m.raised_fen, m.spent_fen) for m in monthly]
    meta = PageMeta(
        title=f"{region.name}社区慈善｜邻善",
        description=summary(
            f"{region.name}：{stats.fund_count}个社区基金，{stats.need_count}个公开项目，"
            f"已筹{yuan(stats.raised_fen)}，已支出{yuan(stats.spent_fen)}，"
            f"惠及{stats.beneficiary_count}人。"
        ),
        path=path or f"/p/regions/{region.id}",
    )
    return render_template(
        "web/region.html",
        page=meta,
        region=region,
        stats=stats,
        trail=trail[:-1],
        children=children,
        needs=with_figures(needs.items),
        more_needs=needs.more,
        spaces=spaces.items,
        months=monthly,
        chart=charts.monthly_bars(months, title=f"{region.name}近{len(months)}个月筹款与支出"),
        targets=getattr(stats, "targets", []),
        as_of=getattr(stats, "as_of", None),
    )


@web.get("/regions/<int:region_id>")
@public_answer
def region_page(region_id: int) -> Response:
    """The public dashboard of a region."""
    return page_response(render_region_page(region_id))


@web.get("/")
@public_answer
def index_page() -> Response:
    """The city's dashboard (the first root region), or an index when there are several."""
    roots = region_tree()
    if len(roots) == 1:
        return page_response(render_region_page(roots[0].id, path=f"/p/regions/{roots[0].id}"))
    meta = PageMeta("邻善社区慈善", "社区慈善基金的公开项目与账本。", "/p/")
    html = render_template("web/index.html", page=meta, roots=roots)
    return page_response(html)
