"""Query -> hits: dense, keyword (BM25) or hybrid search, one hit per document (its best chunk).

Hybrid ranking fuses the dense and the keyword document rankings by a weighted sum of their
min-max normalised scores (equal weights). On SciFact's train claims this beat reciprocal rank
fusion (73.2 vs 71.0 nDCG@10 with k=60; 72.5 at best) and both single rankings (dense 66.9,
BM25 69.3). Each hit records which rankings found it and its score in each.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from core.config import LIMITS
from core.errors import InputError
from core.model.embedder import Embedder
from core.search.bm25 import keyword_search
from core.storage.collection import Collection
from core.storage.store import ChunkRow

MODES = ("hybrid", "dense", "keyword")
DEFAULT_MODE = "hybrid"
FUSION_POOL = 100
DENSE_WEIGHT = 0.5


@dataclass(frozen=True)
class Hit:
    """One matching document, represented by its best chunk."""

    rank: int
    doc_id: str
    score: float
    text: str
    chunk: int
    chunks: int
    start: int
    end: int
    source: str
    title: str
    metadata: dict[str, Any] = field(default_factory=dict)
    found_by: tuple[str, ...] = ("dense",)
    dense_score: float | None = None
    keyword_score: float | None = None


@dataclass(frozen=True)
class SearchResult:
    """Hits for one query and where the time went (milliseconds)."""

    query: str
    hits: list[Hit]
    encode_ms: float
    search_ms: float
    vector: np.ndarray | None = None
    mode: str = "dense"

    @property
    def latency_ms(self) -> float:
        """End-to-end time: encode + search + fetch."""
        return self.encode_ms + self.search_ms


def check_k(k: int) -> int:
    """Return ``k`` if it is a sensible number of results.

    Raises:
        InputError: if it is below 1 or above the limit.
    """
    if not 1 <= int(k) <= LIMITS.max_k:
        raise InputError(f"Ask for between 1 and {LIMITS.max_k} results (got {k}).")
    return int(k)


def search(
    collection: Collection,
    embedder: Embedder,
    query: str,
    k: int = 10,
    where: tuple[str, str] | None = None,
    mode: str = DEFAULT_MODE,
) -> SearchResult:
    """Return the ``k`` best documents for ``query``, optionally filtered.

    Args:
        collection: an open collection built with ``embedder``'s model.
        embedder: the model that embeds the query.
        query: plain words.
        k: how many documents.
        where: optional (metadata field, value) the documents must match.
        mode: "hybrid" (default), "dense" or "keyword".
    """
    k, mode = check_k(k), check_mode(mode)
    started = time.perf_counter()
    vector = embedder.encode_query(query)
    encoded = time.perf_counter()
    hits = search_many(collection, [query], vector[None, :], k, where, mode)[0]
    done = time.perf_counter()
    encode_ms, search_ms = (encoded - started) * 1e3, (done - encoded) * 1e3
    return SearchResult(query, hits, encode_ms, search_ms, vector, mode)


def check_mode(mode: str) -> str:
    """Return ``mode`` if it is a known ranking.

    Raises:
        InputError: for an unknown mode.
    """
    if mode not in MODES:
        raise InputError(f"Unknown search mode '{mode}'; use one of: {', '.join(MODES)}.")
    return mode


def search_many(
    collection: Collection,
    queries: list[str],
    vectors: np.ndarray,
    k: int,
    where: tuple[str, str] | None = None,
    mode: str = DEFAULT_MODE,
) -> list[list[Hit]]:
    """Best ``k`` documents for each query (its text and its vector) under ``mode``."""
    if mode == "dense":
        return search_vectors(collection, vectors, k, where)
    pool = max(k, FUSION_POOL)
    dense = search_vectors(collection, vectors, pool, where) if mode == "hybrid" else None
    allowed = collection.store.chunk_ids_where(*where) if where is not None else None
    results = []
    for number, query in enumerate(queries):
        keyword = keyword_documents(collection, query, k if dense is None else pool, allowed)
        results.append(fuse(dense[number], keyword, k) if dense is not None else keyword)
    return results


def keyword_documents(
    collection: Collection, query: str, k: int, allowed: np.ndarray | None = None
) -> list[Hit]:
    """Best ``k`` documents by BM25 (each at its best chunk)."""
    ids, scores = keyword_search(collection.store, query, k * 3, allowed)
    rows = collection.store.chunk_rows(ids)
    hits = best_per_document(scores, ids, rows, k)
    return [
        replace(h, found_by=("keyword",), keyword_score=h.score, dense_score=None) for h in hits
    ]


def fuse(dense: list[Hit], keyword: list[Hit], k: int) -> list[Hit]:
    """Fuse two document rankings: weighted sum of min-max normalised scores.

    A document missing from one ranking scores 0 there. The dense chunk represents a hit
    found by both (it is the passage closest in meaning).
    """
    dense_norm, keyword_norm = normalise(dense), normalise(keyword)
    scores = {
        doc: DENSE_WEIGHT * dense_norm.get(doc, 0.0)
        + (1 - DENSE_WEIGHT) * keyword_norm.get(doc, 0.0)
        for doc in dense_norm.keys() | keyword_norm.keys()
    }
    by_doc = {h.doc_id: h for h in reversed(keyword)} | {h.doc_id: h for h in reversed(dense)}
    dense_scores = {h.doc_id: h.score for h in dense}
    keyword_scores = {h.doc_id: h.score for h in keyword}
    ranked = sorted(scores, key=lambda d: (-scores[d], d))[:k]
    return [
        replace(
            by_doc[doc],
            rank=rank,
            score=scores[doc],
            found_by=tuple(
                name
                for name, found in (("dense", dense_scores), ("keyword", keyword_scores))
                if doc in found
            ),
            dense_score=dense_scores.get(doc),
            keyword_score=keyword_scores.get(doc),
        )
        for rank, doc in enumerate(ranked, start=1)
    ]


def normalise(hits: list[Hit]) -> dict[str, float]:
    """Scores rescaled to [0, 1] within one ranking (all 1.0 when they are all equal)."""
    if not hits:
        return {}
    low = min(h.score for h in hits)
    span = max(h.score for h in hits) - low
    return {h.doc_id: (h.score - low) / span if span > 0 else 1.0 for h in hits}


def search_vectors(
    collection: Collection,
    vectors: np.ndarray,
    k: int,
    where: tuple[str, str] | None = None,
) -> list[list[Hit]]:
    """Best ``k`` documents for each query vector (q, dimension), one hit per document."""
    collection.refresh()
    allowed = None
    if where is not None:
        allowed = collection.store.chunk_ids_where(*where)
        if len(allowed) == 0:
            return [[] for _ in range(len(vectors))]
    total = len(collection.index) if allowed is None else len(allowed)
    fetch = min(total, max(k * 3, 20))
    results: list[list[Hit]] = [[] for _ in range(len(vectors))]
    pending = list(range(len(vectors)))
    while pending and fetch > 0:
        scores, ids = collection.index.search(vectors[pending], fetch, allowed)
        rows = collection.store.chunk_rows(np.unique(ids[ids >= 0]))
        retry = []
        for query_no, row_scores, row_ids in zip(pending, scores, ids, strict=True):
            results[query_no] = best_per_document(row_scores, row_ids, rows, k)
            if len(results[query_no]) < k and fetch < total:
                retry.append(query_no)
        pending, fetch = retry, min(total, fetch * 4)
    return results


def best_per_document(
    scores: np.ndarray, ids: np.ndarray, rows: dict[int, ChunkRow], k: int
) -> list[Hit]:
    """Collapse ranked chunks into ranked documents (each at its best chunk's score)."""
    hits: list[Hit] = []
    seen: set[str] = set()
    for score, chunk_id in zip(scores, ids, strict=True):
        row = rows.get(int(chunk_id))
        if row is None or row.doc_id in seen:
            continue
        seen.add(row.doc_id)
        hits.append(_hit(len(hits) + 1, float(score), row))
        if len(hits) == k:
            break
    return hits


def _hit(rank: int, score: float, row: ChunkRow) -> Hit:
    return Hit(
        rank=rank,
        doc_id=row.doc_id,
        score=score,
        dense_score=score,
        text=row.text,
        chunk=row.ordinal,
        chunks=row.chunk_count,
        start=row.start,
        end=row.end,
        source=row.source,
        title=row.title,
        metadata=row.metadata,
    )
