"""Query -> hits: dense, keyword (BM25) or hybrid search, one hit per document (its best chunk).

The entry point of search: embeds the query, runs the ranking the mode names
(:mod:`core.search.dense`, :mod:`core.search.bm25`, :mod:`core.search.fusion`) and times it.
"""

from __future__ import annotations

import time

import numpy as np

from core.errors import InputError
from core.model.embedder import Embedder
from core.search.bm25 import keyword_documents
from core.search.dense import search_vectors
from core.search.fusion import FUSION_POOL, fuse
from core.search.hits import Hit, SearchResult, check_k
from core.storage.collection import Collection

MODES = ("hybrid", "dense", "keyword")
DEFAULT_MODE = "hybrid"


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
