"""Read-only mode in Debian's Chromium: every page over an unwritable data dir changes nothing.

The data dir holds the demo and a second collection, each with a stale index (one document
committed to SQLite after its FAISS file was saved, as when a writer is killed between the
two). It is made unwritable with ``chmod -R a-w``, and ``streamlit run`` (tiny model,
``EMBEDLAB_READ_ONLY=1``) runs inside a read-only bind mount of it where the kernel lets this
test make a mount namespace, so that writes fail even for root. Headless Chromium visits
Home, Search with a query, Collections, Explore with a map, Words, Context and How it works.
The size, modification time and sha256 of every file and folder, and the list of them, are
the same after the visits (server still running) and after the server stops; no page shows
an exception or an error, and the search finds the document only the stale index lacked.
"""

from __future__ import annotations

import gc
import hashlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from core.documents.chunking import Chunk
from core.documents.readers import Document
from core.ingest import builtin
from core.ingest.pipeline import ingest_documents
from core.storage.collection import INDEX_STATE, Collection
from measure.browser import read_only_mount, streamlit_server

pytestmark = [pytest.mark.slow, pytest.mark.browser]

LATE = "Barn owls hunt voles silently at night."
CHART = ".vega-embed canvas, .vega-embed svg"
SHOWN_ERRORS = "[data-testid='stException'], [data-testid='stAlertContentError']"
IDLE = (
    "() => document.querySelector('[data-testid=\"stApp\"]')"
    ".getAttribute('data-test-script-state') === 'notRunning'"
)
# (path after the server's URL, what shows once the page has drawn)
PAGES = [
    ("", "text=Embedding Lab"),
    (f"Search?collection=docs&q={quote(LATE)}", ".hit"),
    ("Collections", "text=This deployment is read-only"),
    ("Explore?collection=docs&q=owls", CHART),
    ("Explore", CHART),
    ("Words", "text=Nearest pieces among all"),
    ("Context", "text=Senses in a collection"),
    ("How_it_works", "text=6. One vector for the whole text"),
]


def make_stale(collection: Collection, embedder) -> None:
    """Commit one document to SQLite only: the saved index is then of an older generation."""
    doc = Document("late", LATE, source="late.txt", title="Late owls")
    vectors = embedder.encode([LATE])
    collection.store.add([doc], [[Chunk(0, 0, len(LATE), LATE)]], vectors)
    state = json.loads((collection.path / INDEX_STATE).read_text())
    assert state["generation"] < collection.store.generation
    collection.store.close()


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every file and folder under ``folder``: (size, mtime_ns, sha256 of a file's bytes)."""
    out = {}
    for path in sorted([folder, *folder.rglob("*")]):
        info = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        out[str(path.relative_to(folder))] = (info.st_size, info.st_mtime_ns, digest)
    return out


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory, tiny_embedder) -> Iterator[Path]:
    """An unwritable data dir: the demo and ``docs``, both with a stale index."""
    folder = tmp_path_factory.mktemp("read-only") / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMBEDLAB_DATA_DIR", str(folder))
        builtin.ensure_demo(tiny_embedder)
        make_stale(Collection("demo", tiny_embedder.info), tiny_embedder)
        docs = Collection("docs", tiny_embedder.info, create=True)
        texts = ["Bees pollinate flowers in spring.", "The river bank flooded after rain."]
        ingest_documents(
            docs, tiny_embedder, [Document(f"d{i}", t, "t") for i, t in enumerate(texts)]
        )
        make_stale(docs, tiny_embedder)
    # Collections opened while building hold SQLite connections until collected; closing the
    # last one checkpoints the WAL into the file. Settle that here, not during the snapshot.
    gc.collect()
    subprocess.run(["chmod", "-R", "a-w", str(folder)], check=True)
    yield folder
    subprocess.run(["chmod", "-R", "u+w", str(folder)], check=True)


def visit(browser: object, url: str, ready: str) -> list[str]:
    """Open ``url`` in a fresh session; return the exceptions and errors the page shows."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        page.goto(url, wait_until="domcontentloaded")
        errors = page.locator(SHOWN_ERRORS)
        page.locator(ready).or_(errors).first.wait_for(timeout=240_000)
        page.wait_for_function(IDLE, timeout=240_000)
        problems = [f"{url}: {text[:300]}" for text in errors.all_inner_texts()]
        if not page.locator(ready).count():
            problems.append(f"{url}: never showed {ready}")
        elif ready == ".hit":
            first = page.locator(".hit").first.inner_text()
            if "owls" not in first.lower():
                problems.append(f"{url}: first hit is not the late document: {first[:200]}")
        return problems
    finally:
        context.close()


def test_every_page_works_and_nothing_on_disk_changes(
    data: Path, tiny_model_dir: Path, browser: object
) -> None:
    before = snapshot(data)
    assert {"demo/store.sqlite", "docs/index.faiss", "docs/manifest.json"} <= set(before)
    env = {"EMBEDLAB_MODEL": str(tiny_model_dir), "EMBEDLAB_READ_ONLY": "1"}
    problems: list[str] = []
    with streamlit_server(data, env, prefix=read_only_mount(data)) as (url, _):
        for path, ready in PAGES:
            problems += visit(browser, f"{url}/{path}", ready)
        during = snapshot(data)
    assert problems == []
    assert during == before
    assert snapshot(data) == before
