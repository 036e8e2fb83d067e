"""Read-only mode (``EMBEDLAB_READ_ONLY=1``): core refuses every write, search still works,
the command line says why, and the Collections page hides upload, paste, delete and build."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core import config
from core.documents.readers import Document
from core.errors import CollectionError, LabError
from core.ingest import builtin
from core.ingest.pipeline import ingest_documents
from core.search.query import search
from core.storage.collection import (
    Collection,
    ReadOnlyError,
    delete_collection,
    exists,
)

ROOT = Path(__file__).resolve().parents[3]
WRITE_WIDGETS = ("upload_files_0", "upload_go", "paste_go", "manage_delete_go", "builtin_stdlib_go")

DOCS = [
    Document("a", "Bees pollinate flowers in spring.", source="t"),
    Document("b", "The river bank flooded after the storm.", source="t"),
    Document("c", "Interest rates at the bank went up.", source="t"),
]


@pytest.fixture
def built(tiny_embedder) -> Collection:
    """A collection ingested while the lab is writable."""
    collection = Collection("docs", tiny_embedder.info, create=True)
    ingest_documents(collection, tiny_embedder, DOCS)
    return collection


@pytest.fixture
def read_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBEDLAB_READ_ONLY", "1")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), ("YES", True), ("on", True), ("0", False), ("", False)],
)
def test_read_only_setting(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.setenv("EMBEDLAB_READ_ONLY", value)
    assert config.read_only() is expected


def test_core_refuses_every_write(built: Collection, tiny_embedder, read_only: None) -> None:
    with pytest.raises(ReadOnlyError, match="read-only"):
        Collection("new", tiny_embedder.info, create=True)
    assert not exists("new") and not (config.data_dir() / "new").exists()
    more = [Document("d", "Owls hunt at night.", source="t")]
    with pytest.raises(ReadOnlyError):
        ingest_documents(built, tiny_embedder, more)
    with pytest.raises(ReadOnlyError):
        built.add_vectors(more, [[]], tiny_embedder.encode(["x"])[:0])
    with pytest.raises(ReadOnlyError):
        built.delete_documents(["a"])
    with pytest.raises(ReadOnlyError):
        delete_collection("docs")
    assert issubclass(ReadOnlyError, CollectionError) and issubclass(ReadOnlyError, LabError)
    reopened = Collection("docs", tiny_embedder.info)
    assert reopened.store.counts() == (3, 3)
    hits = search(reopened, tiny_embedder, "river flood", k=3).hits
    assert {h.doc_id for h in hits} == {"a", "b", "c"}


def test_cli_refuses_ingest_and_delete(
    built: Collection, tiny_model_dir: Path, tmp_path: Path
) -> None:
    env = dict(
        os.environ,
        EMBEDLAB_MODEL=str(tiny_model_dir),
        EMBEDLAB_DATA_DIR=str(config.data_dir()),
        EMBEDLAB_READ_ONLY="1",
    )
    note = tmp_path / "note.txt"
    note.write_text("A note that must not be stored.")

    def cli(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "core", *args]
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)

    for args in (("ingest", str(note), "--collection", "fresh"), ("delete", "docs")):
        done = cli(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert "read-only" in done.stderr and "Traceback" not in done.stderr
    listing = cli("collections")
    assert listing.returncode == 0 and "docs" in listing.stdout and "fresh" not in listing.stdout
    assert Collection("docs", built.model).store.counts() == (3, 3)


@pytest.fixture
def app_model(
    tiny_model_dir: Path, tiny_embedder, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Pages run on the tiny model, with the demo built beforehand (as an operator would)."""
    monkeypatch.setenv("EMBEDLAB_MODEL", str(tiny_model_dir))
    builtin.ensure_demo(tiny_embedder)
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def run_page(name: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page(name)
    at.run()
    assert not at.exception, at.exception
    return at


def widget_keys(at: AppTest) -> set[str]:
    return {w.key for kind in ("button", "file_uploader", "text_area") for w in at.get(kind)}


def test_collections_page_hides_writes_only_when_read_only(
    built: Collection, app_model: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    writable = run_page("pages/2_Collections.py")
    assert {"upload_go", "paste_go"} <= widget_keys(writable)
    monkeypatch.setenv("EMBEDLAB_READ_ONLY", "1")
    at = run_page("pages/2_Collections.py")
    assert any("read-only" in info.value for info in at.info)
    assert not set(WRITE_WIDGETS) & widget_keys(at)
    assert at.dataframe, "the collections table is still shown"
    search_page = run_page("pages/1_Search.py")
    search_page.selectbox(key="search_collection").set_value("docs")
    search_page.text_input(key="search_query").input("river flood").run()
    assert not search_page.exception
    assert sum('class="hit"' in h.value for h in search_page.html) == 3
