"""Search restricted to a selection of documents (``within``), checked against brute force:
BM25 recomputed from the FTS5 token counts and exact numpy cosine, over the selected documents
only; keyword, dense and hybrid rankings, alone and with a metadata filter."""

from __future__ import annotations

import random

import numpy as np
import pytest

from core.search.bm25 import keyword_documents
from core.search.dense import search_vectors
from core.search.query import search_many
from core.storage.collection import Collection
from tests.contract.test_keyword_contract import QUERIES, Oracle, add, assert_same


@pytest.fixture(scope="module")
def corpus(tiny_embedder, tmp_path_factory):
    """600 documents of 1-12 chunks (about 3,000 chunks), topics x/y/z."""
    rnd = random.Random(11)
    vocabulary = [f"w{i}" for i in range(40)]
    weights = [1 / (i + 1) for i in range(40)]
    docs = []
    for i in range(600):
        chunks = [
            " ".join(rnd.choices(vocabulary, weights, k=rnd.randint(3, 60)))
            for _ in range(rnd.choice([1, 1, 1, 2, 3, 12]))
        ]
        docs.append((f"d{i}", chunks, {"topic": "xyz"[i % 3]}))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMBEDLAB_DATA_DIR", str(tmp_path_factory.mktemp("within")))
        collection = Collection("within", tiny_embedder.info, create=True)
        add(collection, docs, seed=4)
    return collection, Oracle(collection)


def selection(collection: Collection, size: int, seed: int) -> tuple[np.ndarray, set[str]]:
    """``size`` random documents: their row ids and their names."""
    rows = collection.store.db.execute("SELECT id, doc_id FROM documents ORDER BY id").fetchall()
    picked = random.Random(seed).sample(rows, size)
    return np.sort([r[0] for r in picked]), {r[1] for r in picked}


def exact_dense(oracle: Oracle, vector: np.ndarray, names: set[str], k: int) -> list[str]:
    """Exact best ``k`` selected documents by their best chunk's cosine (numpy)."""
    best: dict[str, float] = {}
    for chunk_id, doc in oracle.doc.items():
        if doc in names:
            best[doc] = max(float(oracle.vector[chunk_id] @ vector), best.get(doc, -2.0))
    return sorted(best, key=lambda d: -best[d])[:k]


@pytest.mark.parametrize("size", [1, 25, 400])
@pytest.mark.parametrize("k", [1, 10, 100])
def test_keyword_within_matches_brute_force(corpus, size: int, k: int) -> None:
    collection, oracle = corpus
    rows, names = selection(collection, size, seed=size)
    for words in QUERIES:
        found = keyword_documents(collection, " ".join(words), k, within=rows)
        expected = [(d, s) for d, s in oracle.top(words, 10_000) if d in names][:k]
        assert_same(found, expected)


@pytest.mark.parametrize("size", [1, 25, 400])
@pytest.mark.parametrize("where", [None, ("topic", "y")])
def test_dense_within_matches_exact_search(corpus, size: int, where) -> None:
    collection, oracle = corpus
    rows, names = selection(collection, size, seed=size + 1)
    if where is not None:
        names = {d for d in names if oracle.meta[d]["topic"] == where[1]}
    queries = np.random.default_rng(size).standard_normal((10, collection.model.dimension))
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    results = search_vectors(collection, queries, 10, where, rows)
    for query, hits in zip(queries, results, strict=True):
        assert [h.doc_id for h in hits] == exact_dense(oracle, query, names, 10)


@pytest.mark.parametrize("size", [3, 400])
def test_hybrid_within_returns_only_selected_documents(corpus, size: int) -> None:
    collection, oracle = corpus
    rows, names = selection(collection, size, seed=size + 2)
    vector = np.random.default_rng(5).standard_normal(collection.model.dimension)
    vector = (vector / np.linalg.norm(vector)).astype(np.float32)
    for words in QUERIES:
        [hits] = search_many(
            collection, [" ".join(words)], vector[None, :], 30, None, "hybrid", within=rows
        )
        assert len(hits) == min(30, size)
        assert {h.doc_id for h in hits} <= names
        for hit in hits:
            chunks = [c for c, d in oracle.doc.items() if d == hit.doc_id]
            cosine = max(float(oracle.vector[c] @ vector) for c in chunks)
            assert hit.dense_score == pytest.approx(cosine, abs=1e-5)


def test_empty_selection_finds_nothing(corpus) -> None:
    collection, _ = corpus
    none = np.zeros(0, dtype=np.int64)
    query = np.ones((1, collection.model.dimension), dtype=np.float32)
    assert search_vectors(collection, query, 5, None, none) == [[]]
    assert keyword_documents(collection, "w0", 5, within=none) == []
