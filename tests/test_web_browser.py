"""The public web pages in a real browser (Debian's Chromium through Playwright) at a phone's
viewport, served live over HTTP with the demo data: no console errors (a script or image
the Content-Security-Policy refuses is one), the need's progress as the API answers it (and
the live-progress script keeps it so), no accessibility violations found by axe-core, and a
screenshot of each page in tests/artifacts/.

Without /usr/bin/chromium the tests skip, saying why; under CI (the CI environment variable
set) they fail instead: CI must run them (`.ci/run` installs Chromium)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from backend.common.money import yuan
from tests.support import unavailable

pytestmark = pytest.mark.usefixtures("demo")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: a mid-range phone held upright
PHONE = {"width": 390, "height": 844}
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright."""
    if not CHROMIUM.exists():
        unavailable(
            f"{CHROMIUM} is missing (apt-get install -y --no-install-recommends chromium "
            "fonts-noto-cjk)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def targets(live_server: str) -> dict[str, str]:
    """The pages to open: the busiest public need, its fund, a space, the city."""
    needs = requests.get(f"{live_server}/api/v1/needs?limit=100", timeout=10).json()["items"]
    busy = max(needs, key=lambda n: n["donation_count"])
    spaces = requests.get(f"{live_server}/api/v1/spaces?limit=1", timeout=10).json()["items"]
    root = requests.get(f"{live_server}/api/v1/regions", timeout=10).json()[0]
    return {
        "need": f"/p/needs/{busy['id']}",
        "fund": f"/p/funds/{busy['fund']['id']}",
        "space": f"/p/spaces/{spaces[0]['code']}",
        "region": f"/p/regions/{root['id']}",
        "community": f"/p/regions/{busy['region']['id']}",
    }


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """A fresh phone-sized tab."""
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    page = context.new_page()
    yield page
    context.close()


def open_page(page: Any, url: str) -> list[str]:
    """Open `url`; return the console errors and uncaught exceptions it caused."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)  # fmt: skip
    page.on("pageerror", lambda exc: problems.append(f"uncaught: {exc}"))
    response = page.goto(url, wait_until="load")
    assert response is not None and response.status == 200, url
    return problems


def load_every_image(page: Any) -> None:
    """Scroll through the page so that lazy images load, then check each one did."""
    page.evaluate(
        """async () => {
            for (let y = 0; y < document.body.scrollHeight; y += window.innerHeight) {
                window.scrollTo(0, y);
                await new Promise((done) => setTimeout(done, 30));
            }
            window.scrollTo(0, 0);
        }"""
    )
    page.wait_for_load_state("networkidle")
    broken = page.evaluate(
        "Array.from(document.images).filter((i) => !i.complete || i.naturalWidth === 0)"
        ".map((i) => i.src)"
    )
    assert not broken, f"images that did not load: {broken}"


def axe_violations(page: Any) -> list[str]:
    """What axe-core finds wrong with the page, one line per node."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {node['target']}"
        for v in results.response["violations"]
        for node in v["nodes"]
    ]


@pytest.mark.parametrize("name", ["need", "fund", "space", "region", "community"])
def test_page_in_a_phone_browser(phone: Any, live_server: str, targets, name: str) -> None:
    url = live_server + targets[name]
    problems = open_page(phone, url)
    assert phone.evaluate("document.documentElement.lang") == "zh-CN"
    # Readable at a phone's width: nothing wider than the screen.
    overflow = phone.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{name}: the page is {overflow}px wider than the screen"
    load_every_image(phone)
    violations = axe_violations(phone)
    ARTIFACTS.mkdir(exist_ok=True)
    phone.screenshot(path=str(ARTIFACTS / f"web-{name}.png"), full_page=True)
    assert not problems, "\n".join(problems)
    assert not violations, "\n".join(violations)
    # A reader's large font (200%) reflows the page; nothing is cut off or scrolls sideways.
    phone.evaluate("document.documentElement.style.fontSize = '200%'")
    overflow = phone.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{name}: at 200% text the page is {overflow}px too wide"
    phone.screenshot(path=str(ARTIFACTS / f"web-{name}-large-text.png"))


def shown_progress(page: Any) -> dict[str, str]:
    return {
        field: page.text_content(f"#live-progress [data-field={field}]").strip()
        for field in ("raised", "goal", "count", "percent")
    }


def expected_progress(api: dict[str, Any]) -> dict[str, str]:
    return {
        "raised": yuan(api["raised_fen"]),
        "goal": yuan(api["goal_fen"]),
        "count": f"{api['donation_count']:,}",
        "percent": f"{api['percent']}%",
    }


def test_need_progress_equals_the_api_and_stays_live(phone: Any, live_server: str, targets) -> None:
    url = live_server + targets["need"]
    problems = open_page(phone, url)
    need_id = targets["need"].rsplit("/", 1)[1]
    api = requests.get(f"{live_server}/api/v1/needs/{need_id}/progress", timeout=10).json()
    assert shown_progress(phone) == expected_progress(api)
    # The live script: spoil the figures, make the tab "visible again", and it fetches the
    # progress and writes the API's figures back (no 10-second wait).
    phone.evaluate(
        "document.querySelectorAll('#live-progress [data-field]')"
        ".forEach(function (el) { el.textContent = '?'; })"
    )
    with phone.expect_response(lambda r: r.url.endswith(f"/needs/{need_id}/progress")):
        phone.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    phone.wait_for_function(
        "document.querySelector('#live-progress [data-field=raised]').textContent !== '?'"
    )
    assert shown_progress(phone) == expected_progress(api)
    assert not problems, "\n".join(problems)


def test_the_page_is_complete_without_javascript(browser: Any, live_server: str, targets) -> None:
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(live_server + targets["need"], wait_until="load")
        assert page.text_content("#live-progress [data-field=raised]").startswith("¥")
        assert page.locator("#ledger li").count() > 0
    finally:
        context.close()
