"""Read-only mode (``EMBEDLAB_READ_ONLY=1``): core refuses every write, search still works,
the command line says why, and the Collections page hides upload, paste, delete and build.

Nothing under the data dir changes: a stale index is rebuilt in memory, maps are kept in
memory, the int8 encoder is exported outside it, and SQLite leaves no ``-wal``/``-shm`` files.
Tests run as root, whom ``chmod a-w`` does not stop, so each compares a checksum, size and
modification time of every file and folder before and after.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core import config
from core.documents.chunking import Chunk
from core.documents.readers import Document
from core.errors import CollectionError, LabError
from core.explain.projection import Params, plan, project_collection
from core.ingest import builtin
from core.ingest.pipeline import ingest_documents
from core.search.query import search
from core.storage.collection import (
    INDEX_STATE,
    Collection,
    ReadOnlyError,
    delete_collection,
    exists,
    list_collections,
)
from core.storage.export import export_projector
from measure.browser import read_only_mount

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


LATE = Document("late", "Owls hunt mice silently at night.", source="t")


def make_stale(collection: Collection, embedder) -> np.ndarray:
    """Commit one more document to SQLite only, as a writer killed before saving its index
    would; close the writer (as an operator stops it) and make the data dir unwritable."""
    vectors = embedder.encode([LATE.text])
    collection.store.add([LATE], [[Chunk(0, 0, len(LATE.text), LATE.text)]], vectors)
    collection.store.close()
    state = json.loads((collection.path / INDEX_STATE).read_text())
    assert state["generation"] < collection.store.generation  # the saved index is stale
    collection.store.close()
    subprocess.run(["chmod", "-R", "a-w", str(config.data_dir())], check=True)
    return vectors[0]


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every file and folder under ``folder``: (size, mtime_ns, sha256 of a file's bytes)."""
    out = {}
    for path in sorted([folder, *folder.rglob("*")]):
        info = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        out[str(path.relative_to(folder))] = (info.st_size, info.st_mtime_ns, digest)
    return out


@pytest.fixture
def stale(built: Collection, tiny_embedder) -> Iterator[np.ndarray]:
    """``built`` with a stale index, read-only from here on; yields the late vector."""
    vector = make_stale(built, tiny_embedder)
    yield vector
    subprocess.run(["chmod", "-R", "u+w", str(config.data_dir())], check=True)


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


def test_stale_index_is_rebuilt_in_memory_and_nothing_is_written(
    stale: np.ndarray, tiny_embedder, read_only: None
) -> None:
    before = snapshot(config.data_dir())
    opened = Collection("docs", tiny_embedder.info)
    assert len(opened.index) == opened.store.counts()[1] == 4
    hits = search(opened, tiny_embedder, LATE.text, k=4, mode="dense").hits
    assert hits[0].doc_id == "late" and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert [c.name for c in list_collections()] == ["docs"]
    assert opened.info().documents == 4
    opened.refresh()
    assert snapshot(config.data_dir()) == before


def test_writes_fail_in_core_even_where_the_file_system_allows_them(
    stale: np.ndarray, tiny_embedder, read_only: None
) -> None:
    opened = Collection("docs", tiny_embedder.info)
    before = snapshot(config.data_dir())
    with pytest.raises(ReadOnlyError):
        opened.save_index()
    with pytest.raises(ReadOnlyError):
        opened.save_manifest()
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        opened.store.set_meta({"touched": "1"})
    assert snapshot(config.data_dir()) == before


def test_explore_maps_are_kept_in_memory(stale: np.ndarray, tiny_embedder, read_only) -> None:
    before = snapshot(config.data_dir())
    opened = Collection("docs", tiny_embedder.info)
    params = Params(method="pca", seed=3)
    assert not plan(opened, params).cached
    first = project_collection(opened, params)
    assert len(first.chunk_ids) == 4 and not first.cached
    assert plan(opened, params).cached
    again = project_collection(opened, params)
    assert again.cached
    np.testing.assert_array_equal(again.coords, first.coords)
    assert not (opened.path / "projections").exists()
    assert snapshot(config.data_dir()) == before


def test_a_missing_data_dir_is_not_created(read_only: None) -> None:
    assert not config.data_dir().exists() and not config.cache_dir().exists()
    assert list_collections() == []
    assert not exists("docs")
    assert not config.data_dir().exists()


def test_int8_encoder_is_exported_outside_the_data_dir(
    stale: np.ndarray, tiny_model_dir: Path, read_only: None
) -> None:
    from core.model.embedder import Embedder

    before = snapshot(config.data_dir())
    embedder = Embedder(str(tiny_model_dir), encoder="onnx-int8")
    assert embedder.encode(["Owls hunt at night."]).shape == (1, embedder.dimension)
    assert snapshot(config.data_dir()) == before


def test_cli_read_commands_write_nothing(
    stale: np.ndarray, tiny_model_dir: Path, read_only: None
) -> None:
    env = dict(
        os.environ,
        EMBEDLAB_MODEL=str(tiny_model_dir),
        EMBEDLAB_DATA_DIR=str(config.data_dir()),
        EMBEDLAB_READ_ONLY="1",
    )
    before = snapshot(config.data_dir())
    mount = read_only_mount(config.data_dir())  # writes then fail even for root, where allowed
    for args in (
        ("search", LATE.text, "--collection", "docs", "--json", "--mode", "dense"),
        ("collections", "--json"),
    ):
        command = [*mount, sys.executable, "-m", "core", *args]
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        if args[0] == "search":
            assert json.loads(done.stdout)["hits"][0]["doc_id"] == "late"
    assert snapshot(config.data_dir()) == before


def test_export_goes_only_outside_the_data_dir(
    stale: np.ndarray, tiny_embedder, read_only: None, tmp_path: Path
) -> None:
    opened = Collection("docs", tiny_embedder.info)
    before = snapshot(config.data_dir())
    with pytest.raises(ReadOnlyError, match="inside the data folder"):
        export_projector(opened, config.data_dir() / "docs" / "export")
    done = export_projector(opened, tmp_path / "export")
    assert done.rows == 4 and done.vectors.is_file()
    assert snapshot(config.data_dir()) == before
