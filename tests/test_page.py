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
    with running_server(path, "--api-key", API_KEY) as base:
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
    page.wait_for_url("**/?article=*")
    _ready(page)
    assert page.locator("article.article h1").inner_text()
    assert page.locator("section.related li.hit").count() >= 3


def test_facets_and_the_timeline_narrow_the_search(server: str, page: Page) -> None:
    page.goto(server + "/?q=Hegseth%20OR%20Derby%20OR%20Hitzewelle&mode=lexical")
    _ready(page)
    assert page.locator("li.hit").count() == 4
    page.locator("figure.timeline rect.bar[data-month='2025-04']").click()
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
    page.wait_for_url("**/?article=xss")
    _ready(page)
    body = page.locator("article.article").inner_text()
    assert "<script>window.__xss = 2</script>" in body
    assert page.locator("article.article script, article.article img").count() == 0
    assert page.evaluate("window.__xss") is None
