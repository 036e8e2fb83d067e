"""Explore and Words in Debian's Chromium, driven by Playwright, against ``streamlit run``.

/Explore is the server's very first request (a deep link) on an empty data dir: the page
builds the demo collection, draws its map, then places a typed query among its neighbours.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest

from measure.browser import shift_drag, streamlit_server, watched_page

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHART = ".vega-embed canvas, .vega-embed svg"

pytestmark = [pytest.mark.slow, pytest.mark.browser]


HOSTILE = [
    ("h1", '<img src=x onerror="window.__xss = 1"> Compost', "Compost feeds garden soil."),
    ("h2", "<script>window.__xss = 2</script> Mulch", "Mulch keeps garden soil moist."),
    ("h3", '<b onmouseover="window.__xss = 3">Worms</b>', "Worms turn garden waste into soil."),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, real_embedder) -> Iterator[str]:
    """``streamlit run app.py`` on a free port; its data dir holds only a hostile collection.

    The demo collection is not there: the first page opened builds it, as on a first launch.
    """
    from core.documents.readers import Document
    from core.ingest.pipeline import ingest_documents
    from core.storage.collection import Collection

    data = tmp_path_factory.mktemp("explore") / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMBEDLAB_DATA_DIR", str(data))
        hostile = Collection("hostile", real_embedder.info, create=True)
        docs = [Document(i, text, "t", title, {"kind": "<i>x</i>"}) for i, title, text in HOSTILE]
        ingest_documents(hostile, real_embedder, docs)
    with streamlit_server(data) as (url, _):
        yield url


def hover_dots(page: object, chart: object, colour=(112, 147, 185)) -> list[str]:
    """Hover every drawn point (found by its colour in a screenshot); return tooltip texts."""
    from PIL import Image

    shot = Image.open(BytesIO(chart.screenshot())).convert("RGB")
    box, scale = chart.bounding_box(), shot.width / chart.bounding_box()["width"]
    spots: list[tuple[int, int]] = []
    for y in range(0, shot.height, 2):
        for x in range(0, shot.width, 2):
            near = all(abs(a - b) < 14 for a, b in zip(shot.getpixel((x, y)), colour, strict=True))
            if near and all(abs(x - u) + abs(y - v) > 12 for u, v in spots):
                spots.append((x, y))
    texts = []
    for x, y in spots[:40]:
        page.mouse.move(box["x"] + (x + 2) / scale, box["y"] + (y + 2) / scale)
        tip = page.locator("#vg-tooltip-element")
        if tip.count() and tip.is_visible():
            texts.append(tip.inner_text())
    return texts


def test_explore_deep_link_draws_the_map_and_places_a_query(server: str, browser: object) -> None:
    page = watched_page(browser, 1400, 1000)
    page.goto(f"{server}/Explore", wait_until="domcontentloaded")
    page.locator(CHART).first.wait_for(timeout=240_000)
    assert page.get_by_text(re.compile(r"PCA of [\d,]+ points")).count() == 1
    box = page.get_by_label("Query")
    box.fill("bats hunting insects in the dark")
    box.press("Enter")
    table = page.locator("table.lab-table").first
    page.get_by_text("The query's true neighbours").wait_for(timeout=60_000)
    table.wait_for(timeout=60_000)
    rows = table.locator("tbody tr")
    assert rows.count() == 8
    assert "bat" in table.inner_text().lower()
    page.locator(CHART).first.wait_for(timeout=30_000)
    assert "q=bats" in page.url and "method=pca" in page.url
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "explore.png"), full_page=True)
    assert page.outbound == []


def test_explore_says_how_far_to_trust_the_map(server: str, browser: object) -> None:
    page = watched_page(browser, 1400, 1000)
    page.goto(
        f"{server}/Explore?method=tsne&colour=neighbour+recall", wait_until="domcontentloaded"
    )
    page.get_by_text("How far to trust this map").wait_for(timeout=240_000)
    page.locator(CHART).first.wait_for(timeout=60_000)
    values = page.locator("[data-testid=stMetricValue]").all_inner_texts()
    assert len(values) == 3 and values[0].endswith("%"), values
    assert 0.5 < float(values[1]) <= 1.0 and 0.5 < float(values[2]) <= 1.0
    assert page.get_by_text(re.compile(r"nearest neighbours in the full space")).count() == 1
    assert page.get_by_text("neighbour recall").count() >= 1  # the colour legend's title
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "explore-trust.png"), full_page=True)
    assert page.outbound == []


def test_hostile_titles_stay_text_in_tables_and_tooltips(server: str, browser: object) -> None:
    page = watched_page(browser, 1400, 1000)
    page.goto(f"{server}/Explore?collection=hostile&q=garden%20soil", wait_until="domcontentloaded")
    table = page.locator("table.lab-table").first
    table.wait_for(timeout=240_000)
    assert "<script>" in table.inner_text() and "<img src=x" in table.inner_text()
    tooltips = hover_dots(page, page.locator(".vega-embed").first)
    assert any("<img src=x" in t for t in tooltips), tooltips
    assert any("<script>" in t for t in tooltips), tooltips
    assert page.evaluate("window.__xss") is None
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "explore-hostile.png"), full_page=True)
    assert page.outbound == []


def test_words_page_draws_maps_and_heatmaps(server: str, browser: object) -> None:
    page = watched_page(browser, 1400, 1000)
    page.goto(f"{server}/Words", wait_until="domcontentloaded")
    page.get_by_text("Nearest pieces among all").wait_for(timeout=240_000)
    page.wait_for_function(
        "document.querySelectorAll('.vega-embed canvas, .vega-embed svg').length >= 4",
        timeout=60_000,
    )
    assert "queen" in page.locator("table.lab-table").last.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "words.png"), full_page=True)
    assert page.outbound == []


def test_context_deep_link_follows_model_through_the_layers(server: str, browser: object) -> None:
    page = watched_page(browser, 1400, 1000)
    page.goto(f"{server}/Context", wait_until="domcontentloaded")
    page.get_by_text("Meaning drift across layers").wait_for(timeout=240_000)
    verdict = page.get_by_text(re.compile(r"Sentences 1 and 2: (the same sense|different senses)"))
    verdict.wait_for(timeout=120_000)
    assert "different senses" in verdict.inner_text()  # model: machine learning vs fashion
    page.get_by_text("What moved the vector").wait_for(timeout=120_000)
    page.wait_for_function(
        "document.querySelectorAll('.vega-embed canvas, .vega-embed svg').length >= 4",
        timeout=120_000,
    )
    assert page.locator("[data-testid='stException']").count() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "context.png"), full_page=True)
    assert page.outbound == []


def test_how_it_works_walks_a_sentence_to_its_vector(server: str, browser: object) -> None:
    page = watched_page(browser, 1400, 1000)
    page.goto(f"{server}/How_it_works", wait_until="domcontentloaded")
    page.get_by_text("6. One vector for the whole text").wait_for(timeout=240_000)
    box = page.get_by_label("Your sentence")
    box.fill("A python swallowed the rabbit whole.")
    box.press("Enter")
    page.get_by_text("swallowed", exact=False).first.wait_for(timeout=60_000)
    page.wait_for_function(
        "document.body.innerText.includes('swallow')"
        " && !document.querySelector('[data-testid=\"stApp\"][data-test-script-state=running]')",
        timeout=120_000,
    )
    assert page.locator("[data-testid='stException']").count() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "how-it-works.png"), full_page=True)
    assert page.outbound == []


def test_context_searches_a_collection_by_a_word_sense(server: str, browser: object) -> None:
    page = watched_page(browser, 1400, 1000)
    page.goto(f"{server}/Context", wait_until="domcontentloaded")
    page.get_by_text("Search by a word's sense").wait_for(timeout=240_000)
    page.get_by_role("button", name="Find passages using 'model' this way").click()
    page.get_by_text(re.compile(r"Same sense \(\d+\)")).wait_for(timeout=240_000)
    note = page.get_by_text(re.compile(r"Compared \d+ occurrences of 'model'"))
    assert note.count() == 1
    same = page.locator("table.lab-table").nth(-2).inner_text()
    assert "«model»" in same and "machine learning" in same.lower()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "context-sense-search.png"), full_page=True)
    assert page.outbound == []


def test_a_box_selection_is_summarised_and_kept_in_the_url(server: str, browser: object) -> None:
    page = watched_page(browser, 1400, 1000)
    page.goto(f"{server}/Explore", wait_until="domcontentloaded")
    chart = page.locator(".vega-embed").first
    chart.wait_for(timeout=240_000)
    page.locator(CHART).first.wait_for(timeout=60_000)
    shift_drag(page, chart, (0.2, 0.2), (0.7, 0.7))
    heading = page.get_by_text(re.compile(r"The selection: [\d,]+ chunks"))
    heading.wait_for(timeout=120_000)
    page.wait_for_function("location.search.includes('box=')", timeout=30_000)
    text = heading.inner_text()
    again = watched_page(browser, 1400, 1000)
    again.goto(page.url, wait_until="domcontentloaded")
    again.get_by_text(text).wait_for(timeout=120_000)  # the same selection from the link
    plain = watched_page(browser, 1400, 1000)
    plain.goto(page.url.split("?")[0], wait_until="domcontentloaded")
    plain.get_by_text(re.compile(r"PCA of [\d,]+ points")).wait_for(timeout=120_000)
    shots = [map_pixels(p) for p in (page, again, plain)]
    # Reopened, the box is drawn again and the points outside it fade, as when it was made.
    assert mean_difference(shots[0], shots[1]) < mean_difference(shots[2], shots[1]) / 3
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "explore-selection.png"), full_page=True)
    assert page.outbound == [] and again.outbound == [] and plain.outbound == []


def map_pixels(page: object) -> object:
    """The first map's pixels (greyscale array), once drawn and settled."""
    import numpy as np
    from PIL import Image

    page.locator(CHART).first.wait_for(timeout=120_000)
    page.mouse.move(0, 0)  # no tooltip
    page.wait_for_timeout(1_500)
    shot = page.locator(".vega-embed").first.screenshot()
    return np.asarray(Image.open(BytesIO(shot)).convert("L"), dtype=np.float32)


def mean_difference(a: object, b: object) -> float:
    """Mean absolute pixel difference over the common area."""
    h, w = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
    return float(abs(a[:h, :w] - b[:h, :w]).mean())


def test_search_shows_which_word_matched_which(server: str, browser: object) -> None:
    page = watched_page(browser, 1400, 1000)
    page.goto(f"{server}/Search?q=bats+that+hunt+insects+at+night", wait_until="domcontentloaded")
    toggle = page.get_by_text("Which word matched which (every pair)").first
    toggle.wait_for(timeout=240_000)
    toggle.click()
    note = page.get_by_text(re.compile(r"cells sum to -?[\d.]+")).first
    note.wait_for(timeout=120_000)
    page.locator("[data-testid=stExpander] .vega-embed").first.wait_for(timeout=60_000)
    total = float(re.search(r"cells sum to (-?[\d.]+)", note.inner_text()).group(1))
    card = page.locator(".hit .score").first.inner_text()  # the hit's shown score
    assert 0.0 < total <= 1.0 and card
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "search-word-pairs.png"), full_page=True)
    assert page.outbound == []


def test_a_selection_opens_a_restricted_search(server: str, browser: object) -> None:
    """A box on the map -> its link -> the Search page restricted to those documents (said
    so, and in the URL) -> at most as many hits as it holds -> cleared: the whole collection."""
    page = watched_page(browser, 1400, 1000)
    page.goto(f"{server}/Explore?box=-1e9,0,-1e9,1e9", wait_until="domcontentloaded")
    heading = page.get_by_text(re.compile(r"The selection: [\d,]+ chunks from ([\d,]+) doc"))
    heading.wait_for(timeout=240_000)
    count = int(re.search(r"from ([\d,]+) doc", heading.inner_text()).group(1).replace(",", ""))
    page.get_by_text("Open the Search page restricted to these documents").click()
    note = page.get_by_text(re.compile(r"Searching only within a selection of ([\d,]+) doc"))
    note.wait_for(timeout=120_000)
    assert f"of {count:,} documents" in note.inner_text()
    assert "within=" in page.url
    page.get_by_label("Question").fill("animals")
    page.get_by_label("Question").press("Enter")
    page.locator(".hit").first.wait_for(timeout=120_000)
    assert page.locator(".hit").count() == min(10, count)
    page.get_by_role("button", name="Search the whole collection").click()
    page.wait_for_function("!location.search.includes('within=')", timeout=60_000)
    page.get_by_text(re.compile(r"Searching only within")).wait_for(state="detached")
    ARTIFACTS.mkdir(exist_ok=True)
    assert page.outbound == []
