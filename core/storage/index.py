"""Vectors -> index: a FAISS index over chunk ids, a rebuildable cache of SQLite's vectors.

The kind of index follows the size of the collection (per the FAISS guidelines):

- ``flat-ip``: exact inner product (cosine on normalised vectors) below
  :data:`APPROX_THRESHOLD` chunks, where a scan takes a few milliseconds on one core;
- ``ivf-flat``: an inverted file with ``4 * sqrt(n)`` lists past it. ``nprobe`` is tuned at
  build time (and again after every ingest that adds to it) until recall@10 against exact
  search reaches :data:`TARGET_RECALL` on queries made from the collection's own vectors; the
  measured recall is kept with the index.

A filtered search (a metadata filter: the allowed chunk ids) on an IVF index probes more
lists the fewer chunks the filter allows: ``nprobe / selectivity**2``, capped at every list.
Probing ``nprobe / s`` lists (as many allowed chunks as an unfiltered search sees) is not
enough: the 10 nearest allowed chunks are as far out as the ``10 / s`` nearest of all. On
synthetic vectors at 100,000 chunks (nprobe 8 of 1,264 lists) a filter keeping 10% needed
512 lists for recall@10 0.98 against exact filtered search (80 lists gave 0.87), 25% needed
32-64. Below ``s = sqrt(nprobe / nlist)`` every list is probed: exact search over the allowed
subset. FAISS tests membership (a bitmap) before it computes a distance, so that costs one
bit test per chunk and one dot product per allowed chunk.

The index is written atomically (serialised to bytes, then temp file + fsync + rename),
because ``faiss.write_index`` truncates in place and a kill during it leaves a torn file.
A lock serialises changes and searches: FAISS is not safe for ``add`` during a search.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import faiss
import numpy as np

from core import atomic, config

log = logging.getLogger(__name__)

APPROX_THRESHOLD = 50_000
# Measured on SciFact (9,633 real chunks, 809 real questions): the build-time queries (means
# of two stored vectors) are easier than real questions. Tuned to 0.985 on them, the real
# questions got 0.977 (nprobe 64 of 392 lists); tuned to 0.995 they got 0.994 (nprobe 128).
TARGET_RECALL = 0.995
RECALL_QUERIES = 300

# One query at a time is served best by one thread: OpenMP threads spinning against torch on
# two cores cost more than they gain. Builds raise it temporarily.
faiss.omp_set_num_threads(1)


@dataclass(frozen=True)
class IndexStats:
    """What the collection records about its index."""

    kind: str
    nprobe: int | None = None
    recall_at_10: float | None = None
    trained_on: int | None = None
    measured_on: int | None = None


class VectorIndex:
    """Inner-product search over (chunk id, vector) pairs: exact or IVF."""

    def __init__(
        self, dimension: int, raw: faiss.Index | None = None, stats: IndexStats | None = None
    ) -> None:
        """Wrap ``raw`` (default: an empty exact index) for vectors of length ``dimension``."""
        self.dimension = dimension
        self._index = raw if raw is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        self.stats: IndexStats = stats or IndexStats(kind_of(self._index))
        self._lock = threading.Lock()

    @property
    def kind(self) -> str:
        """``flat-ip`` or ``ivf-flat``."""
        return self.stats.kind

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
        params = self._params(allowed)
        with self._lock:
            k = max(1, min(k, len(self))) if len(self) else 1
            scores, ids = self._index.search(query, k, params=params)
        return scores, ids

    def _params(self, allowed: np.ndarray | None) -> faiss.SearchParameters | None:
        selector = None if allowed is None else id_selector(allowed)
        if self.kind == "ivf-flat":
            nprobe = filtered_nprobe(
                int(self.stats.nprobe or 1), self._index.nlist, len(self), allowed
            )
            if selector is None:
                return faiss.SearchParametersIVF(nprobe=nprobe)
            params = faiss.SearchParametersIVF(nprobe=nprobe, sel=selector)
        elif selector is None:
            return None
        else:
            params = faiss.SearchParameters(sel=selector)
        params.keep_alive = selector  # the selector reads a numpy bitmap: keep both alive
        return params

    def retune(self, ids: np.ndarray, vectors: np.ndarray, seed: int = 0) -> None:
        """Re-measure recall and re-tune ``nprobe`` of an IVF index on its current contents.

        ``ids`` and ``vectors`` are every stored chunk (the index's contents). An exact index
        has nothing to tune.
        """
        if self.kind != "ivf-flat":
            return
        faiss.omp_set_num_threads(config.threads())
        try:
            with self._lock:
                nprobe, recall = tune_nprobe(self._index, ids, vectors, np.random.default_rng(seed))
                self._index.nprobe = nprobe
        finally:
            faiss.omp_set_num_threads(1)
        self.stats = replace(self.stats, nprobe=nprobe, recall_at_10=recall, measured_on=len(ids))
        log.info("IVF re-tuned on %d chunks: nprobe %d, recall@10 %.3f", len(ids), nprobe, recall)

    def to_bytes(self) -> bytes:
        """Serialise the index (no pickle: FAISS's own binary format)."""
        with self._lock:
            return faiss.serialize_index(self._index).tobytes()

    def save(self, path: Path) -> None:
        """Write the index atomically to ``path``."""
        atomic.write_bytes(path, self.to_bytes())

    @classmethod
    def load(cls, path: Path, dimension: int, stats: IndexStats | None = None) -> VectorIndex:
        """Read an index written by :meth:`save`.

        Raises:
            ValueError: if the file is unreadable or of another dimension.
            TypeError: if it holds a kind of index this project does not write.
        """
        data = np.frombuffer(Path(path).read_bytes(), dtype=np.uint8)
        try:
            raw = faiss.deserialize_index(data)
        except RuntimeError as exc:
            raise ValueError(f"unreadable index file {path}: {exc}") from None
        if raw.d != dimension:
            raise ValueError(f"index has dimension {raw.d}, expected {dimension}")
        kind = kind_of(raw)
        if stats is None or stats.kind != kind:
            stats = IndexStats(kind, nprobe=getattr(raw, "nprobe", None))
        return cls(dimension, raw, stats)

    @classmethod
    def build(cls, ids: np.ndarray, vectors: np.ndarray, kind: str | None = None) -> VectorIndex:
        """Build a new index from arrays, of the kind that suits their number."""
        kind = kind or choose_kind(len(ids))
        if kind == "ivf-flat":
            return build_ivf(ids, vectors)
        index = cls(vectors.shape[1])
        index.add(ids, vectors)
        return index


def id_selector(allowed: np.ndarray) -> faiss.IDSelector:
    """A FAISS selector of the ``allowed`` ids: a bitmap (one bit test per candidate)."""
    allowed = np.asarray(allowed, dtype=np.int64)
    if len(allowed) == 0 or allowed.min() < 0 or allowed.max() >= 1 << 33:
        return faiss.IDSelectorBatch(allowed)
    bits = np.zeros(int(allowed.max()) + 1, dtype=bool)
    bits[allowed] = True
    bitmap = np.packbits(bits, bitorder="little")
    selector = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))
    selector.bitmap_array = bitmap  # FAISS keeps a pointer only
    return selector


def filtered_nprobe(nprobe: int, nlist: int, total: int, allowed: np.ndarray | None) -> int:
    """Lists to probe: ``nprobe`` unfiltered; ``nprobe / selectivity**2`` under a filter, at
    most every list (then the search is exact over the allowed chunks). See the module doc."""
    if allowed is None or total == 0:
        return min(nprobe, nlist)
    selectivity = min(1.0, max(len(allowed), 1) / total)
    return int(min(nlist, np.ceil(nprobe / selectivity**2)))


def kind_of(raw: faiss.Index) -> str:
    """The project's name for a FAISS index object.

    Raises:
        TypeError: for an index kind the project never writes.
    """
    if isinstance(raw, faiss.IndexIDMap2):
        return "flat-ip"
    if isinstance(raw, faiss.IndexIVFFlat):
        return "ivf-flat"
    raise TypeError(f"unexpected index type {type(raw).__name__}")


def choose_kind(count: int) -> str:
    """Exact below :data:`APPROX_THRESHOLD` chunks, IVF past it."""
    return "ivf-flat" if count >= APPROX_THRESHOLD else "flat-ip"


def build_ivf(ids: np.ndarray, vectors: np.ndarray, seed: int = 0) -> VectorIndex:
    """Train an IVF index on ``vectors``, add them, and tune ``nprobe`` for recall."""
    count, dimension = vectors.shape
    nlist = int(min(65_536, max(16, 4 * np.sqrt(count))))
    rng = np.random.default_rng(seed)
    sample = vectors[rng.choice(count, min(count, nlist * 40), replace=False)]
    raw = faiss.IndexIVFFlat(
        faiss.IndexFlatIP(dimension), dimension, nlist, faiss.METRIC_INNER_PRODUCT
    )
    faiss.omp_set_num_threads(config.threads())
    try:
        raw.cp.seed = seed
        raw.train(np.ascontiguousarray(sample, dtype=np.float32))
        raw.add_with_ids(np.ascontiguousarray(vectors, np.float32), ids.astype(np.int64))
        nprobe, recall = tune_nprobe(raw, ids, vectors, rng)
    finally:
        faiss.omp_set_num_threads(1)
    raw.nprobe = nprobe
    log.info("IVF index: %d lists, nprobe %d, recall@10 %.3f", nlist, nprobe, recall)
    return VectorIndex(dimension, raw, IndexStats("ivf-flat", nprobe, recall, count, count))


def tune_nprobe(
    raw: faiss.IndexIVFFlat, ids: np.ndarray, vectors: np.ndarray, rng: np.random.Generator
) -> tuple[int, float]:
    """Smallest power-of-two ``nprobe`` whose recall@10 reaches :data:`TARGET_RECALL`.

    Queries are the normalised mean of two random stored vectors: points between documents,
    like real questions, and never a vector that is itself in the index.
    """
    queries = query_sample(vectors, rng)
    exact = np.asarray(ids, dtype=np.int64)[exact_top(vectors, queries, 10)]  # (q, 10) ids
    nprobe = 8
    while True:
        raw.nprobe = min(nprobe, raw.nlist)
        _, found = raw.search(queries, 10)
        recall = recall_at(found, exact)
        if recall >= TARGET_RECALL or raw.nprobe >= raw.nlist:
            return raw.nprobe, recall
        nprobe *= 2


def query_sample(vectors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(RECALL_QUERIES, dimension) normalised means of random pairs of ``vectors``."""
    pairs = rng.integers(0, len(vectors), size=(RECALL_QUERIES, 2))
    queries = vectors[pairs[:, 0]] + vectors[pairs[:, 1]]
    norms = np.linalg.norm(queries, axis=1, keepdims=True)
    return np.ascontiguousarray(queries / np.maximum(norms, 1e-12), dtype=np.float32)


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Row positions of the exact top ``k`` by inner product (numpy, blockwise)."""
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), 64):
        scores = queries[start : start + 64] @ vectors.T  # (q, n)
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        out[start : start + 64] = top
    return out


def recall_at(found: np.ndarray, exact: np.ndarray) -> float:
    """Mean fraction of the exact ids (q, k) that the approximate search found."""
    hits = [len(set(f.tolist()) & set(e.tolist())) for f, e in zip(found, exact, strict=True)]
    return float(np.mean(hits) / exact.shape[1])
