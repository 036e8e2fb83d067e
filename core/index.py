"""Vectors -> index: a FAISS index over chunk ids, a rebuildable cache of SQLite's vectors.

The index is written atomically (serialised to bytes, then temp file + fsync + rename),
because ``faiss.write_index`` truncates in place and a kill during it leaves a torn file.
A lock serialises changes and searches: FAISS is not safe for ``add`` during a search.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import faiss
import numpy as np

from core import atomic, config

log = logging.getLogger(__name__)

faiss.omp_set_num_threads(config.threads())


class VectorIndex:
    """Exact inner-product search over (chunk id, vector) pairs."""

    kind = "flat-ip"

    def __init__(self, dimension: int) -> None:
        """Start an empty index for vectors of length ``dimension``."""
        self.dimension = dimension
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors (n, dimension) under int64 ``ids``."""
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._lock:
            self._index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> int:
        """Remove ``ids``; return how many were present."""
        if len(ids) == 0:
            return 0
        selector = faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64))
        with self._lock:
            return int(self._index.remove_ids(selector))

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return (scores, ids) of the ``k`` best chunks, best first; ids -1 pad a short list.

        Args:
            query: (dimension,) or (q, dimension) float32 vectors.
            k: how many neighbours.
            allowed: optional chunk ids to restrict the search to (a metadata filter).
        """
        query = np.ascontiguousarray(np.atleast_2d(query), dtype=np.float32)
        params = None
        if allowed is not None:
            params = faiss.SearchParameters(
                sel=faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            )
        with self._lock:
            k = max(1, min(k, len(self))) if len(self) else 1
            scores, ids = self._index.search(query, k, params=params)
        return scores, ids

    def to_bytes(self) -> bytes:
        """Serialise the index (no pickle: FAISS's own binary format)."""
        with self._lock:
            return faiss.serialize_index(self._index).tobytes()

    def save(self, path: Path) -> None:
        """Write the index atomically to ``path``."""
        atomic.write_bytes(path, self.to_bytes())

    @classmethod
    def load(cls, path: Path, dimension: int) -> VectorIndex:
        """Read an index written by :meth:`save`.

        Raises:
            ValueError: if the file is unreadable or of another dimension.
        """
        data = np.frombuffer(Path(path).read_bytes(), dtype=np.uint8)
        try:
            raw = faiss.deserialize_index(data)
        except RuntimeError as exc:
            raise ValueError(f"unreadable index file {path}: {exc}") from None
        if raw.d != dimension:
            raise ValueError(f"index has dimension {raw.d}, expected {dimension}")
        index = cls(dimension)
        if not isinstance(raw, faiss.IndexIDMap2):
            raise TypeError(f"index file {path} holds a {type(raw).__name__}, not an id map")
        index._index = raw
        return index

    @classmethod
    def build(cls, ids: np.ndarray, vectors: np.ndarray) -> VectorIndex:
        """Build a new index from arrays (e.g. all vectors read back from SQLite)."""
        index = cls(vectors.shape[1])
        index.add(ids, vectors)
        return index
