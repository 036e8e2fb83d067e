"""Query -> hits: dense search over a collection, one hit per document (its best chunk)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.collections import Collection
from core.config import LIMITS
from core.embedder import Embedder
from core.errors import InputError
from core.store import ChunkRow


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


@dataclass(frozen=True)
class SearchResult:
    """Hits for one query and where the time went (milliseconds)."""

    query: str
    hits: list[Hit]
    encode_ms: float
    search_ms: float
    vector: np.ndarray | None = None

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
) -> SearchResult:
    """Embed ``query`` and return the ``k`` best documents, optionally filtered.

    Args:
        collection: an open collection built with ``embedder``'s model.
        embedder: the model that embeds the query.
        query: plain words.
        k: how many documents.
        where: optional (metadata field, value) the documents must match.
    """
    k = check_k(k)
    started = time.perf_counter()
    vector = embedder.encode_query(query)
    encoded = time.perf_counter()
    hits = search_vectors(collection, vector[None, :], k, where)[0]
    done = time.perf_counter()
    return SearchResult(query, hits, (encoded - started) * 1e3, (done - encoded) * 1e3, vector)


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
        text=row.text,
        chunk=row.ordinal,
        chunks=row.chunk_count,
        start=row.start,
        end=row.end,
        source=row.source,
        title=row.title,
        metadata=row.metadata,
    )
