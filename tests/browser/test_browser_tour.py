"""The guided tour in Chromium: a first visit walks the seven steps by their links.

``streamlit run app.py`` on an empty data dir (the demo is built on the first page, as on a
first launch) with the real models. Home opens; its step 1 link opens How it works; each
view's "next" link opens the following one. Every view must show the tour's example in its
input box, the step number in the tour bar, and no exception or error; no request may leave
the machine. Page-link labels must be whole (not cut with an ellipsis) at 800 and 1400 px.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.explain.tour import EXAMPLE
from measure.browser import streamlit_server, watched_page
from measure.screenshots import WATCH_CHANGES, wait_drawn
from ui.views.tour import STOPS

pytestmark = [pytest.mark.slow, pytest.mark.browser]

TIMEOUT_S = 300
PROBLEMS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
# Each link's label span: cut when its text is wider than its box (Streamlit's default is one
# line with an ellipsis); a label that wraps fits.
CUT_LABELS = """() => [...document.querySelectorAll('[data-testid="stPageLink-NavLink"] span')]
  .filter(s => s.offsetParent !== null && s.scrollWidth > s.clientWidth).map(s => s.innerText)"""
LABELS = """() => [...document.querySelectorAll('[data-testid="stPageLink-NavLink"] span')]
  .filter(s => s.offsetParent !== null).map(s => [s.innerText, s.scrollWidth, s.clientWidth])"""

FILLED = {  # the box each full view shows the example in, by its label
    "pages/6_How_it_works.py": ("Your sentence", EXAMPLE.sentences[0]),
    "pages/4_Words.py": (
        "Words (up to 100, separated by commas or spaces)",
        ", ".join(EXAMPLE.words),
    ),
    "pages/5_Context.py": ("Word to follow", EXAMPLE.word),
    "pages/7_Next_token.py": ("Your text", EXAMPLE.prompt),
    "pages/1_Search.py": ("Question", EXAMPLE.query),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("tour") / "data"
    with streamlit_server(data) as (url, _):
        yield url


def open_page(browser, width: int):
    page = watched_page(browser, width=width)
    page.context.add_init_script(WATCH_CHANGES)
    page.set_default_timeout(TIMEOUT_S * 1000)
    return page


def check_view(page, step: int) -> None:
    """The view of ``step``: URL, tour bar, the example in its box, nothing broken."""
    page.wait_for_url(re.compile(rf"[?&]tour={step}(&|$)"))
    page.get_by_text(f"step {step} of 7", exact=False).first.wait_for()
    wait_drawn(page, TIMEOUT_S)
    label, value = FILLED[STOPS[step - 1].page]
    assert page.get_by_label(label, exact=True).input_value() == value, step
    assert page.locator(PROBLEMS).all_inner_texts() == [], step


def test_a_first_visit_walks_the_seven_steps_by_their_links(browser, server: str) -> None:
    page = open_page(browser, 1400)
    page.goto(server, wait_until="domcontentloaded")
    page.get_by_text("Open it in full: Search →").wait_for()
    wait_drawn(page, TIMEOUT_S)
    assert page.locator(PROBLEMS).all_inner_texts() == []
    assert page.locator('[data-testid="stVegaLiteChart"]').count() == 6
    page.get_by_role("link", name="Open it in full: How it works →").first.click()
    check_view(page, 1)
    for step in range(2, 8):
        page.get_by_role("link", name=f"Step {step}: {STOPS[step - 1].title} →").click()
        check_view(page, step)
        if STOPS[step - 1].page.endswith("Context.py"):
            sentences = page.get_by_label(re.compile(r"^Sentences that use it")).input_value()
            assert sentences == "\n".join(EXAMPLE.sentences)
    back = page.get_by_role("link", name=f"← Step 6: {STOPS[5].title}")
    back.click()
    check_view(page, 6)
    assert page.outbound == []
    page.context.close()


@pytest.mark.parametrize("width", [800, 1400])
def test_link_labels_are_whole_at_every_width(browser, server: str, width: int) -> None:
    page = open_page(browser, width)
    page.goto(server, wait_until="domcontentloaded")
    page.get_by_text("Open it in full: Search →").wait_for()
    wait_drawn(page, TIMEOUT_S)
    labels = page.evaluate(LABELS)
    assert len(labels) >= 7 + 7 + 8, labels  # the tour's, "Where to go" and the sidebar's
    assert page.evaluate(CUT_LABELS) == [], labels
    page.goto(f"{server}/Context?tour=3", wait_until="domcontentloaded")  # the tour bar
    page.get_by_text("step 3 of 7", exact=False).first.wait_for()
    wait_drawn(page, TIMEOUT_S)
    assert page.evaluate(CUT_LABELS) == [], page.evaluate(LABELS)
    page.context.close()


def test_the_labels_check_sees_a_cut_label(browser, server: str, tmp_path: Path) -> None:
    """Without the wrapping style, Home's long labels are cut at 800 px: the check can fail."""
    page = open_page(browser, 800)
    page.goto(server, wait_until="domcontentloaded")
    page.get_by_text("Open it in full: Search →").wait_for()
    wait_drawn(page, TIMEOUT_S)
    page.evaluate(
        "() => document.querySelectorAll('style').forEach(s => "
        "s.textContent.includes('stPageLink-NavLink') && s.remove())"
    )
    assert page.evaluate(CUT_LABELS), page.evaluate(LABELS)
    page.context.close()
