"""A selection on a map of 12,000 documents, in Debian's Chromium: a box over thousands of
points, its link kept and reopened, and the Search page restricted to exactly its documents.

The collection's vectors are random unit vectors stored beside short texts (no model run, so
the fixture takes seconds); the map, the selection, the link and the search are the real ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest

from measure.browser import shift_drag, streamlit_server, watched_page

pytestmark = [pytest.mark.slow, pytest.mark.browser]

COUNT = 12_000
WORDS = "cell protein gene mouse tumour virus brain heart blood drug trial dose".split()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, real_embedder) -> Iterator[tuple]:
    """``streamlit run`` on a data dir holding collection ``big`` (12,000 documents)."""
    from core.documents.chunking import Chunk
    from core.documents.readers import Document
    from core.storage.collection import Collection

    data = tmp_path_factory.mktemp("scale") / "data"
    rng = np.random.default_rng(0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMBEDLAB_DATA_DIR", str(data))
        big = Collection("big", real_embedder.info, create=True)
        texts = [" ".join(rng.choice(WORDS, 6)) + f" note {i}" for i in range(COUNT)]
        docs = [Document(f"d{i:05d}", t, "synthetic", f"Note {i}") for i, t in enumerate(texts)]
        chunks = [[Chunk(0, 0, len(t), t)] for t in texts]
        vectors = rng.standard_normal((COUNT, real_embedder.dimension)).astype(np.float32)
        big.add_vectors(docs, chunks, vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
        big.save_index()
    with streamlit_server(data) as (url, _):
        yield url, data


def test_a_large_selection_round_trips_through_its_link(
    server: tuple, browser: object, real_embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.storage import selections
    from core.storage.collection import Collection

    server, data = server
    page = watched_page(browser, 1400, 1000)
    page.goto(f"{server}/Explore?collection=big", wait_until="domcontentloaded")
    page.get_by_text(re.compile(r"PCA of 12,000 points")).wait_for(timeout=240_000)
    chart = page.locator(".vega-embed").first
    chart.wait_for(timeout=120_000)
    shift_drag(page, chart, (0.1, 0.1), (0.5, 0.9))
    heading = page.get_by_text(re.compile(r"The selection: ([\d,]+) chunks from ([\d,]+) doc"))
    heading.wait_for(timeout=120_000)
    count = int(re.search(r"from ([\d,]+) doc", heading.inner_text()).group(1).replace(",", ""))
    assert count >= 1_000  # thousands of points in one box
    page.wait_for_function("location.search.includes('box=')", timeout=30_000)

    again = watched_page(browser, 1400, 1000)
    again.goto(page.url, wait_until="domcontentloaded")
    again.get_by_text(heading.inner_text()).wait_for(timeout=120_000)  # kept in the URL

    page.get_by_text("Open the Search page restricted to these documents").click()
    note = page.get_by_text(re.compile(r"Searching only within a selection of ([\d,]+) doc"))
    note.wait_for(timeout=120_000)
    assert f"of {count:,} documents" in note.inner_text()
    token = parse_qs(urlparse(page.url).query)["within"][0]
    assert len(page.url) < 2_000 and token[0] in "is"  # a short link, whatever the size
    page.get_by_label("Question").fill("mouse tumour")
    page.get_by_label("Question").press("Enter")
    page.locator(".hit").first.wait_for(timeout=120_000)
    assert page.locator(".hit").count() == 10
    monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(data))
    big = Collection("big", real_embedder.info)
    chosen = selections.resolve(big, token).rows
    names = {
        r[0]
        for r in big.store.db.execute(
            f"SELECT doc_id FROM documents WHERE id IN ({','.join(str(int(r)) for r in chosen)})"
        )
    }
    shown = re.findall(r"id (d\d{5}) ·", " ".join(page.locator(".hit .meta").all_inner_texts()))
    assert len(chosen) == count and len(shown) == 10 and set(shown) <= names

    shared = watched_page(browser, 1400, 1000)  # the link opened as a first request
    shared.goto(page.url, wait_until="domcontentloaded")
    shared.get_by_text(f"a selection of {count:,} documents").wait_for(timeout=120_000)
    shared.locator(".hit").first.wait_for(timeout=120_000)
    assert page.outbound == [] and again.outbound == [] and shared.outbound == []
