"""The Ray workers' code without Ray: rows carry documents, chunks and vectors unchanged,
and the encoding actor gives what the single-process pipeline's chunking and model give."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.documents.readers import Document, FieldSpec
from core.errors import ModelNotFoundError
from core.ingest import ray_workers
from core.ingest.pipeline import chunk_for


def test_documents_cross_as_json_unchanged() -> None:
    docs = [
        Document("a", "Bees \u00e9 honey.", "x.jsonl", "T", {"n": 3, "tags": ["a", "b"], "f": 0.5}),
        Document("b (2)", "Line\nbreak \U0001f41d", "y.md", "", {}),
    ]
    assert ray_workers.documents_from_json(ray_workers.documents_to_json(docs)) == docs


def test_a_file_row_holds_its_documents_or_its_problem(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.md", tmp_path / "bad.txt"
    good.write_text("Owls hunt at night.")
    bad.write_bytes(b"\x00\x01 binary")
    rows = [
        ray_workers.read_file_row({"file": i, "path": str(p), "name": p.name}, FieldSpec())
        for i, p in enumerate((good, bad))
    ]
    assert [r["file"] for r in rows] == [0, 1]
    docs = ray_workers.documents_from_json(rows[0]["documents"])
    assert [(d.doc_id, d.text) for d in docs] == [("good.md", "Owls hunt at night.")]
    assert rows[0]["problem"] == ""
    assert ray_workers.documents_from_json(rows[1]["documents"]) == []
    assert rows[1]["problem"].startswith("This looks like a binary file")


def test_the_encoding_actor_gives_the_pipelines_chunks_and_vectors(tiny_embedder) -> None:
    texts = ["Short one.", " ".join(f"word{i}" for i in range(400)), "Another short text."]
    actor = ray_workers.ChunkEncoder(
        tiny_embedder.name, tiny_embedder.encoder, tiny_embedder.fingerprint
    )
    out = actor({"i": np.array([5, 6, 7]), "text": np.array(texts, dtype=object)})
    expected = chunk_for(tiny_embedder, texts)
    chunks = [ray_workers.chunks_from_json(c) for c in out["chunks"]]
    assert out["i"].tolist() == [5, 6, 7]
    assert chunks == expected and len(chunks[1]) > 1
    flat = [c.text for doc in expected for c in doc]
    dim = tiny_embedder.dimension
    got = np.concatenate([ray_workers.vectors_from_bytes(v, dim) for v in out["vectors"]])
    assert got.shape == (len(flat), dim)
    assert np.abs(got - tiny_embedder.encode(flat)).max() <= 1e-5


def test_an_actor_with_other_weights_refuses_to_encode(tiny_embedder) -> None:
    with pytest.raises(ModelNotFoundError, match="other weights"):
        ray_workers.ChunkEncoder(tiny_embedder.name, tiny_embedder.encoder, "0" * 16)
