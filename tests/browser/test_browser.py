"""End to end in Debian's Chromium, driven by Playwright, against ``streamlit run``.

The Search page is the server's very first request (a deep link), on an empty data dir:
the page builds the demo collection as on a user's first launch, then answers a query.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from measure.browser import streamlit_server, watched_page

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``streamlit run app.py`` on a free localhost port with an empty data dir."""
    with streamlit_server(tmp_path_factory.mktemp("e2e") / "data") as (url, _):
        yield url


def search(page: object, query: str) -> None:
    box = page.get_by_label("Question")
    box.fill(query)
    box.press("Enter")


def test_deep_link_search_first_request(server: str, browser: object) -> None:
    page = watched_page(browser)
    page.goto(f"{server}/Search", wait_until="domcontentloaded")
    page.get_by_label("Question").wait_for(timeout=240_000)
    search(page, "a large snake that squeezes its prey")
    page.locator(".hit").first.wait_for(timeout=60_000)
    # cards arrive one by one as the script runs: wait for the run to draw them all
    page.wait_for_function("document.querySelectorAll('.hit').length >= 5", timeout=60_000)
    assert "snake" in page.locator(".hit").first.inner_text().lower()
    page.locator(".contribs").first.wait_for(timeout=60_000)  # hit 1 is explained at once
    assert page.locator(".why").count() == 1
    page.get_by_text(re.compile(r"^Why #2 matched: .*, split word by word$")).click()  # lazy
    page.wait_for_function("document.querySelectorAll('.why').length === 2", timeout=60_000)
    page.wait_for_timeout(800)  # let the box finish opening before the screenshot
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "search.png"), full_page=True)
    assert page.outbound == []


def test_upload_then_search_runs_no_document_script(server: str, browser: object) -> None:
    page = watched_page(browser)
    page.goto(f"{server}/Collections", wait_until="domcontentloaded")
    box = page.get_by_label("Collection (new or existing)").filter(visible=True)
    box.wait_for(timeout=120_000)
    page.wait_for_function(  # a person types once the page is drawn
        "() => document.querySelector('[data-testid=\"stApp\"]')"
        ".getAttribute('data-test-script-state') === 'notRunning'",
        timeout=120_000,
    )
    box.fill("xss")
    hostile = (
        "Compost feeds garden soil. <script>window.__xss = 1</script>"
        '<img src="x" onerror="window.__xss = 2"> <b onmouseover="window.__xss = 3">bold</b>'
    )
    page.locator("input[type=file]").first.set_input_files(
        files=[{"name": "hostile.txt", "mimeType": "text/plain", "buffer": hostile.encode()}]
    )
    page.get_by_role("button", name="Add to collection").click()
    page.get_by_text("xss: added 1 documents").wait_for(timeout=120_000)
    page.goto(f"{server}/Search?collection=xss&q=garden%20soil", wait_until="domcontentloaded")
    page.locator(".hit").first.wait_for(timeout=120_000)
    assert "<script>" in page.locator(".hit").first.inner_text()
    page.locator(".hit b").first.hover()
    assert page.evaluate("window.__xss") is None
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "xss.png"), full_page=True)
    assert page.outbound == []


def test_search_links_the_question_to_the_map_and_back(server: str, browser: object) -> None:
    page = watched_page(browser)
    page.goto(f"{server}/Search", wait_until="domcontentloaded")
    page.get_by_label("Question").wait_for(timeout=240_000)
    question = "bats & moths: who hunts at night? #wings"
    search(page, question)
    page.locator(".hit").first.wait_for(timeout=60_000)
    page.evaluate("window.__samePage = true")  # survives only an in-app move, not a reload
    page.get_by_role("link", name="See this question on the map").click()
    page.get_by_text("The query's true neighbours").wait_for(timeout=120_000)
    table = page.locator("table.lab-table").first
    table.wait_for(timeout=60_000)
    assert page.get_by_label("Query", exact=True).input_value() == question
    assert "bat" in table.inner_text().lower()
    assert "/Explore?" in page.url and page.evaluate("window.__samePage") is True
    page.get_by_role("link", name="Search for this question").click()
    page.wait_for_url(re.compile(r"/Search\?"), timeout=60_000)
    page.locator(".hit").first.wait_for(timeout=60_000)
    assert page.get_by_label("Question").input_value() == question
    assert "bat" in page.locator(".hit").first.inner_text().lower()
    assert page.evaluate("window.__samePage") is True
    assert page.outbound == []
