"""Hits: what a search returns, one per document (its best chunk), and how ranked chunks
become ranked documents.

Used by every ranking (:mod:`dense`, :mod:`bm25`, :mod:`fusion`) and by
:mod:`core.search.query`, which picks among them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.config import LIMITS
from core.errors import InputError
from core.storage.store import ChunkRow


@dataclass(frozen=True)
class TermScore:
    """One query word's addend of a chunk's BM25 score, and where it occurs in the chunk."""

    word: str
    score: float
    idf: float
    count: int
    spans: tuple[tuple[int, int], ...]


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
    dense_rank: int | None = None
    keyword_rank: int | None = None
    dense_chunk: int | None = None
    keyword_chunk: int | None = None
    formula: str = ""
    keyword_terms: tuple[TermScore, ...] = ()

    @property
    def score_name(self) -> str:
        """What :attr:`score` is: ``cosine``, ``BM25`` or ``fused``."""
        if len(self.found_by) == 1 and not self.formula:
            return "cosine" if self.found_by == ("dense",) else "BM25"
        return "fused"


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
        hits.append(hit_from_row(len(hits) + 1, float(score), row))
        if len(hits) == k:
            break
    return hits


def hit_from_row(rank: int, score: float, row: ChunkRow) -> Hit:
    """A hit at ``rank`` for one stored chunk, scored ``score`` by the dense ranking."""
    return Hit(
        rank=rank,
        doc_id=row.doc_id,
        score=score,
        dense_score=score,
        dense_rank=rank,
        dense_chunk=row.ordinal,
        text=row.text,
        chunk=row.ordinal,
        chunks=row.chunk_count,
        start=row.start,
        end=row.end,
        source=row.source,
        title=row.title,
        metadata=row.metadata,
    )
