"""The dense side of a Milvus collection, shaped like :class:`core.storage.index.VectorIndex`.

Search, filtered search and the count go to Milvus (a ``FLAT`` index, inner product: exact);
there is no local file to save or rebuild, and adds and removals already happened in Milvus
when the store wrote them, so they are no-ops here.
"""

from __future__ import annotations

import numpy as np

from core.storage.index import IndexStats
from core.storage.milvus_store import MilvusStore

KIND = "milvus-flat"


class MilvusIndex:
    """Exact inner-product search over a :class:`MilvusStore`'s vectors."""

    def __init__(self, store: MilvusStore, dimension: int) -> None:
        """Search ``store``'s vectors of length ``dimension``."""
        self.store = store
        self.dimension = dimension
        self.stats = IndexStats(KIND, recall_at_10=1.0)

    @property
    def kind(self) -> str:
        """``milvus-flat``."""
        return KIND

    def __len__(self) -> int:
        return self.store.counts()[1]

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Nothing to do: the store inserted the vectors into Milvus."""

    def remove(self, ids: np.ndarray) -> int:
        """Nothing to do: the store deleted them in Milvus; return how many were asked."""
        return len(ids)

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return (scores, ids) of the ``k`` best chunks, best first; ids -1 pad a short list."""
        query = np.ascontiguousarray(np.atleast_2d(query), dtype=np.float32)
        if allowed is not None and len(allowed) == 0:
            return np.full((len(query), 1), -np.inf, np.float32), np.full((len(query), 1), -1)
        return self.store.dense_search(query, k, allowed)
