"""A collection in Milvus (Milvus Lite's gRPC server, the ``milvus_uri`` fixture) behaves as the
same collection embedded: same documents in, same search hits, maps, exports and explanations
out; resumable ingest, the manifest's record of the store, the command line's ``--store``, and a
clear error when the server cannot be reached."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.documents.readers import Document
from core.errors import CollectionError, LabError
from core.explain import explore, projection, selection, walkthrough
from core.ingest.pipeline import ingest_documents
from core.search.query import search
from core.storage.collection import Collection, exists, list_collections
from core.storage.export import export_projector
from core.storage.milvus_store import MilvusUnavailableError
from measure.milvus_server import free_port

TOPICS = {
    "river": "The river bank flooded after the storm and the water rose over the fields.",
    "money": "She paid the cheque into her account at the bank on the high street.",
    "bees": "Bees carry pollen between flowers, and orchards depend on them every spring.",
    "code": "A python function returns a value; the interpreter runs it line by line.",
    "space": "The telescope watched a distant galaxy whose light left it long ago.",
}


def documents() -> list[Document]:
    docs = []
    for i in range(30):
        topic = list(TOPICS)[i % len(TOPICS)]
        text = f"{TOPICS[topic]} Note {i} about {topic}. " * (1 + i % 4)
        docs.append(Document(f"d{i}", text, "notes.jsonl", f"Note {i}", {"topic": topic, "i": i}))
    return docs


@pytest.fixture
def pair(tiny_embedder, milvus_uri: str, monkeypatch: pytest.MonkeyPatch):
    """The same documents ingested into an embedded collection and into one in Milvus."""
    monkeypatch.setenv("EMBEDLAB_MILVUS_URI", milvus_uri)
    out = []
    for store in ("embedded", "milvus"):
        collection = Collection(f"notes-{store}", tiny_embedder.info, create=True, store=store)
        report = ingest_documents(collection, tiny_embedder, documents(), batch_size=8)
        assert report.added == 30
        out.append(collection)
    return out


def test_same_hits_in_every_mode_with_and_without_a_filter(pair, tiny_embedder) -> None:
    embedded, milvus = pair
    for query in ["river bank flood", "pollen orchards", "python interpreter value"]:
        for where in [None, ("topic", "money"), ("i", "7")]:
            a = search(embedded, tiny_embedder, query, 8, where, "dense")
            b = search(milvus, tiny_embedder, query, 8, where, "dense")
            assert [h.doc_id for h in a.hits] == [h.doc_id for h in b.hits]
            assert np.allclose([h.score for h in a.hits], [h.score for h in b.hits], atol=1e-5)
            for mode in ("keyword", "hybrid"):  # BM25s differ in k1 and stemming: not equal
                hits = search(milvus, tiny_embedder, query, 8, where, mode).hits
                assert hits or (where is not None and mode == "keyword")
                assert all(where is None or str(h.metadata[where[0]]) == where[1] for h in hits)
            words = set(query.split())
            for hit in search(milvus, tiny_embedder, query, 8, where, "keyword").hits:
                assert words & set(re.findall(r"\w+", hit.text.lower()))


def test_a_keyword_hit_is_explained_word_by_word(pair, tiny_embedder) -> None:
    milvus = pair[1]
    hits = search(milvus, tiny_embedder, "pollen orchards spring", 5, None, "keyword").hits
    assert hits
    for hit in hits:
        parts = hit.keyword_terms
        assert parts and sum(p.score for p in parts) == pytest.approx(hit.score, rel=1e-5)
        for part in parts:
            assert all(hit.text[a:b].lower() == part.word for a, b in part.spans)


def test_maps_exports_and_selections_are_the_same(pair, tmp_path: Path) -> None:
    embedded, milvus = pair
    params = projection.Params("pca")
    a, b = (projection.project_collection(c, params) for c in pair)
    assert np.array_equal(a.chunk_ids, b.chunk_ids)
    assert list(a.doc_ids) == list(b.doc_ids)
    assert np.allclose(np.abs(a.fit.coords), np.abs(b.fit.coords), atol=1e-4)
    for collection in pair:
        export_projector(collection, tmp_path / collection.name)
    for name in ("vectors.tsv", "metadata.tsv"):
        assert (tmp_path / embedded.name / name).read_text() == (
            tmp_path / milvus.name / name
        ).read_text()
    near_a = explore.neighbours_of(embedded, int(a.chunk_ids[0]))
    near_b = explore.neighbours_of(milvus, int(b.chunk_ids[0]))
    assert [h.doc_id for h in near_a] == [h.doc_id for h in near_b]
    assert walkthrough.occurrences(embedded.store, "galaxy") == walkthrough.occurrences(
        milvus.store, "galaxy"
    )
    copied = selection.save_as_collection(milvus, b.chunk_ids[:3], "picked")
    assert copied == len(set(b.doc_ids[:3]))


def test_ingest_resumes_and_deletes_go(pair, tiny_embedder) -> None:
    milvus = pair[1]
    again = ingest_documents(milvus, tiny_embedder, documents())
    assert (again.added, again.already_present) == (0, 30)
    before = milvus.store.counts()
    gone = milvus.remove_documents(["d0", "d1", "nope"])
    assert gone.documents == 2
    assert milvus.store.counts() == (before[0] - 2, before[1] - gone.chunks)
    assert ingest_documents(milvus, tiny_embedder, documents()).added == 2


def test_the_manifest_records_the_store_and_reopening_uses_it(pair, tiny_embedder) -> None:
    milvus = pair[1]
    manifest = json.loads((milvus.path / "manifest.json").read_text())
    assert manifest["store"] == "milvus" and manifest["milvus"]["collection"]
    reopened = Collection(milvus.name, tiny_embedder.info)
    assert reopened.store.kind == "milvus" and reopened.store.counts() == milvus.store.counts()
    stores = {i.name: i.store for i in list_collections()}
    assert stores == {"notes-embedded": "embedded", "notes-milvus": "milvus"}
    with pytest.raises(CollectionError, match="lives in Milvus"):
        Collection(milvus.name, tiny_embedder.info, store="embedded")


def test_command_line_ingest_and_search_in_milvus(
    tiny_model_dir, milvus_uri: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:
    monkeypatch.setenv("EMBEDLAB_MODEL", str(tiny_model_dir))
    monkeypatch.setenv("EMBEDLAB_MILVUS_URI", milvus_uri)
    corpus = tmp_path / "notes.jsonl"
    corpus.write_text("".join(json.dumps({"id": d.doc_id, "text": d.text}) + "\n"
                              for d in documents()))  # fmt: skip
    assert main(["ingest", str(corpus), "--collection", "cli", "--store", "milvus"]) == 0
    assert main(["ingest", str(corpus), "--collection", "cli", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["already_present"] == 30
    assert main(["search", "galaxy telescope", "--collection", "cli", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert len(hits) == 10 and hits[0]["doc_id"] in {f"d{i}" for i in range(4, 30, 5)}
    assert main(["collections"]) == 0
    assert "in Milvus" in capsys.readouterr().out


def test_an_unreachable_server_is_a_clear_error(tiny_embedder, monkeypatch) -> None:
    monkeypatch.setenv("EMBEDLAB_MILVUS_URI", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(MilvusUnavailableError, match="Cannot reach the Milvus server") as err:
        Collection("far", tiny_embedder.info, create=True, store="milvus")
    assert isinstance(err.value, LabError) and "EMBEDLAB_MILVUS_URI" in str(err.value)
    assert not exists("far")


def test_milvus_without_a_server_named_is_refused(tiny_embedder, monkeypatch) -> None:
    monkeypatch.delenv("EMBEDLAB_MILVUS_URI", raising=False)
    with pytest.raises(CollectionError, match="set EMBEDLAB_MILVUS_URI"):
        Collection("nowhere", tiny_embedder.info, create=True, store="milvus")
    assert not exists("nowhere")


def test_a_server_that_stops_gives_a_clear_error(
    tiny_embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from measure.milvus_server import milvus_lite_server

    with milvus_lite_server(tmp_path / "short-lived") as uri:
        monkeypatch.setenv("EMBEDLAB_MILVUS_URI", uri)
        collection = Collection("brief", tiny_embedder.info, create=True, store="milvus")
        ingest_documents(collection, tiny_embedder, documents()[:3])
    with pytest.raises(MilvusUnavailableError, match="failed a request"):
        search(collection, tiny_embedder, "galaxy", 3, None, "dense")
    with pytest.raises(MilvusUnavailableError, match="Cannot reach"):
        Collection("brief", tiny_embedder.info)


def test_deleting_a_collection_drops_it_in_milvus(pair, tiny_embedder) -> None:
    from core.storage.collection import delete_collection

    milvus = pair[1]
    name = milvus.store.name
    milvus.store.drop()  # gone from the server already: deleting still removes the folder
    delete_collection(milvus.name)
    assert not exists(milvus.name) and not milvus.store.client.has_collection(name)
    other = Collection("again", tiny_embedder.info, create=True, store="milvus")
    delete_collection("again")
    assert not other.store.client.has_collection(other.store.name)


def test_a_selection_restricts_search_the_same_in_both_stores(pair, tiny_embedder) -> None:
    from core.storage import selections

    picked = {}
    for collection in pair:
        ids = collection.store.chunk_ids()[::4][:12]
        within = selections.resolve(collection, selections.token_for(collection, ids))
        chosen = {r.doc_id for r in collection.store.chunk_rows(ids).values()}
        assert within.documents == len(chosen) and within.missing == 0
        for mode in ("dense", "keyword", "hybrid"):
            hits = search(collection, tiny_embedder, "bank river galaxy", 10, None, mode,
                          within=within.rows).hits  # fmt: skip
            assert hits and {h.doc_id for h in hits} <= chosen
            picked[(collection.store.kind, mode)] = [h.doc_id for h in hits]
    assert picked[("embedded", "dense")] == picked[("milvus", "dense")]


def test_a_collection_from_before_stemmed_terms_is_refused(pair, tiny_embedder) -> None:
    milvus = pair[1]
    state_file = milvus.path / "milvus.json"
    state = json.loads(state_file.read_text())
    assert state["schema"] == 2
    del state["schema"]  # what a collection made before the ``terms`` field records
    state_file.write_text(json.dumps(state))
    with pytest.raises(CollectionError, match=r"older version .* ingest it again"):
        Collection(milvus.name, tiny_embedder.info)


def test_non_ascii_words_are_found_as_in_the_embedded_store(tiny_embedder, milvus_uri, monkeypatch):
    monkeypatch.setenv("EMBEDLAB_MILVUS_URI", milvus_uri)
    texts = ["Café naïve", "Straße 中文", "привет мир", "x² and ½", "plain words"]
    docs = [Document(f"u{i}", t, source="u.txt") for i, t in enumerate(texts)]
    found = {}
    for store in ("embedded", "milvus"):
        collection = Collection(f"uni-{store}", tiny_embedder.info, create=True, store=store)
        ingest_documents(collection, tiny_embedder, docs, batch_size=8)
        found[store] = {
            word: [
                h.doc_id for h in search(collection, tiny_embedder, word, 5, mode="keyword").hits
            ]
            for word in ["cafe", "naive", "straße", "中文", "привет", "x²", "½"]
        }
    assert found["milvus"] == found["embedded"]
    assert found["milvus"]["cafe"] == ["u0"] and found["milvus"]["中文"] == ["u1"]
