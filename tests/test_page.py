"""The search page in a real headless Chromium, against the real server over HTTP.

Debian's ``chromium`` is driven by Playwright's Python package; no browser is
downloaded. In CI (``CI`` set) a missing browser fails the test, since ``.ci/run``
installs it; elsewhere it skips.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from search.engine import Engine
from search.semantic.embedders import Embedder

from .conftest import SEED_ID, running_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

API_KEY = "page-test-key"
ORIGIN = "https://newsroom.example"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOSTILE = {
    "id": "xss",
    "title": "Angriff <img src=x onerror=window.__xss=1> im Netz",
    "date": "2025-02-14",
    "source": "test",
    "text": "Ein <script>window.__xss = 2</script> Angriff auf die Redaktion wurde abgewehrt.",
}


def _need(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; .ci/run installs it")
    pytest.skip(reason)


def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        _need("Debian's chromium is not installed (apt-get install chromium)")
    return str(path)


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, tiny_sources: list[Path], embedder: Embedder
) -> Iterator[str]:
    """`news-search serve` on a fresh index, with a key so the test can post an article."""
    path = tmp_path_factory.mktemp("page") / "index"
    Engine.rebuild(tiny_sources, path, embedder=embedder)
    with running_server(
        path, "--cors-origin", ORIGIN, env={"NEWS_SEARCH_API_KEY": API_KEY}
    ) as base:
        posted = httpx.post(
            f"{base}/articles", json=HOSTILE, headers={"X-API-Key": API_KEY}, timeout=60
        )
        assert posted.status_code == 200, posted.text
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need("the playwright package is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    dialogs: list[str] = []
    tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    yield tab
    context.close()
    assert dialogs == [], "the page opened a dialog: some article markup ran"


def _ready(page: Page) -> None:
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)


def test_search_highlight_and_similar_articles(server: str, page: Page, tmp_path: Path) -> None:
    page.goto(server + "/")
    page.fill("#q", "Hegseth Brüssel")
    page.press("#q", "Enter")
    page.wait_for_url("**/?q=Hegseth*")
    _ready(page)

    first = page.locator("li.hit").first
    assert first.get_attribute("data-id") == SEED_ID
    marked = first.locator(".snippet mark").all_inner_texts()
    assert {"Hegseth", "Brüssel"} <= set(marked)
    assert page.locator("figure.timeline rect.bar").count() >= 3
    assert page.locator("[data-facet=source] a", has_text="test").count() == 1
    screenshot = tmp_path / "search-page.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
    print(f"screenshot: {screenshot}")

    first.locator("a.similar").click()
    page.wait_for_url(f"**/?similar={SEED_ID}")
    _ready(page)
    summary = page.locator("p.summary").inner_text()
    assert summary.startswith("Articles similar to US-Präsident Donald Trump")
    similar = page.locator("li.hit").evaluate_all("els => els.map(e => e.dataset.id)")
    assert len(similar) >= 3 and SEED_ID not in similar

    page.locator("li.hit a.title").first.click()
    page.wait_for_url("**article=*")
    _ready(page)
    assert page.locator("article.article h1").inner_text()
    assert page.locator("section.related li.hit").count() >= 3


def test_facets_and_the_timeline_narrow_the_search(server: str, page: Page) -> None:
    page.goto(server + "/?q=Hegseth%20OR%20Derby%20OR%20Hitzewelle&mode=lexical")
    _ready(page)
    assert page.locator("li.hit").count() == 4
    page.locator("figure.timeline rect.bar[data-bucket='2025-04']").click()
    page.wait_for_url("**from=2025-04*")
    _ready(page)
    ids = page.locator("li.hit").evaluate_all("els => els.map(e => e.dataset.id)")
    assert ids == ["fussball"]
    page.locator("a.chip", has_text="from: 2025-04").click()
    page.wait_for_url(lambda url: "from=" not in url)
    _ready(page)
    page.locator("[data-facet=category] a", has_text="wissenschaft").click()
    page.wait_for_url("**category=wissenschaft*")
    _ready(page)
    ids = page.locator("li.hit").evaluate_all("els => els.map(e => e.dataset.id)")
    assert ids == ["klima"]
    page.select_option("#sort", "date")
    page.wait_for_url("**sort=date*")
    _ready(page)
    assert "category=wissenschaft" in page.url and page.locator("li.hit").count() == 1


def test_article_markup_stays_text(server: str, page: Page) -> None:
    page.goto(server + "/?q=Angriff&mode=lexical")
    _ready(page)
    hit = page.locator("li.hit").first
    assert hit.get_attribute("data-id") == "xss"
    assert "<img src=x onerror=window.__xss=1>" in hit.locator("h3").inner_text()
    assert "</script>" in hit.locator(".snippet").inner_text()
    assert hit.locator("script, img").count() == 0

    hit.locator("a.title").click()
    page.wait_for_url("**article=xss")
    _ready(page)
    body = page.locator("article.article").inner_text()
    assert "<script>window.__xss = 2</script>" in body
    assert page.locator("article.article script, article.article img").count() == 0
    assert page.evaluate("window.__xss") is None


# -- phone, keyboard, accessibility, the article view, offline docs -----------------------

PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
WIDTHS = [pytest.param(DESKTOP, id="1280px"), pytest.param(PHONE, id="375px")]
# Set PAGE_SCREENSHOTS=docs to refresh the screenshots the README shows.
SCREENSHOTS = os.environ.get("PAGE_SCREENSHOTS")


@pytest.fixture
def sized(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport=request.param)
    tab = context.new_page()
    yield tab
    context.close()


def _serious(page: Page) -> list[str]:
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        _need("axe-playwright-python is not installed (pip install -e '.[test]')")
    violations = Axe().run(page).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in violations
        if v["impact"] in {"serious", "critical"}
    ]


def _focused(page: Page) -> str:
    return str(page.evaluate("document.activeElement.closest('li.hit')?.dataset.id || ''"))


@pytest.mark.parametrize("sized", WIDTHS, indirect=True)
def test_results_first_and_reached_from_the_keyboard(server: str, sized: Page) -> None:
    page = sized
    page.goto(server + "/?q=Hegseth%20Br%C3%BCssel")
    _ready(page)
    first = page.locator("li.hit").first
    box = first.bounding_box()
    viewport = page.viewport_size
    assert box is not None and viewport is not None
    assert box["y"] + 60 < viewport["height"], "the first result is below the first screen"
    presses = 0
    while _focused(page) != SEED_ID:
        page.keyboard.press("Tab")
        presses += 1
        assert presses <= 5, f"focus is on {page.evaluate('document.activeElement.outerHTML')}"
    print(f"first result after {presses} Tab presses at {viewport['width']} px")
    # A visible focus ring on what the keyboard reached.
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    if SCREENSHOTS:
        name = "search-page-phone.png" if viewport["width"] < 700 else "search-page.png"
        page.screenshot(path=str(Path(SCREENSHOTS) / name), full_page=viewport["width"] >= 700)
    if viewport["width"] < 700:
        assert not page.locator("#facets").is_visible()
        page.locator("button[aria-controls=facets]").click()
        assert page.locator("[data-facet=source]").is_visible()


def test_the_timeline_is_one_tab_stop_with_arrow_keys(server: str, page: Page) -> None:
    page.goto(server + "/?q=Hegseth%20OR%20Derby%20OR%20Hitzewelle&mode=lexical")
    _ready(page)
    links = page.locator("figure.timeline a")
    assert links.count() >= 3
    assert page.locator("figure.timeline a[tabindex='0']").count() == 1
    links.first.focus()
    page.keyboard.press("ArrowRight")
    second = links.nth(1).get_attribute("data-bucket")
    assert page.evaluate("document.activeElement.dataset.bucket") == second
    page.keyboard.press("End")
    last = links.nth(links.count() - 1).get_attribute("data-bucket")
    assert page.evaluate("document.activeElement.dataset.bucket") == last
    page.keyboard.press("Tab")  # leaves the chart at once
    assert page.evaluate("document.activeElement.closest('figure.timeline')") is None
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")  # follows the focused bar
    page.wait_for_url(f"**from={last}*")
    _ready(page)
    # A focused mode button shows its focus.
    page.locator("input[name=mode][value=lexical]").focus()
    ring = page.evaluate(
        "getComputedStyle(document.querySelector('.modes label:has(input:focus)')).outlineStyle"
    )
    assert ring != "none"


@pytest.mark.parametrize("sized", WIDTHS, indirect=True)
def test_the_article_view_keeps_the_query_and_highlights_it(server: str, sized: Page) -> None:
    page = sized
    page.goto(server + "/?q=Hegseth%20Br%C3%BCssel&mode=lexical")
    _ready(page)
    page.locator("li.hit a.title").first.click()
    page.wait_for_url("**article=*")
    _ready(page)
    assert page.input_value("#q") == "Hegseth Brüssel"
    marked = set(page.locator("article.article mark").all_inner_texts())
    assert {"Hegseth", "Brüssel"} <= marked
    assert _serious(page) == []
    page.locator("a.back").click()
    page.wait_for_url(lambda url: "article=" not in url)
    _ready(page)
    assert page.input_value("#q") == "Hegseth Brüssel" and "mode=lexical" in page.url
    assert page.locator("li.hit").first.get_attribute("data-id") == SEED_ID


@pytest.mark.parametrize("sized", WIDTHS, indirect=True)
def test_axe_finds_no_serious_violation_on_the_search_page(server: str, sized: Page) -> None:
    page = sized
    page.goto(server + "/?q=Hegseth%20OR%20Derby&mode=lexical&category=politik")
    _ready(page)
    assert _serious(page) == []
    page.goto(server + "/")
    assert _serious(page) == []


def test_hits_show_how_they_matched_and_no_negative_score(server: str, page: Page) -> None:
    page.goto(server + "/?q=Hegseth%20Br%C3%BCssel")
    _ready(page)
    labels = page.locator("li.hit .matched").all_inner_texts()
    assert labels and all(label.startswith("matched by ") for label in labels)
    assert "score -" not in page.locator("#view").inner_text()


def test_docs_render_with_no_network(server: str, browser: Browser) -> None:
    context = browser.new_context()
    outside: list[str] = []

    def only_this_server(route: object) -> None:
        url = route.request.url  # type: ignore[attr-defined]
        if url.startswith(server):
            route.continue_()  # type: ignore[attr-defined]
        else:
            outside.append(url)
            route.abort()  # type: ignore[attr-defined]

    context.route("**/*", only_this_server)
    page = context.new_page()
    page.goto(server + "/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    assert page.locator(".opblock").count() >= 8
    assert outside == []
    context.close()


# The element that shows a control's focus: a hidden radio's label, a chart bar.
SHOWS_FOCUS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return "body";
  if (el.matches("input[type=radio]")) {
    return getComputedStyle(el.closest("label")).outlineStyle !== "none" ? "" : el.outerHTML;
  }
  if (el.closest("svg")) {
    return getComputedStyle(el.querySelector("rect")).stroke !== "none" ? "" : el.outerHTML;
  }
  return getComputedStyle(el).outlineStyle !== "none" ? "" : el.outerHTML;
}"""


@pytest.mark.parametrize("sized", WIDTHS, indirect=True)
def test_focus_is_visible_on_every_tab_stop(server: str, sized: Page) -> None:
    page = sized
    page.goto(server + "/?q=Hegseth%20OR%20Derby&mode=lexical")
    _ready(page)
    page.evaluate("document.activeElement.blur()")
    for _ in range(30):
        page.keyboard.press("Tab")
        assert page.evaluate(SHOWS_FOCUS) in {"", "body"}, page.evaluate(SHOWS_FOCUS)


def test_serve_cors_origin_reaches_the_server(server: str) -> None:
    allowed = httpx.get(f"{server}/health", headers={"Origin": ORIGIN}, timeout=10)
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    other = httpx.get(f"{server}/health", headers={"Origin": "https://x.example"}, timeout=10)
    assert "access-control-allow-origin" not in other.headers
