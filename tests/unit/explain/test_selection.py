"""Selections on a map: export round trips, search within against brute force, summary,
and saving as a new collection with the stored vectors copied byte for byte."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from core.documents.readers import Document
from core.errors import InputError
from core.explain import selection
from core.ingest.pipeline import ingest_documents
from core.storage.collection import Collection

TOPICS = {
    "bees": "Bees collect nectar and pollen from flowers to make honey in the hive.",
    "rivers": "Rivers carry water and silt from mountains down to the sea.",
    "stars": "Stars fuse hydrogen into helium and shine for billions of years.",
}


@pytest.fixture
def source(tiny_embedder) -> Collection:
    collection = Collection("source", tiny_embedder.info, create=True)
    docs = [
        Document(f"{t}-{i}", f"{text} Note {i}.", "t", f"{t} {i}", {"topic": t, "n": i})
        for t, text in TOPICS.items()
        for i in range(6)
    ]
    ingest_documents(collection, tiny_embedder, docs)
    return collection


def ids_of(collection: Collection, prefix: str) -> np.ndarray:
    rows = collection.store.db.execute(
        "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc WHERE d.doc_id LIKE ?",
        (prefix + "%",),
    ).fetchall()
    return np.array([r[0] for r in rows])


def test_csv_and_jsonl_round_trip(source: Collection) -> None:
    chosen = ids_of(source, "bees")
    frame = selection.records(source, chosen)
    assert len(frame) == 6 and set(frame["topic"]) == {"bees"}
    back = pd.read_csv(io.BytesIO(selection.to_csv(frame)))
    assert list(back["doc_id"]) == list(frame["doc_id"]) and list(back["text"]) == list(
        frame["text"]
    )
    lines = [json.loads(line) for line in selection.to_jsonl(frame).decode().splitlines()]
    assert [r["doc_id"] for r in lines] == list(frame["doc_id"]) and lines[0]["n"] == 0


def test_search_within_matches_brute_force_and_stays_inside(source, tiny_embedder) -> None:
    chosen = np.concatenate([ids_of(source, "bees"), ids_of(source, "stars")])
    hits = selection.search_within(source, tiny_embedder, "honey from flowers", chosen, k=5)
    ids, vectors = source.store.all_vectors(source.model.dimension)
    inside = np.isin(ids, chosen)
    scores = vectors[inside] @ tiny_embedder.encode_query("honey from flowers")
    docs = [source.store.chunk_rows([int(i)])[int(i)].doc_id for i in ids[inside]]
    expected = sorted(zip(-scores, docs, strict=True))[:5]
    assert [h.doc_id for h in hits] == [d for _, d in expected]
    np.testing.assert_allclose([h.score for h in hits], [-s for s, _ in expected], rtol=1e-5)
    everything = selection.search_within(source, tiny_embedder, "x", chosen, k=100)
    assert len(everything) == 12 and all(not h.doc_id.startswith("rivers") for h in everything)


def test_summary_counts_words_and_centre(source: Collection) -> None:
    chosen = ids_of(source, "rivers")
    everything = np.concatenate([chosen, ids_of(source, "bees"), ids_of(source, "stars")])
    summary = selection.summarise(source, chosen, everything, words=4, near=3)
    assert summary.chunks == 6 and summary.documents == 6
    assert summary.words and set(summary.words) <= {
        "rivers",
        "carry",
        "water",
        "silt",
        "mountains",
        "sea",
    }
    vectors = source.store.vectors_for(chosen, source.model.dimension)
    centre = vectors.mean(0) / np.linalg.norm(vectors.mean(0))
    best = int(chosen[np.argmax(vectors @ centre)])
    assert len(summary.central) == 3
    assert summary.central[0].doc_id == source.store.chunk_rows([best])[best].doc_id


def test_save_copies_documents_and_vectors(source: Collection, tiny_embedder) -> None:
    chosen = ids_of(source, "stars")[:2]
    assert selection.save_as_collection(source, chosen, "stars-only") == 2
    copy = Collection("stars-only", tiny_embedder.info)
    assert copy.store.counts() == (2, 2)
    _, copied = copy.store.all_vectors(copy.model.dimension)
    original = source.store.vectors_for(chosen, source.model.dimension)
    assert np.array_equal(
        np.sort(copied, axis=0), np.sort(original, axis=0)
    )  # bytes, not re-embedded
    doc = copy.store.documents(10)[0]
    assert doc["doc_id"].startswith("stars") and json.loads(doc["metadata"])["topic"] == "stars"
    assert len(copy.index.search(original[:1], 2)[1][0]) == 2
    with pytest.raises(InputError, match="exists already"):
        selection.save_as_collection(source, chosen, "stars-only")
    with pytest.raises(InputError, match="empty"):
        selection.save_as_collection(source, [], "nothing")


def test_save_copies_whole_documents_and_their_vectors_bit_for_bit(
    tiny_embedder, monkeypatch
) -> None:
    """Vectors no encoder would make (random), so equal bytes mean copied, not recomputed;
    one chunk of a three-chunk document selected: the whole document (its three chunks, with
    their offsets and vectors) is saved, since a collection holds whole documents."""
    from core.documents.chunking import Chunk
    from core.model.embedder import Embedder
    from core.storage.collection import built_encoder

    collection = Collection("random", tiny_embedder.info, create=True)
    docs = [Document(f"d{i}", f"first part {i}. second part. third part.", "t") for i in range(4)]
    chunks = [[Chunk(0, 0, 13, ""), Chunk(1, 14, 26, ""), Chunk(2, 27, 38, "")] for _ in docs]
    chunks = [
        [Chunk(c.ordinal, c.start, c.end, d.text[c.start : c.end]) for c in cs]
        for d, cs in zip(docs, chunks, strict=True)
    ]
    vectors = np.random.default_rng(3).standard_normal((12, tiny_embedder.dimension))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    ids = collection.add_vectors(docs, chunks, vectors)

    def refuse(*args, **kwargs):
        raise AssertionError("an encoder was called")

    for name in ("encode", "encode_bulk", "encode_recent", "encode_query"):
        monkeypatch.setattr(Embedder, name, refuse)
    assert selection.save_as_collection(collection, [ids[4]], "one-doc") == 1  # d1, chunk 2
    copy = Collection("one-doc", tiny_embedder.info)
    rows = copy.store.db.execute(
        "SELECT d.doc_id, d.text, c.ordinal, c.start, c.end, c.text, c.vector FROM chunks c"
        " JOIN documents d ON d.id = c.doc ORDER BY c.ordinal"
    ).fetchall()
    assert [(r[0], r[2], r[3], r[4], r[5]) for r in rows] == [
        ("d1", c.ordinal, c.start, c.end, c.text) for c in chunks[1]
    ]
    assert rows[0][1] == docs[1].text
    assert [r[6] for r in rows] == [vectors[i].tobytes() for i in (3, 4, 5)]
    assert built_encoder("one-doc") == built_encoder("random")
    scores, found = copy.index.search(vectors[4], 1)
    assert found[0][0] >= 0 and scores[0][0] == pytest.approx(1.0, abs=1e-6)
