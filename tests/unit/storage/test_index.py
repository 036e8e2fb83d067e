"""The index follows the collection's size: exact while small, IVF past the threshold, with
recall@10 against exact search measured whenever the approximate index is chosen."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.storage import index as index_module
from core.storage.collection import Collection
from core.storage.index import VectorIndex, build_ivf, choose_kind, exact_top, recall_at


def clustered(count: int, dimension: int = 48, seed: int = 0) -> np.ndarray:
    """Unit vectors around 40 fixed centres; ``seed`` changes only the points."""
    centres = np.random.default_rng(0).standard_normal((40, dimension))
    rng = np.random.default_rng(seed + 1)
    points = centres[rng.integers(0, 40, count)] + 0.7 * rng.standard_normal((count, dimension))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def test_choose_kind_by_size() -> None:
    assert choose_kind(index_module.APPROX_THRESHOLD - 1) == "flat-ip"
    assert choose_kind(index_module.APPROX_THRESHOLD) == "ivf-flat"


def test_ivf_reaches_target_recall_against_exact_numpy() -> None:
    vectors = clustered(6000)
    ids = np.arange(1000, 7000, dtype=np.int64)
    index = build_ivf(ids, vectors)
    assert index.kind == "ivf-flat"
    assert index.stats.recall_at_10 >= index_module.TARGET_RECALL
    queries = clustered(200, seed=7)  # fresh queries from the same topics, not the tuning ones
    _, found = index.search(queries, 10)
    exact = ids[exact_top(vectors, queries, 10)]
    assert recall_at(found, exact) >= 0.95


def test_ivf_filter_delete_and_roundtrip(tmp_path) -> None:
    vectors = clustered(3000)
    ids = np.arange(3000, dtype=np.int64)
    index = build_ivf(ids, vectors)
    allowed = ids[::3]
    _, found = index.search(vectors[:5], 10, allowed)
    assert set(found[found >= 0].tolist()) <= set(allowed.tolist())
    assert index.remove(ids[:100]) == 100
    _, found = index.search(vectors[:100], 5)
    assert not set(found.ravel().tolist()) & set(range(100))
    index.save(tmp_path / "i.faiss")
    loaded = VectorIndex.load(tmp_path / "i.faiss", 48, index.stats)
    assert loaded.kind == "ivf-flat" and len(loaded) == 2900
    np.testing.assert_array_equal(
        loaded.search(vectors[200:205], 5)[1], index.search(vectors[200:205], 5)[1]
    )


def test_collection_switches_to_ivf_and_records_recall(tiny_embedder, monkeypatch) -> None:
    from core.documents.readers import Document
    from core.ingest.pipeline import ingest_documents

    monkeypatch.setattr(index_module, "APPROX_THRESHOLD", 300)
    words = "river bank money snake apple model fashion learning jump leap hop skip king queen"
    rng = np.random.default_rng(0)
    docs = [
        Document(f"d{i}", " ".join(rng.choice(words.split(), 8)) + f" {i}", "t") for i in range(400)
    ]
    collection = Collection("big", tiny_embedder.info, create=True)
    ingest_documents(collection, tiny_embedder, docs)
    assert collection.index.kind == "ivf-flat"
    manifest = json.loads((collection.path / "manifest.json").read_text())
    assert manifest["index"]["kind"] == "ivf-flat"
    assert manifest["index"]["recall_at_10"] >= index_module.TARGET_RECALL
    reopened = Collection("big", tiny_embedder.info)
    assert reopened.index.kind == "ivf-flat"
    assert reopened.index.stats.nprobe == collection.index.stats.nprobe
    info = reopened.info()
    assert info.index == "ivf-flat" and info.recall_at_10 == pytest.approx(
        manifest["index"]["recall_at_10"]
    )


def test_ivf_is_retuned_after_every_ingest_that_adds(tiny_embedder, monkeypatch) -> None:
    """nprobe and the recall shown are measured on what is stored, not only after 4x growth."""
    from core.documents.readers import Document
    from core.ingest.pipeline import ingest_documents

    monkeypatch.setattr(index_module, "APPROX_THRESHOLD", 300)
    rng = np.random.default_rng(1)
    words = "river bank money snake apple model fashion learning jump leap hop skip".split()

    def docs(start: int, count: int) -> list[Document]:
        return [
            Document(f"d{i}", " ".join(rng.choice(words, 8)) + f" {i}", "t")
            for i in range(start, start + count)
        ]

    collection = Collection("grow", tiny_embedder.info, create=True)
    ingest_documents(collection, tiny_embedder, docs(0, 400))
    assert collection.index.stats.measured_on == 400
    ingest_documents(collection, tiny_embedder, docs(400, 300))  # grows 1.75x: no rebuild
    stats = collection.index.stats
    assert stats.kind == "ivf-flat" and stats.trained_on == 400
    assert stats.measured_on == len(collection.index) == 700
    assert stats.recall_at_10 >= index_module.TARGET_RECALL
    assert collection.index._index.nprobe == stats.nprobe
    reopened = Collection("grow", tiny_embedder.info)
    assert reopened.index.stats == stats
    assert reopened.info().recall_at_10 == pytest.approx(stats.recall_at_10)
