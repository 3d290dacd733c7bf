"""The public web pages (`/p/…`) over the demo data, through the Flask test client: status,
type, Chinese text, Open Graph tags, caching (ETag, 304), security headers, the friendly
404 page, no personal data in what a reader sees, the need's progress as the API has it,
and how many SQL statements each page costs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from backend.accounts.models import User
from backend.common.money import yuan
from backend.extensions import db
from backend.needs.models import Need, NeedStatus
from backend.regions.models import Region
from backend.spending.models import Expense, PayeeType
from tests.test_no_personal_data import Secrets, leaks, parse

pytestmark = pytest.mark.usefixtures("demo")

#: SQL statements each page may cost at most (the docstrings of `backend.web.pages` count
#: them); a page that starts querying per row fails here
QUERY_BUDGET = {"need": 12, "fund": 13, "space": 9, "region": 13}
CJK = re.compile(r"[\u4e00-\u9fff]")


class Page(HTMLParser):
    """What the tests read of a page: meta tags, links, elements by id and data-field."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.links: dict[str, str] = {}
        self.hrefs: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.fields: dict[str, str] = {}
        self.title = ""
        self.lang: str | None = None
        self._field: str | None = None
        self._in_title = False
        self.text: list[str] = []
        self.scripts = 0
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        elif tag == "meta" and (a.get("property") or a.get("name")):
            self.meta[str(a.get("property") or a.get("name"))] = a.get("content") or ""
        elif tag == "link" and a.get("rel"):
            self.links[str(a["rel"])] = a.get("href") or ""
        elif tag == "a" and a.get("href"):
            self.hrefs.append(str(a["href"]))
        elif tag == "img":
            self.images.append(a)
        elif tag == "title":
            self._in_title = True
        elif tag == "script":
            self.scripts += 1
        if a.get("data-field"):
            self._field = a["data-field"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_title:
            self.title += data
        if self._field:
            self.fields[self._field] = data.strip()
            self._field = None


@pytest.fixture(scope="module")
def ids(app: Flask) -> dict[str, Any]:
    """Real ids of the demo: a busy public need, a draft, a fund, a space, regions."""
    with app.app_context():
        public = db.session.scalars(sa.select(Need).where(Need.public()).order_by(Need.id)).all()
        draft = db.session.scalar(
            sa.select(Need.id).where(Need.status == NeedStatus.DRAFT).limit(1)
        )
        root = db.session.scalar(sa.select(Region.id).where(Region.parent_id.is_(None)))
        leaf = db.session.scalar(
            sa.select(Region.id).where(Region.level == "community").order_by(Region.id).limit(1)
        )
        code = db.session.execute(sa.text("SELECT code FROM charity_spaces ORDER BY id")).scalar()
        counts = dict(
            db.session.execute(
                sa.text(
                    "SELECT need_id, count(*) FROM donations WHERE paid_at IS NOT NULL "
                    "AND need_id IS NOT NULL GROUP BY need_id"
                )
            ).all()
        )
        busy = max(public, key=lambda n: counts.get(n.id, 0))
        return {
            "need": busy.id,
            "need_donations": counts.get(busy.id, 0),
            "needs": [n.id for n in public],
            "fund": busy.fund_id,
            "draft": draft,
            "root": root,
            "region": leaf,
            "code": code,
        }


def urls(ids: dict[str, Any]) -> dict[str, str]:
    return {
        "need": f"/p/needs/{ids['need']}",
        "fund": f"/p/funds/{ids['fund']}",
        "space": f"/p/spaces/{ids['code']}",
        "region": f"/p/regions/{ids['region']}",
        "city": f"/p/regions/{ids['root']}",
        "index": "/p/",
    }


@contextmanager
def counted(app: Flask) -> Iterator[list[str]]:
    """The SQL statements run meanwhile."""
    statements: list[str] = []

    def listen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", listen)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", listen)


@pytest.mark.parametrize("name", ["need", "fund", "space", "region", "city", "index"])
def test_page_is_chinese_html_with_open_graph(client: FlaskClient, ids, name: str) -> None:
    url = urls(ids)[name]
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/html"
    assert response.mimetype_params.get("charset") == "utf-8"
    page = Page(response.get_data(as_text=True))
    assert page.lang == "zh-CN"
    assert page.title.strip() and CJK.search(page.title)
    assert len(CJK.findall("".join(page.text))) > 30
    base = "http://127.0.0.1:"
    for prop in ("og:title", "og:description", "og:type", "og:url"):
        assert page.meta.get(prop), (prop, page.meta)
    assert page.meta["og:url"].startswith(base)
    assert page.links["canonical"] == page.meta["og:url"]
    assert page.meta["description"]
    assert page.links["stylesheet"].startswith("/assets/web/")
    assert all(img.get("alt") for img in page.images), page.images


@pytest.mark.parametrize("name", ["need", "fund", "space", "region"])
def test_headers_cache_and_304(client: FlaskClient, ids, name: str) -> None:
    url = urls(ids)[name]
    first = client.get(url)
    assert first.headers["Cache-Control"] == "public, no-cache"
    assert first.headers["X-Content-Type-Options"] == "nosniff"
    csp = first.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'sha256-" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    etag = first.headers["ETag"]
    assert etag
    again = client.get(url)
    assert again.headers["ETag"] == etag  # the same page, the same tag
    cached = client.get(url, headers={"If-None-Match": etag})
    assert cached.status_code == 304
    assert cached.get_data() == b""
    assert cached.headers["ETag"] == etag
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200


def test_the_inline_script_is_the_one_the_policy_allows(client: FlaskClient, ids) -> None:
    import base64
    import hashlib

    response = client.get(urls(ids)["need"])
    html = response.get_data(as_text=True)
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in response.headers["Content-Security-Policy"]
    assert 'style="' not in html  # inline styles would need 'unsafe-inline'
    for name in ("fund", "space", "region"):
        assert "<script" not in client.get(urls(ids)[name]).get_data(as_text=True)


def test_need_progress_equals_the_api(client: FlaskClient, ids) -> None:
    for need_id in ids["needs"]:
        api = client.get(f"/api/v1/needs/{need_id}/progress").get_json()
        page = Page(client.get(f"/p/needs/{need_id}").get_data(as_text=True))
        assert page.fields["raised"] == yuan(api["raised_fen"]), need_id
        assert page.fields["goal"] == yuan(api["goal_fen"]), need_id
        assert page.fields["count"].replace(",", "") == str(api["donation_count"]), need_id
        assert page.fields["percent"] == f"{api['percent']}%", need_id


def test_need_page_shows_what_the_api_shows(client: FlaskClient, ids) -> None:
    need_id = ids["need"]
    detail = client.get(f"/api/v1/needs/{need_id}").get_json()
    ledger = client.get(f"/api/v1/needs/{need_id}/ledger").get_json()
    head = client.get("/api/v1/ledger/head").get_json()
    html = client.get(f"/p/needs/{need_id}").get_data(as_text=True)
    text = " ".join(Page(html).text)
    assert detail["title"] in text
    assert detail["foundation_name"] in text
    for line in detail["budget_lines"]:
        assert line["item"] in text and yuan(line["amount_fen"]) in text
    for item in ledger["income"]["items"]:
        assert item["donor"] in text
    for expense in ledger["expenses"]:
        assert expense["purpose"] in text and expense["payee"] in text
        for evidence in expense["evidence"]:
            assert (evidence["thumbnail_url"] or evidence["url"]) in html
    assert yuan(ledger["balance_fen"]) in text
    if head["head_hash"]:
        assert head["head_hash"] in text
    assert f"/api/v1/needs/{need_id}/ledger.csv" in html
    assert "信息公开" in text


def test_need_ledger_pages_with_cursor_links(client: FlaskClient, ids) -> None:
    assert ids["need_donations"] > 20, "the demo's busiest need fills more than one page"
    page = Page(client.get(urls(ids)["need"]).get_data(as_text=True))
    more = [h for h in page.hrefs if h.startswith("?cursor=")]
    assert len(more) == 1
    second = client.get(urls(ids)["need"] + more[0].split("#")[0])
    assert second.status_code == 200
    api_first = client.get(f"/api/v1/needs/{ids['need']}/ledger").get_json()["income"]
    api_second = client.get(
        f"/api/v1/needs/{ids['need']}/ledger", query_string={"cursor": api_first["next_cursor"]}
    ).get_json()["income"]
    text = " ".join(Page(second.get_data(as_text=True)).text)
    for item in api_second["items"][:5]:
        assert item["donor"] in text
    bad = client.get(urls(ids)["need"] + "?cursor=forged")
    assert bad.status_code == 400 and bad.mimetype == "text/html"
    assert "链接无效" in bad.get_data(as_text=True)


@pytest.mark.parametrize(
    "url",
    [
        "/p/needs/999999",
        "/p/funds/999999",
        "/p/spaces/NOSUCHCODE",
        "/p/regions/999999",
        "/p/needs/abc",
        "/p/needs/99999999999999",
        "/p/nothing-here",
    ],
)
def test_unknown_is_a_friendly_chinese_404(client: FlaskClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "页面不存在" in html and 'lang="zh-CN"' in html
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" in response.headers


def test_a_draft_is_not_found(client: FlaskClient, ids) -> None:
    assert ids["draft"] is not None
    assert client.get(f"/api/v1/needs/{ids['draft']}").status_code == 404
    response = client.get(f"/p/needs/{ids['draft']}")
    assert response.status_code == 404 and response.mimetype == "text/html"


def test_the_api_still_answers_json_404(client: FlaskClient) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404 and response.mimetype == "application/json"


def test_stylesheet_is_served_long_cached_at_its_version(client: FlaskClient, ids) -> None:
    page = Page(client.get(urls(ids)["need"]).get_data(as_text=True))
    css = client.get(page.links["stylesheet"])
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert "immutable" in css.headers["Cache-Control"]
    assert css.headers["X-Content-Type-Options"] == "nosniff"
    old = client.get("/assets/web/000000000000/site.css")
    assert old.status_code == 200 and old.headers["Cache-Control"] == "no-cache"
    assert client.get("/assets/web/000000000000/nope.css").status_code == 404


def test_region_page_has_chart_table_and_targets(client: FlaskClient, ids) -> None:
    stats = client.get("/api/v1/stats", query_string={"region_id": ids["root"]}).get_json()
    html = client.get(urls(ids)["city"]).get_data(as_text=True)
    text = " ".join(Page(html).text)
    assert yuan(stats["raised_fen"]) in text and yuan(stats["spent_fen"]) in text
    if stats.get("monthly"):
        assert '<svg class="chart"' in html
        for month in stats["monthly"]:
            assert month["month"] in text
    for target in stats.get("targets", []):
        assert f"（{target['percent']}%）" in text
    children = client.get("/api/v1/regions").get_json()[0]["children"]
    for child in children:
        assert f'href="/p/regions/{child["id"]}"' in html


def test_space_page_links_its_needs(client: FlaskClient, ids) -> None:
    api = client.get(f"/api/v1/spaces/{ids['code']}").get_json()
    html = client.get(urls(ids)["space"]).get_data(as_text=True)
    text = " ".join(Page(html).text)
    assert api["name"] in text and api["address"] in text
    for need in api["needs"]:
        assert f'href="/p/needs/{need["id"]}"' in html
        assert yuan(need["raised_fen"]) in text
    if "figures" in api:
        assert yuan(api["figures"]["raised_fen"]) in text


def test_fund_page_shows_the_api_figures(client: FlaskClient, ids) -> None:
    fund = client.get(f"/api/v1/funds/{ids['fund']}").get_json()
    text = " ".join(Page(client.get(urls(ids)["fund"]).get_data(as_text=True)).text)
    for key in ("raised_fen", "spent_fen", "balance_fen", "committee_threshold_fen"):
        assert yuan(fund[key]) in text, key
    assert fund["name"] in text and fund["foundation"]["name"] in text


def test_no_personal_data_in_the_pages(app: Flask, client: FlaskClient, ids) -> None:
    secrets = Secrets()
    with app.app_context():
        for user in db.session.scalars(sa.select(User)):
            secrets.add("openid", user.openid)
            secrets.add("unionid", user.unionid)
            secrets.add("phone", user.phone)
            # Short everyday nicknames (老陈, 王老师) and their tails are common words.
            if user.nickname and len(user.nickname) >= 3:
                secrets.add("nickname", user.nickname)
            if user.nickname and len(user.nickname) >= 4:
                secrets.add("nickname (tail)", user.nickname[1:])
        for name in db.session.scalars(
            sa.select(Expense.payee_name).where(Expense.payee_type == PayeeType.PERSON)
        ):
            secrets.add_name("payee", name)
    assert any(label == "openid" for label in secrets.words.values())
    pages = [*urls(ids).values(), *(f"/p/needs/{i}" for i in ids["needs"])]
    problems = []
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        problems += [f"{url}: {leak}" for leak in leaks(parse("text/html", response.data), secrets)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", ["need", "fund", "space", "region"])
def test_queries_per_page(app: Flask, client: FlaskClient, ids, name: str) -> None:
    url = urls(ids)[name]
    client.get(url)  # warm: the first request of a process reads more (migrations, caches)
    with counted(app) as statements:
        assert client.get(url).status_code == 200
    print(f"{name}: {len(statements)} SQL statements")
    assert len(statements) <= QUERY_BUDGET[name], "\n\n".join(statements)


@pytest.mark.parametrize("name", ["need", "fund", "space", "region"])
def test_without_redis_the_pages_are_made_from_postgresql(make_app, ids, name: str) -> None:
    """Redis down: no copies, progress from PostgreSQL; the page is still served."""
    down = make_app({"REDIS_URL": "redis://127.0.0.1:1/0"}).test_client()
    response = down.get(urls(ids)[name])
    assert response.status_code == 200
    assert response.mimetype == "text/html"
