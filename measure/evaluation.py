"""Evaluation helpers: data loaders, retrieval/STS metrics and plain baselines.

Everything here is pure and importable without a UI (this module never imports streamlit).
The evaluation sets live outside the repository (see ``default_eval_dir``) and are only read,
never copied into the project.

Metric definitions follow pytrec_eval / BEIR:

* ``ndcg_at_k``: ``ndcg_cut_k`` with linear gains (the graded relevance as-is) and the ideal DCG
  computed from the qrels.
* ``recall_at_k``: ``recall_k``, a document counts as relevant when its qrels score is > 0.
* ``mrr_at_k``: BEIR's MRR@k, reciprocal rank of the first relevant (score > 0) document.

Every metric is averaged over the queries in ``qrels``; a query missing from the run scores 0.
Ties in a run are broken by descending score, then by doc id ascending (trec_eval breaks them by
doc id descending; that exact behaviour is not reproduced).
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from core import config

logger = logging.getLogger(__name__)

Run = dict[str, dict[str, float]]
Qrels = dict[str, dict[str, int]]

_STSB_MIN_COLUMNS = 7


def default_eval_dir() -> Path:
    """The folder holding the shared evaluation data (``config.eval_dir``)."""
    return config.eval_dir()


# --------------------------------------------------------------------------- loaders


@dataclass(frozen=True)
class BeirData:
    """A BEIR-format retrieval data set.

    Attributes:
        corpus: doc id -> ``{"title": str, "text": str}``.
        queries: query id -> query text (only queries that have qrels).
        qrels: query id -> {doc id -> graded relevance}.
    """

    corpus: dict[str, dict[str, str]]
    queries: dict[str, str]
    qrels: Qrels


def _read_jsonl(path: Path) -> list[dict]:
    """Read a JSON-lines file, skipping blank lines."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _read_qrels(path: Path) -> Qrels:
    """Read a BEIR qrels tsv (header ``query-id corpus-id score``)."""
    qrels: Qrels = {}
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        for row_number, row in enumerate(reader):
            if not row or (row_number == 0 and row[0] == "query-id"):
                continue
            qid, docid, score = row[0], row[1], row[2]
            qrels.setdefault(str(qid), {})[str(docid)] = int(float(score))
    return qrels


def load_beir(folder: Path, split: str = "train") -> BeirData:
    """Load a BEIR data set (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``).

    Args:
        folder: The data set folder.
        split: Which qrels file to read.

    Returns:
        The corpus, the queries that have qrels, and those qrels. Qrels for query ids absent
        from ``queries.jsonl`` are dropped with a warning, so ``queries`` and ``qrels`` share
        the same keys.
    """
    folder = Path(folder)
    corpus = {
        str(doc["_id"]): {"title": doc.get("title") or "", "text": doc.get("text") or ""}
        for doc in _read_jsonl(folder / "corpus.jsonl")
    }
    all_queries = {str(q["_id"]): q["text"] for q in _read_jsonl(folder / "queries.jsonl")}
    qrels = _read_qrels(folder / "qrels" / f"{split}.tsv")
    unknown = sorted(set(qrels) - set(all_queries))
    if unknown:
        logger.warning("Dropping qrels of %d unknown query ids: %s", len(unknown), unknown[:5])
        qrels = {qid: rels for qid, rels in qrels.items() if qid in all_queries}
    queries = {qid: all_queries[qid] for qid in qrels}
    logger.info("Loaded %s: %d docs, %d queries", folder, len(corpus), len(queries))
    return BeirData(corpus=corpus, queries=queries, qrels=qrels)


def load_stsb(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """Load an STS Benchmark file (tab-separated, no quoting).

    Columns are genre, file, year, id, score, sentence1, sentence2; some lines may carry extra
    trailing columns, which are ignored.

    Args:
        path: The ``sts-*.csv`` file.

    Returns:
        ``(sentences1, sentences2, gold_scores)`` with scores as a float array (0-5).

    Raises:
        ValueError: If a non-blank line has fewer than seven columns.
    """
    s1: list[str] = []
    s2: list[str] = []
    scores: list[float] = []
    with Path(path).open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        for line_number, row in enumerate(reader, start=1):
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) < _STSB_MIN_COLUMNS:
                raise ValueError(f"{path}:{line_number}: expected >= 7 columns, got {len(row)}")
            scores.append(float(row[4]))
            s1.append(row[5])
            s2.append(row[6])
    return s1, s2, np.asarray(scores, dtype=np.float64)


# --------------------------------------------------------------------------- metrics


def _ranked_ids(hits: Mapping[str, float], k: int) -> list[str]:
    """Return the top-``k`` doc ids by descending score, ties by doc id ascending."""
    ordered = sorted(hits.items(), key=lambda item: (-float(item[1]), str(item[0])))
    return [docid for docid, _ in ordered[:k]]


def _dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain with linear gains and a log2(rank + 1) discount."""
    return sum(gain / math.log2(rank + 2) for rank, gain in enumerate(gains))


def _check_k(k: int) -> None:
    """Reject a non-positive cut-off."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")


def _mean(values: list[float]) -> float:
    """Mean of a list, 0.0 when empty."""
    return float(sum(values) / len(values)) if values else 0.0


def ndcg_at_k(run: Mapping[str, Mapping[str, float]], qrels: Qrels, k: int = 10) -> float:
    """Mean nDCG@k over the queries in ``qrels`` (pytrec_eval ``ndcg_cut``).

    Gains are the graded relevance as-is (linear, negative grades count as 0); the ideal DCG
    uses the best ``k`` grades in the qrels. A query missing from the run, or without any
    positive judgment, scores 0. Ties in the run are broken by descending score, then by
    doc id ascending.

    Args:
        run: query id -> {doc id -> score}.
        qrels: query id -> {doc id -> graded relevance}.
        k: The rank cut-off.

    Returns:
        The mean nDCG@k in [0, 1].
    """
    _check_k(k)
    per_query = []
    for qid, rels in qrels.items():
        ideal = _dcg(sorted((max(g, 0) for g in rels.values()), reverse=True)[:k])
        ranked = _ranked_ids(run.get(qid, {}), k)
        dcg = _dcg([max(rels.get(docid, 0), 0) for docid in ranked])
        per_query.append(dcg / ideal if ideal > 0 else 0.0)
    return _mean(per_query)


def recall_at_k(run: Mapping[str, Mapping[str, float]], qrels: Qrels, k: int = 100) -> float:
    """Mean Recall@k over the queries in ``qrels`` (pytrec_eval ``recall``).

    A document is relevant when its qrels score is > 0. A query with no relevant document,
    or missing from the run, scores 0.

    Args:
        run: query id -> {doc id -> score}.
        qrels: query id -> {doc id -> graded relevance}.
        k: The rank cut-off.

    Returns:
        The mean fraction of relevant documents found in the top ``k``.
    """
    _check_k(k)
    per_query = []
    for qid, rels in qrels.items():
        relevant = {docid for docid, grade in rels.items() if grade > 0}
        found = relevant.intersection(_ranked_ids(run.get(qid, {}), k))
        per_query.append(len(found) / len(relevant) if relevant else 0.0)
    return _mean(per_query)


def mrr_at_k(run: Mapping[str, Mapping[str, float]], qrels: Qrels, k: int = 10) -> float:
    """Mean reciprocal rank of the first relevant document within the top ``k`` (BEIR MRR@k).

    A document is relevant when its qrels score is > 0. A query with no relevant document in
    its top ``k``, or missing from the run, scores 0.

    Args:
        run: query id -> {doc id -> score}.
        qrels: query id -> {doc id -> graded relevance}.
        k: The rank cut-off.

    Returns:
        The mean reciprocal rank in [0, 1].
    """
    _check_k(k)
    per_query = []
    for qid, rels in qrels.items():
        reciprocal = 0.0
        for rank, docid in enumerate(_ranked_ids(run.get(qid, {}), k), start=1):
            if rels.get(docid, 0) > 0:
                reciprocal = 1.0 / rank
                break
        per_query.append(reciprocal)
    return _mean(per_query)


def spearman(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Spearman rank correlation of two equal-length sequences (ties get average ranks).

    Args:
        a: First sequence.
        b: Second sequence.

    Returns:
        The correlation in [-1, 1].

    Raises:
        ValueError: If the lengths differ or fewer than two values are given.
    """
    a_arr = np.asarray(a, dtype=np.float64)
    b_arr = np.asarray(b, dtype=np.float64)
    if a_arr.shape != b_arr.shape or a_arr.ndim != 1 or a_arr.size < 2:
        raise ValueError(f"need two 1-D sequences of equal length >= 2, got {a_arr.shape}")
    return float(stats.spearmanr(a_arr, b_arr).statistic)


# --------------------------------------------------------------------------- run file IO


def read_run_jsonl(path: Path) -> Run:
    """Read a run file of ``{"query_id": ..., "hits": [{"doc_id", "score", ...}]}`` lines.

    Ids are converted to strings. If a doc id repeats within a query, its best score is kept.

    Args:
        path: The JSON-lines run file.

    Returns:
        query id -> {doc id -> score}.
    """
    run: Run = {}
    for record in _read_jsonl(Path(path)):
        hits = run.setdefault(str(record["query_id"]), {})
        for hit in record.get("hits", []):
            docid, score = str(hit["doc_id"]), float(hit["score"])
            hits[docid] = max(score, hits.get(docid, -math.inf))
    return run


def write_queries_jsonl(queries: Mapping[str, str], path: Path) -> None:
    """Write queries as ``{"_id": ..., "text": ...}`` JSON lines (UTF-8).

    Args:
        queries: query id -> query text.
        path: Destination file; parent folders are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for qid, text in queries.items():
            handle.write(json.dumps({"_id": str(qid), "text": text}, ensure_ascii=False) + "\n")


# --------------------------------------------------------------------------- baselines


def doc_text(doc: Mapping[str, str]) -> str:
    """Return the text embedded for a BEIR document: ``title + " " + text``, stripped."""
    return f"{doc.get('title') or ''} {doc.get('text') or ''}".strip()


def top_k_from_scores(scores: np.ndarray, doc_ids: Sequence[str], k: int) -> list[dict[str, float]]:
    """Select the ``k`` best documents per row of a query x document score matrix.

    Args:
        scores: Array of shape (n_queries, n_docs).
        doc_ids: The doc id of each column.
        k: How many documents to keep per query (capped at ``n_docs``).

    Returns:
        One {doc id -> score} dict per row, in descending score order.
    """
    k = min(k, scores.shape[1])
    if k <= 0:
        return [{} for _ in range(scores.shape[0])]
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    results = []
    for row, cols in zip(scores, top, strict=True):
        cols = cols[np.argsort(-row[cols], kind="stable")]
        results.append({doc_ids[c]: float(row[c]) for c in cols})
    return results


def _load_sentence_transformer(model_path: str):
    """Load a SentenceTransformer on CPU without touching the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer  # heavy: import lazily

    return SentenceTransformer(model_path, device="cpu")


def baseline_dense_run(
    model_path: str,
    corpus: Mapping[str, Mapping[str, str]],
    queries: Mapping[str, str],
    k: int = 100,
    batch_size: int = 32,
) -> Run:
    """Exact dense retrieval with plain sentence-transformers (the reference baseline).

    Documents are embedded as ``title + " " + text`` (stripped), queries as-is, both with
    ``normalize_embeddings=True``; similarity is the cosine (dot product) via numpy matmul.

    Args:
        model_path: A SentenceTransformer model folder or name.
        corpus: doc id -> {"title", "text"}.
        queries: query id -> text.
        k: Hits kept per query.
        batch_size: Encoding batch size.

    Returns:
        query id -> {doc id -> cosine score} with the top ``k`` documents.
    """
    model = _load_sentence_transformer(model_path)
    doc_ids = list(corpus)
    query_ids = list(queries)
    encode_kwargs = {"batch_size": batch_size, "normalize_embeddings": True}
    logger.info("Encoding %d documents and %d queries", len(doc_ids), len(query_ids))
    doc_emb = model.encode(
        [doc_text(corpus[d]) for d in doc_ids], convert_to_numpy=True, **encode_kwargs
    )
    query_emb = model.encode(
        [queries[q] for q in query_ids], convert_to_numpy=True, **encode_kwargs
    )
    run: Run = {}
    block = 1024  # bound the score matrix memory on large query sets
    for start in range(0, len(query_ids), block):
        scores = query_emb[start : start + block] @ doc_emb.T
        hits = top_k_from_scores(scores, doc_ids, k)
        run.update(zip(query_ids[start : start + block], hits, strict=True))
    return run


def stsb_spearman(
    embed: Callable[[list[str]], np.ndarray],
    s1: Sequence[str],
    s2: Sequence[str],
    scores: Sequence[float] | np.ndarray,
) -> float:
    """Spearman correlation (x100) between pair cosine similarities and gold STS scores.

    Args:
        embed: Maps a list of texts to L2-normalised row vectors.
        s1: First sentence of each pair.
        s2: Second sentence of each pair.
        scores: Gold similarity of each pair.

    Returns:
        100 times the Spearman correlation.
    """
    emb1 = np.asarray(embed(list(s1)), dtype=np.float64)
    emb2 = np.asarray(embed(list(s2)), dtype=np.float64)
    cosine = np.sum(emb1 * emb2, axis=1)
    return 100.0 * spearman(cosine, scores)
