"""Filtered dense search on an IVF index, checked against exact numpy search over the
allowed chunks: a filter keeping a handful of documents must still return ``k`` of them, the
right ones; a broad filter must keep recall@10 of at least 0.98."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.documents.chunking import Chunk
from core.documents.readers import Document
from core.search.dense import search_vectors
from core.storage.collection import Collection
from core.storage.index import VectorIndex

COUNT = 20_000


def clustered(count: int, dimension: int, seed: int) -> np.ndarray:
    """Unit vectors around 200 fixed centres (the same for every seed)."""
    centres = np.random.default_rng(0).standard_normal((200, dimension))
    rng = np.random.default_rng(seed)
    points = centres[rng.integers(0, 200, count)] + 0.6 * rng.standard_normal((count, dimension))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def group_of(i: int) -> dict:
    """Metadata: ``few`` marks 30 documents, ``p10``/``p1``/``p01`` 10%, 1%, 0.1% of them."""
    return {
        "few": "yes" if i % 661 == 5 and i < 661 * 30 else "no",
        "p10": str(i % 10 == 3),
        "p1": str(i % 100 == 42),
        "p01": str(i % 1000 == 999),
    }


@pytest.fixture(scope="module")
def ivf(tiny_embedder, tmp_path_factory):
    """20,000 one-chunk documents in a collection whose index is forced to IVF."""
    dimension = tiny_embedder.dimension
    vectors = clustered(COUNT, dimension, seed=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMBEDLAB_DATA_DIR", str(tmp_path_factory.mktemp("ivf")))
        collection = Collection("ivf", tiny_embedder.info, create=True)
        docs = [
            Document(f"v{i}", f"vector {i}", "test", metadata=group_of(i)) for i in range(COUNT)
        ]
        chunks = [[Chunk(0, 0, len(d.text), d.text)] for d in docs]
        ids = collection.store.add(docs, chunks, vectors)
        collection.index = VectorIndex.build(ids, vectors, kind="ivf-flat")
        collection.save_index()  # current for this generation: search keeps this index
    assert collection.index.kind == "ivf-flat"
    assert collection.index.stats.nprobe < collection.index._index.nlist / 8
    return collection, vectors


def exact(vectors: np.ndarray, mask: np.ndarray, query: np.ndarray, k: int) -> list[str]:
    """Exact top ``k`` document ids among the allowed vectors (numpy)."""
    allowed = np.flatnonzero(mask)
    scores = vectors[allowed] @ query
    return [f"v{allowed[j]}" for j in np.argsort(-scores, kind="stable")[:k]]


FILTERS = [("few", "yes", 30), ("p01", "True", 20), ("p1", "True", 200), ("p10", "True", 2000)]


@pytest.mark.parametrize(("field", "value", "size"), FILTERS)
def test_filtered_ivf_search_matches_exact_search(ivf, field: str, value: str, size: int) -> None:
    collection, vectors = ivf
    mask = np.array([group_of(i)[field] == value for i in range(COUNT)])
    assert mask.sum() == size
    queries = clustered(50, vectors.shape[1], seed=9)
    results = search_vectors(collection, queries, 10, (field, value))
    assert collection.index.kind == "ivf-flat"
    found = 0
    for query, hits in zip(queries, results, strict=True):
        assert len(hits) == 10
        assert all(h.metadata[field] == value for h in hits)
        expected = exact(vectors, mask, query, 10)
        found += len({h.doc_id for h in hits} & set(expected))
        if size <= 200:  # few enough that every list is probed: exact
            assert [h.doc_id for h in hits] == expected
    assert found / (10 * len(queries)) >= 0.98


def test_unfiltered_ivf_search_keeps_its_recall(ivf) -> None:
    collection, vectors = ivf
    queries = clustered(50, vectors.shape[1], seed=10)
    results = search_vectors(collection, queries, 10)
    everything = np.ones(COUNT, bool)
    found = sum(
        len({h.doc_id for h in hits} & set(exact(vectors, everything, q, 10)))
        for q, hits in zip(queries, results, strict=True)
    )
    assert found / 500 >= 0.95


@pytest.mark.parametrize("size", [30, 2000])
def test_search_within_a_selection_on_ivf_matches_exact_search(ivf, size: int) -> None:
    """A selection of documents (row ids) on the 20,000-chunk IVF index: exact for a few,
    recall@10 of at least 0.98 for 2,000."""
    collection, vectors = ivf
    positions = np.sort(np.random.default_rng(size).choice(COUNT, size, replace=False))
    names = [f"v{i}" for i in positions]
    rows = collection.store.db.execute(
        "SELECT id FROM documents WHERE doc_id IN (SELECT value FROM json_each(?)) ORDER BY id",
        (json.dumps(names),),
    ).fetchall()
    mask = np.zeros(COUNT, bool)
    mask[positions] = True
    queries = clustered(50, vectors.shape[1], seed=11)
    results = search_vectors(collection, queries, 10, None, np.asarray([r[0] for r in rows]))
    found = 0
    for query, hits in zip(queries, results, strict=True):
        assert len(hits) == 10 and {h.doc_id for h in hits} <= set(names)
        expected = exact(vectors, mask, query, 10)
        found += len({h.doc_id for h in hits} & set(expected))
        if size <= 200:
            assert [h.doc_id for h in hits] == expected
    assert found / (10 * len(queries)) >= 0.98
