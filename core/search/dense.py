"""Dense ranking: query vectors -> the collection's FAISS index -> one hit per document.

A metadata filter restricts the index search to the allowed chunk ids. Chunks are fetched in
growing rounds until ``k`` distinct documents are found or the collection is exhausted.
"""

from __future__ import annotations

import numpy as np

from core.search.hits import Hit, best_per_document
from core.storage.collection import Collection


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
