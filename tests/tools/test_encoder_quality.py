"""measure.encoder_quality: int8 and fp32 scored side by side on the same data, in one run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import InputError
from measure import encoder_quality
from measure.bench import ingest_scifact

DOCS = {
    "d1": ("Penguins", "Penguins huddle together in the Antarctic winter."),
    "d2": ("Rates", "Interest rates rose again this quarter."),
    "d3": ("Bees", "Bees pollinate flowers in spring."),
    "d4": ("Krill", "Krill swarm in cold southern seas."),
}
CLAIMS = {"q1": ("penguins huddle in winter", "d1"), "q2": ("bees and flowers", "d3")}


def _write_eval_dir(root: Path) -> Path:
    """A SciFact-shaped BEIR folder and an STS-B dev file, a few lines each."""
    scifact = root / "scifact"
    (scifact / "qrels").mkdir(parents=True)
    corpus = [{"_id": i, "title": t, "text": x} for i, (t, x) in DOCS.items()]
    (scifact / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus))
    queries = [{"_id": q, "text": text} for q, (text, _) in CLAIMS.items()]
    (scifact / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    qrels = ["query-id\tcorpus-id\tscore", *(f"{q}\t{d}\t1" for q, (_, d) in CLAIMS.items())]
    (scifact / "qrels" / "train.tsv").write_text("\n".join(qrels) + "\n")
    (root / "stsb").mkdir()
    pairs = [("A cat sits.", "A cat is sitting.", 4.8), ("A dog runs.", "Stocks fell.", 0.2)]
    pairs += [("Kids play.", "Children are playing.", 4.5), ("Rain falls.", "It rains.", 4.0)]
    rows = [f"g\tf\t2012\t{i:04d}\t{s}\t{a}\t{b}" for i, (a, b, s) in enumerate(pairs)]
    (root / "stsb" / "sts-dev.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture
def tiny_eval(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EMBEDLAB_MODEL", str(tiny_model_dir))
    monkeypatch.setenv("EMBEDLAB_EVAL_DIR", str(_write_eval_dir(tmp_path / "eval")))
    return tmp_path / "eval"


def test_both_encoders_are_ingested_searched_and_scored(tiny_eval: Path) -> None:
    figures = encoder_quality.compare_encoders()
    for key in ("int8", "fp32"):
        assert figures[f"{key}_collection_reused"] is False
        assert f"{key}_ingest_seconds" in figures  # ingested in this run
        for mode in encoder_quality.MODES:
            assert 0 <= figures[f"{key}_{mode}_ndcg@10"] <= 100
        assert -100 <= figures[f"{key}_stsb_spearman"] <= 100
    # keyword search does not depend on the encoder: the same ranking, the same score
    assert figures["int8_keyword_ndcg@10"] == figures["fp32_keyword_ndcg@10"]
    assert figures["int8_minus_fp32_keyword_ndcg@10"] == 0
    delta = figures["int8_dense_ndcg@10"] - figures["fp32_dense_ndcg@10"]
    assert figures["int8_minus_fp32_dense_ndcg@10"] == pytest.approx(delta, abs=0.01)
    table = encoder_quality.format_table(figures)
    assert table.count("\n") == 5 and "STS-B dev" in table


def test_a_reused_collection_scores_as_a_fresh_one(
    tiny_eval: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMBEDLAB_ENCODER", "torch")
    ingest_scifact(tiny_eval / "scifact", "prebuilt")
    reused = encoder_quality.compare_encoders({"torch": "prebuilt"})
    fresh = encoder_quality.compare_encoders()
    assert reused["fp32_collection_reused"] is True and "fp32_ingest_seconds" not in reused
    for mode in encoder_quality.MODES:
        assert reused[f"fp32_{mode}_ndcg@10"] == fresh[f"fp32_{mode}_ndcg@10"]


def test_a_partial_collection_is_refused(tiny_eval: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.cli import main

    monkeypatch.setenv("EMBEDLAB_ENCODER", "torch")
    ingest_scifact(tiny_eval / "scifact", "prebuilt")
    assert main(["delete", "prebuilt", "--documents", "d4"]) == 0
    with pytest.raises(InputError, match="holds 3 of SciFact's 4 documents"):
        encoder_quality.compare_encoders({"torch": "prebuilt"})
    with pytest.raises(InputError, match="holds None"):
        encoder_quality.compare_encoders({"onnx-int8": "never-built"})


def test_verdict_holds_only_when_every_figure_is_within_the_bar() -> None:
    base = {f"{k}_{m}_ndcg@10": 60.0 for k in ("int8", "fp32") for m in encoder_quality.MODES}
    base |= {"int8_stsb_spearman": 86.2, "fp32_stsb_spearman": 86.7}
    assert encoder_quality.verdict(base)["within_bar"] is True
    assert encoder_quality.verdict({**base, "int8_hybrid_ndcg@10": 59.4})["within_bar"] is False
    assert encoder_quality.verdict({**base, "int8_stsb_spearman": 86.1})["within_bar"] is False
    assert encoder_quality.verdict({**base, "int8_dense_ndcg@10": 60.5})["within_bar"] is True
