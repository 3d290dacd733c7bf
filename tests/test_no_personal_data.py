"""No public answer holds personal data: every public GET of the served OpenAPI document (and
every public page, and the CSV exports), called anonymously with real ids, is parsed as its
reader would parse it (JSON decoded, so `\\uXXXX` escapes count; CSV read; HTML unescaped),
and no string in it holds an openid, a unionid, a phone number, a session key, a full
nickname or a person payee's full name. The checker itself is shown to catch planted leaks."""

from __future__ import annotations

import base64
import csv
import io
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest
import sqlalchemy as sa

from backend.accounts.models import User
from backend.extensions import db
from backend.funds.models import Fund
from backend.spending.models import Expense, PayeeType
from backend.wechat_sandbox import ids as sandbox_ids
from tests.permissions import Actors, login
from tests.spending_support import auth, decide, disburse, fresh_need, give, spending_team, submit

pytestmark = pytest.mark.usefixtures("demo")

#: a mainland mobile number anywhere in a string (not inside a longer run of digits)
MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
#: keys no public answer has: the things they name never leave the back office
PRIVATE_KEYS = frozenset({"openid", "unionid", "session_key", "phone", "payee_name"})
#: public operations that answer an anonymous caller with an error by design
REFUSED_BY_DESIGN = {"GET /api/v1/wechat/events": "WeChat's signed server check"}
#: answers that are files, not text (their bytes are not walked)
BINARY_TYPES = ("image/", "application/pdf")
#: the query parameters that carry a list's position
CURSORS = frozenset({"cursor", "expense_cursor"})

#: people of the seeded data: nickname set through the API (sandbox login name → nickname)
NICKNAMES = {
    "pd_donor_named": "司徒雷登",
    "pd_donor_anonymous": "欧阳娜娜",
    "pd_donor_pool": "慕容云海",
}
#: the team's nicknames (role → nickname): approvers and payers are never named in public
TEAM_NICKNAMES = {"secretary2": "夏侯文远", "committee": "皇甫义真", "foundation_admin": "长孙辅机"}
#: full names of payees who are people (all masked or, when not disbursed, absent)
PERSON_PAYEES = ("诸葛孔明", "上官婉儿", "公孙策划", "东方既白")


@dataclass
class Secrets:
    """What must never be seen in public, each with a label saying what it is."""

    words: dict[str, str] = field(default_factory=dict)

    def add(self, label: str, value: str | None) -> None:
        if value:
            self.words[value] = label

    def add_name(self, label: str, name: str | None) -> None:
        """A full name, and its tail (what masking removes): 司徒雷登 and 徒雷登."""
        if name:
            self.add(label, name)
            if len(name) >= 3:
                self.add(f"{label} (tail)", name[1:])


def strings_of(value: Any, path: str = "$") -> Iterator[tuple[str, str]]:
    """Every string of a parsed document (keys too, numbers as text), with where it is."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}.{key} (key)", str(key)
            yield from strings_of(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from strings_of(item, f"{path}[{i}]")
    elif isinstance(value, str):
        yield path, value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield path, str(value)


def leaks(document: Any, secrets: Secrets) -> list[str]:
    """Where `document` shows something private, one line each."""
    found = []
    for path, text in strings_of(document):
        for word, label in secrets.words.items():
            if word in text:
                found.append(f"{path}: {label} {word!r}")
        if match := MOBILE.search(text):
            found.append(f"{path}: phone number {match.group()!r}")
        if path.endswith("(key)") and text in PRIVATE_KEYS:
            found.append(f"{path}: private field {text!r}")
    return found


class PageText(HTMLParser):
    """The text and attribute values of an HTML page, character references decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.parts.extend(value for _, value in attrs if value)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def parse(mimetype: str, body: bytes) -> Any:
    """A body as its reader sees it; None for a file (an image, a PDF)."""
    if mimetype == "application/json":
        return json.loads(body)
    if mimetype == "text/csv":
        return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    if mimetype == "text/html":
        page = PageText()
        page.feed(body.decode("utf-8"))
        page.close()
        return page.parts
    if mimetype.startswith(BINARY_TYPES):
        return None
    return body.decode("utf-8")  # plain text, XML: read as text


# --- the checker catches what it is meant to catch -------------------------------------------

PLANTED = Secrets()
PLANTED.add("openid", "oAbCdEfGhIjKlMnOpQrStUvWxYz0")
PLANTED.add("session key", "c2Vzc2lvbi1rZXktMTIzNA==")
PLANTED.add_name("nickname", "司徒雷登")


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ({"items": [{"donor": "司**", "note": "oAbCdEfGhIjKlMnOpQrStUvWxYz0"}]}, "$.items[0].note"),
        ({"donor": "by 徒雷登"}, "$.donor"),
        ([["日期", "对方"], ["2026-01-01", "call 13912345678"]], "$[1][1]"),
        ({"amount_fen": 13912345678}, "$.amount_fen"),
        ({"user": {"openid": "hidden"}}, "$.user.openid (key)"),
        ({"k": "c2Vzc2lvbi1rZXktMTIzNA=="}, "$.k"),
    ],
)
def test_the_checker_reports_planted_leaks(document: Any, where: str) -> None:
    found = leaks(document, PLANTED)
    assert found and found[0].startswith(where + ":"), found


def test_escaped_text_is_decoded_before_it_is_checked() -> None:
    body = json.dumps({"donor": "司徒雷登"}).encode()  # ensure_ascii: \u53f8\u5f92...
    assert "司徒雷登".encode() not in body  # a check of the bytes would miss it
    assert leaks(parse("application/json", body), PLANTED)
    page = "<p title='&#21496;&#24466;&#38647;&#30331;'>&#x53f8;&#x5f92;雷登</p>".encode()
    assert "司徒雷登".encode() not in page
    assert len(leaks(parse("text/html", page), PLANTED)) >= 2
    table = '\ufeff对方\r\n"司徒雷登"\r\n'.encode()
    assert leaks(parse("text/csv", table), PLANTED)


def test_masked_forms_are_not_leaks() -> None:
    clean = {"donor": "司**", "phone_masked": "139****5678", "payee": "诸**", "id": 1391234567}
    assert leaks(clean, PLANTED) == []


# --- the seeded world, and every public answer over it ---------------------------------------


@dataclass
class World:
    """Ids to put into public URLs, and what they must not show."""

    values: dict[str, Any]
    secrets: Secrets
    back_office_expense_ids: list[int]


def name_and_bind(client, token: str, nickname: str, phone_code: str) -> None:
    named = client.patch("/api/v1/me", json={"nickname": nickname}, headers=auth(token))
    assert named.status_code == 200, named.get_json()
    bound = client.post("/api/v1/me/phone", json={"code": phone_code}, headers=auth(token))
    assert bound.status_code == 200, bound.get_json()


def paid(client, team: Actors, amount_fen: int, payee: str, comment: str, **body: Any) -> int:
    submitted = submit(client, team, amount_fen, payee_name=payee, **body)
    assert submitted.status_code == 201, submitted.get_json()
    expense_id = submitted.get_json()["id"]
    assert decide(client, team, expense_id, "committee", comment=comment).status_code == 200
    assert disburse(client, team, expense_id).status_code == 200
    return expense_id


@pytest.fixture(scope="module")
def world(app) -> World:
    client = app.test_client()
    session_keys: list[str] = []
    counter = itertools.count()

    def known_session_key() -> str:
        # The sandbox hands one out at every login; the app must keep none and show none.
        key = base64.b64encode(f"pd-sk-{next(counter):010d}".encode()).decode()
        session_keys.append(key)
        return key

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sandbox_ids, "session_key", known_session_key)
        team = spending_team(app, "PD")
        tokens = {name: login(client, name)["token"] for name in NICKNAMES}
    assert session_keys, "the logins went through the patched sandbox"
    for name, nickname in NICKNAMES.items():
        name_and_bind(client, tokens[name], nickname, f"phone:{name}")
    for role, nickname in TEAM_NICKNAMES.items():
        name_and_bind(client, team.tokens[role], nickname, f"phone:pd_team_{role}")
    with app.app_context():
        db.session.get(Fund, team.fund_id).committee_threshold_fen = 100_000_000
        db.session.commit()

    space_code = client.get("/api/v1/spaces?limit=100").get_json()["items"][0]["code"]
    need_id = fresh_need(client, team)
    named = give(app, client, tokens["pd_donor_named"], 60_000, need_id=need_id,
                 space_code=space_code, message="祝早日完工")  # fmt: skip
    give(app, client, tokens["pd_donor_anonymous"], 40_000, need_id=need_id, anonymous=True)
    give(app, client, tokens["pd_donor_pool"], 50_000, fund_id=team.fund_id,
         space_code=space_code)  # fmt: skip
    shown = [
        paid(client, team, 20_000, "诸葛孔明", "同意，已核对诸葛孔明的身份证", need_id=need_id),
        paid(client, team, 10_000, "和园物业服务有限公司", "同意", need_id=need_id,
             payee_type="organization"),
        paid(client, team, 5_000, "东方既白", "同意，东方既白已签收", purpose="购买社区活动物资"),
    ]  # fmt: skip
    rejected = submit(client, team, 1_000, need_id=need_id, payee_name="上官婉儿").get_json()
    decide(client, team, rejected["id"], "committee", "reject", "收款人上官婉儿信息不全")
    waiting = submit(client, team, 1_000, need_id=need_id, payee_name="公孙策划").get_json()
    decide(client, team, waiting["id"], "committee", comment="同意，公孙策划")

    secrets = Secrets()
    with app.app_context():
        for user in db.session.scalars(sa.select(User)):
            secrets.add("openid", user.openid)
            secrets.add("unionid", user.unionid)
            secrets.add("phone", user.phone)
        # Every person paid, the demo's too (the seeded ones below also by their tails).
        for name in db.session.scalars(
            sa.select(Expense.payee_name).where(Expense.payee_type == PayeeType.PERSON)
        ):
            secrets.add("payee", name)
    for key in session_keys:
        secrets.add("session key", key)
    # The seeded nicknames are distinctive: short everyday ones (the demo's 高高, 老陈)
    # could occur in any text by chance.
    for nickname in (*NICKNAMES.values(), *TEAM_NICKNAMES.values()):
        secrets.add_name("nickname", nickname)
    for name in PERSON_PAYEES:
        secrets.add_name("payee", name)
    region_id = client.get(f"/api/v1/funds/{team.fund_id}").get_json()["region"]["id"]
    # the named donor's certificate: its verification page shows the masked name only
    number = client.get(f"/api/v1/donations/{named}",
                        headers={"Authorization": f"Bearer {tokens['pd_donor_named']}"},
                        ).get_json()["certificate_no"]  # fmt: skip
    values = {"need_id": need_id, "fund_id": team.fund_id, "code": space_code,
              "region_id": region_id, "number": number}  # fmt: skip
    return World(values, secrets, [*shown, rejected["id"], waiting["id"]])


def public_operations(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any], set[str]]]:
    """(path, GET operation, its path parameters) of every operation without security."""
    found = []
    for path, item in doc["paths"].items():
        operation = item.get("get")
        if operation is None or operation.get("security"):
            continue
        parameters = [*item.get("parameters", []), *operation.get("parameters", [])]
        found.append((path, operation, {p["name"] for p in parameters if p["in"] == "path"}))
    return found


def next_queries(document: Any) -> list[dict[str, str]]:
    """The queries that fetch the following pages of a paged answer."""
    if not isinstance(document, dict):
        return []
    queries = []
    if document.get("next_cursor"):
        queries.append({"cursor": document["next_cursor"]})
    if isinstance(document.get("income"), dict) and document["income"].get("next_cursor"):
        queries.append({"cursor": document["income"]["next_cursor"]})
    if document.get("expenses_next_cursor"):
        queries.append({"expense_cursor": document["expenses_next_cursor"]})
    return queries


def fetch_all(client, url: str, limit: bool) -> Iterator[tuple[str, int, str, bytes]]:
    """(url with query, status, mimetype, body) of a URL and, when paged, its other pages."""
    pending = [{"limit": "2"} if limit else {}]  # small pages: the cursors are walked too
    for _ in range(200):
        if not pending:
            return
        query = pending.pop()
        response = client.get(url, query_string=query)  # anonymous: no header, no cookie
        body = response.get_data()
        yield f"{url}?{query}", response.status_code, response.mimetype, body
        if response.mimetype == "application/json" and response.status_code == 200:
            # One list at a time: a ledger's income pages, then its expenses' pages.
            moved = {k for k in query if k in CURSORS}
            pending += [{**query, **more} for more in next_queries(json.loads(body))
                        if not moved or moved == set(more)]  # fmt: skip
    raise AssertionError(f"{url}: more than 200 pages")


def test_no_public_answer_holds_personal_data(app, world: World) -> None:
    client = app.test_client()
    doc = client.get("/api/openapi.json").get_json()
    targets = []
    for path, operation, names in public_operations(doc):
        unknown = names - world.values.keys()
        assert not unknown, f"{path}: give the test a real value for {sorted(unknown)}"
        url = path.format(**{name: world.values[name] for name in names})
        limit = any(p["name"] == "limit" for p in operation.get("parameters", []))
        targets.append((f"GET {path}", url, limit))
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/p/") and "GET" in (rule.methods or ()):
            unknown = set(rule.arguments) - world.values.keys()
            assert not unknown, f"{rule.rule}: give the test a real value for {sorted(unknown)}"
            url = adapter.build(rule.endpoint, {a: world.values[a] for a in rule.arguments})
            targets.append((f"GET {rule.rule}", url, False))
    checked = {"application/json": 0, "text/csv": 0}
    problems = []
    for label, url, limit in targets:
        for shown, status, mimetype, body in fetch_all(client, url, limit):
            if label not in REFUSED_BY_DESIGN and status != 200:
                problems.append(f"{shown}: status {status}")
            document = parse(mimetype, body)
            if document is None:
                continue
            checked[mimetype] = checked.get(mimetype, 0) + 1
            problems += [f"{shown}: {leak}" for leak in leaks(document, world.secrets)]
    assert not problems, "\n".join(problems)
    assert len(targets) >= 12 and checked["application/json"] >= 12, (targets, checked)
    assert checked["text/csv"] >= 2  # both ledgers' exports


def test_the_seeded_secrets_are_real(app, world: World) -> None:
    """The back office does see what the public must not: the test guards something."""
    client = app.test_client()
    team_admin = login(client, "matrix_foundation_admin")["token"]
    body = client.get(
        f"/api/v1/expenses/{world.back_office_expense_ids[0]}", headers=auth(team_admin)
    ).get_json()
    assert body["payee_name"] == "诸葛孔明"
    assert leaks(body, world.secrets)
    kinds = {label for label in world.secrets.words.values()}
    assert {"openid", "unionid", "phone", "session key", "nickname", "payee"} <= kinds
    ledger = client.get(f"/api/v1/needs/{world.values['need_id']}/ledger").get_json()
    assert {i["donor"] for i in ledger["income"]["items"]} == {"司**", "爱心人士"}
    assert {e["payee"] for e in ledger["expenses"]} == {"诸**", "和园物业服务有限公司"}
