"""Query -> hits: dense, keyword (BM25) or hybrid search, one hit per document (its best chunk).

The entry point of search: embeds the query, runs the ranking the mode names
(:mod:`core.search.dense`, :mod:`core.search.bm25`, :mod:`core.search.fusion`) and times it.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from core.errors import InputError
from core.model.embedder import Embedder
from core.search.bm25 import Term, keyword_documents, query_terms, term_scores
from core.search.dense import search_vectors
from core.search.fusion import DEFAULT_WEIGHT, FUSION_POOL, candidates, fuse
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
    weight: float = DEFAULT_WEIGHT,
    within: np.ndarray | None = None,
) -> SearchResult:
    """Return the ``k`` best documents for ``query``, optionally filtered.

    Args:
        collection: an open collection built with ``embedder``'s model.
        embedder: the model that embeds the query.
        query: plain words.
        k: how many documents.
        where: optional (metadata field, value) the documents must match.
        mode: "hybrid" (default), "dense" or "keyword".
        weight: in hybrid mode, the weight of meaning (cosine) against keywords (BM25), 0-1.
        within: optional row ids of the documents to search among (a selection; see
            :mod:`core.storage.selections`).
    """
    k, mode, weight = check_k(k), check_mode(mode), check_weight(weight)
    started = time.perf_counter()
    vector = embedder.encode_query(query)
    encoded = time.perf_counter()
    hits = search_many(collection, [query], vector[None, :], k, where, mode, weight, within)[0]
    if mode != "dense":
        terms = query_terms(collection.store, query)
        hits = [with_term_scores(collection, query, hit, terms) for hit in hits]
    done = time.perf_counter()
    encode_ms, search_ms = (encoded - started) * 1e3, (done - encoded) * 1e3
    return SearchResult(query, hits, encode_ms, search_ms, vector, mode)


def with_term_scores(collection: Collection, query: str, hit: Hit, terms: list[Term]) -> Hit:
    """``hit`` with its BM25 score split by query word (for a hit with a BM25 chunk)."""
    if not hit.keyword_score or hit.keyword_chunk is None:
        return hit
    parts = term_scores(collection.store, query, hit.doc_id, hit.keyword_chunk, terms)
    return replace(hit, keyword_terms=parts)


def check_mode(mode: str) -> str:
    """Return ``mode`` if it is a known ranking.

    Raises:
        InputError: for an unknown mode.
    """
    if mode not in MODES:
        raise InputError(f"Unknown search mode '{mode}'; use one of: {', '.join(MODES)}.")
    return mode


def check_weight(weight: float) -> float:
    """Return ``weight`` if it is a number from 0 (keywords only) to 1 (meaning only).

    Raises:
        InputError: otherwise.
    """
    try:
        value = float(weight)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise InputError(
            f"The weight of meaning is a number from 0 (keywords only) to 1 (meaning only); "
            f"got {weight}."
        )
    return value


def search_many(
    collection: Collection,
    queries: list[str],
    vectors: np.ndarray,
    k: int,
    where: tuple[str, str] | None = None,
    mode: str = DEFAULT_MODE,
    weight: float = DEFAULT_WEIGHT,
    within: np.ndarray | None = None,
) -> list[list[Hit]]:
    """Best ``k`` documents for each query (its text and its vector) under ``mode``."""
    if mode == "dense":
        return search_vectors(collection, vectors, k, where, within)
    if mode == "keyword":
        collection.refresh()
        return [keyword_documents(collection, q, k, where, within=within) for q in queries]
    pool = max(k, FUSION_POOL)
    dense = search_vectors(collection, vectors, pool, where, within)
    results = []
    for number, query in enumerate(queries):
        keyword = keyword_documents(collection, query, pool, where, within=within)
        found = candidates(collection, query, vectors[number], dense[number], keyword)
        results.append(fuse(found, k, weight))
    return results
