"""Keyword ranking: BM25 over chunk text with SQLite FTS5 (Porter stemming, no diacritics),
then one hit per document."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from core.search.hits import Hit, best_per_document
from core.storage.collection import Collection
from core.storage.store import Store

WORD_RE = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset(
    "a about an and are as at be been but by can could did do does for from had has have how "
    "i if in into is it its may more most no not of on or our than that the their them then "
    "there these they this those to was we were what when where which while who why will with "
    "would you your".split()
)
MAX_TERMS = 64


def fts_query(text: str) -> str:
    """An FTS5 MATCH expression: the query's content words, each quoted, joined by OR.

    Quoting makes every word a plain term, so user text can never be FTS5 syntax.
    """
    words = [w.lower() for w in WORD_RE.findall(text)]
    terms = list(dict.fromkeys(w for w in words if w not in STOPWORDS))[:MAX_TERMS]
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def keyword_search(
    store: Store, query: str, limit: int, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return (chunk ids, BM25 scores), best first; higher scores are better.

    Args:
        store: the collection's store.
        query: plain words.
        limit: the most chunks to return.
        allowed: optional chunk ids to restrict to (a metadata filter).
    """
    expression = fts_query(query)
    if not expression:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    fetch = limit if allowed is None else limit * 4
    rows = store.db.execute(
        "SELECT rowid, -bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ?"
        " ORDER BY bm25(chunks_fts) LIMIT ?",
        (expression, fetch),
    ).fetchall()
    if allowed is not None:
        keep = set(allowed.tolist())
        rows = [r for r in rows if r[0] in keep]
    rows = rows[:limit]
    ids = np.asarray([r[0] for r in rows], dtype=np.int64)
    return ids, np.asarray([r[1] for r in rows], dtype=np.float32)


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
