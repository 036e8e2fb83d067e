"""The Collections page's upload on the tiny model: two files named alike are both kept and
the outcome says under which id; more documents than one ingest may add are refused, across
all the files of an upload, before anything is created."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.config import Limits
from core.documents import readers
from core.ingest import builtin
from core.storage.collection import Collection, exists

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app_model(
    tiny_model_dir: Path, tiny_embedder, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Pages run on the tiny model, with the demo built beforehand."""
    monkeypatch.setenv("EMBEDLAB_MODEL", str(tiny_model_dir))
    builtin.ensure_demo(tiny_embedder)
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def shown(element) -> str:
    """An alert's text as a person reads it: Markdown escapes resolved, word joiners gone."""
    return re.sub(r"\\(.)", r"\1", element.value, flags=re.S).replace("\u2060", "")


def collections_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page("pages/2_Collections.py")
    at.run()
    return at


def upload(target: str, files: list[tuple[str, bytes, str]], at: AppTest | None = None) -> AppTest:
    at = at or collections_page()
    at.text_input(key="upload_target").input(target)
    at.file_uploader(key="upload_files_0").set_value(files).run()
    at.button(key="upload_go").click().run()
    assert not at.exception, at.exception
    return at


def test_two_files_named_alike_are_both_kept(app_model: None, tiny_embedder) -> None:
    at = upload(
        "uploads",
        [
            ("notes.txt", b"Bees pollinate flowers in spring.", "text/plain"),
            ("notes.txt", b"Owls hunt mice at night.", "text/plain"),
        ],
    )
    message = " ".join(shown(s) for s in at.success)
    assert "added 2 documents" in message
    assert "'notes.txt' as 'notes.txt (2)'" in message
    docs = Collection("uploads", tiny_embedder.info).store.documents()
    assert sorted(d["doc_id"] for d in docs) == ["notes.txt", "notes.txt (2)"]


def test_an_upload_over_the_limit_adds_nothing(
    app_model: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = collections_page()  # the demo's files are read (and checked) on the first run
    monkeypatch.setattr(readers, "LIMITS", Limits(max_documents_per_ingest=2))
    files = [(f"n{i}.txt", f"Note number {i}.".encode(), "text/plain") for i in range(3)]
    at = upload("too-many", files, at)
    assert not at.success
    assert any("limit is 2 per ingest" in e.value for e in at.error)
    assert not exists("too-many")


def test_an_upload_can_create_its_collection_in_milvus(
    app_model: None, tiny_embedder, milvus_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMBEDLAB_MILVUS_URI", milvus_uri)
    at = collections_page()
    at.radio(key="upload_store").set_value("milvus")
    at = upload("in-milvus", [("a.txt", b"Owls hunt mice at night.", "text/plain")], at)
    assert "added 1 documents" in " ".join(shown(s) for s in at.success)
    assert Collection("in-milvus", tiny_embedder.info).store.kind == "milvus"
    table = at.dataframe[0].value
    assert table.set_index("name").loc["in-milvus", "store"] == "milvus"
    assert table.set_index("name").loc["in-milvus", "recall@10"] == "exact"


def test_the_table_says_a_flat_index_is_exact(app_model: None) -> None:
    at = upload("flat", [("a.txt", b"Owls hunt mice at night.", "text/plain")])
    row = at.dataframe[0].value.set_index("name").loc["flat"]
    assert (row["index"], row["recall@10"]) == ("flat-ip", "exact")


def test_milvus_without_a_server_is_an_error_on_the_page(
    app_model: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EMBEDLAB_MILVUS_URI", raising=False)
    at = collections_page()
    at.radio(key="upload_store").set_value("milvus")
    at = upload("nowhere", [("a.txt", b"Owls hunt mice at night.", "text/plain")], at)
    assert any("EMBEDLAB_MILVUS_URI" in shown(e) for e in at.error)
    assert not exists("nowhere")
