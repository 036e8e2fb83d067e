"""The Milvus benchmark's pieces: a copy into Milvus holds what the embedded collection holds,
latency is measured per mode for both stores, and the table has a row per figure."""

from __future__ import annotations

import numpy as np
import pytest

from core.storage.collection import Collection
from measure.milvus_bench import MODES, copy_collection, side_by_side, synthetic, table_rows


def test_a_copy_in_milvus_holds_the_same_chunks_and_vectors(
    tiny_embedder, milvus_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMBEDLAB_MILVUS_URI", milvus_uri)
    source = synthetic(tiny_embedder, 300, ["alpha", "beta", "gamma", "delta"])
    copy = copy_collection(source, "copy")
    assert copy.store.kind == "milvus" and copy.store.counts() == source.store.counts() == (
        300,
        300,
    )
    ids, vectors = source.store.all_vectors(tiny_embedder.dimension)
    copied_ids, copied = copy.store.all_vectors(tiny_embedder.dimension)
    assert np.array_equal(ids, copied_ids) and np.allclose(vectors, copied, atol=1e-7)
    assert copy.store.chunk_texts(ids[:20]) == source.store.chunk_texts(ids[:20])
    again = copy_collection(source, "copy")  # made afresh, not added twice
    assert again.store.counts() == (300, 300)
    texts = ["alpha beta", "gamma"]
    figures = side_by_side(source, Collection("copy", source.model), texts, vectors[:2])
    assert figures["chunks"] == 300
    for store in ("embedded", "milvus"):
        assert set(figures[store]) == {f"{m}_{p}_ms" for m in MODES for p in ("p50", "p95")}
    rows = table_rows({"latency": [{"collection": "synthetic", **figures}]})
    assert len(rows) == len(MODES) and all(r[1] and r[2] and r[3] for r in rows)
