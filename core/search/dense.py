"""Dense ranking: query vectors -> the collection's FAISS index -> one hit per document.

A metadata filter, or a selection of documents, restricts the index search to the allowed
chunk ids. Chunks are fetched in
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
    within: np.ndarray | None = None,
) -> list[list[Hit]]:
    """Best ``k`` documents for each query vector (q, dimension), one hit per document.

    ``where`` keeps documents whose metadata field equals a value; ``within`` keeps the
    documents with these row ids (a selection, :mod:`core.storage.selections`); both: both.
    """
    collection.refresh()
    allowed = allowed_chunks(collection, where, within)
    if allowed is not None and len(allowed) == 0:
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


def allowed_chunks(
    collection: Collection, where: tuple[str, str] | None, within: np.ndarray | None
) -> np.ndarray | None:
    """Sorted chunk ids a filtered search may return; None when nothing is filtered."""
    allowed = None if where is None else collection.store.chunk_ids_where(*where)
    if within is not None:
        chosen = collection.store.chunk_ids_of_documents(within)
        allowed = chosen if allowed is None else np.intersect1d(allowed, chosen)
    return allowed
