"""How far to trust a 2D map: how well it keeps each point's neighbours from the full space.

Three figures over the same k (Venna and Kaski's trustworthiness and continuity, plus plain
neighbour recall), computed on a seeded sample of at most :data:`SAMPLE` map points:

- trustworthiness: of the points that look close on the map, how many are really close.
  Each false neighbour is penalised by how far down the true (cosine) ranking it sits.
- continuity: the same with the roles of the two spaces swapped: of the truly close points,
  how many stay close on the map.
- neighbour recall@k: the share of each point's k true cosine neighbours that are among its
  k nearest on the map; one value per point (to shade the map) and their mean.

Data flow: vectors (n, d) and coordinates (n, 2) -> a seeded sample -> blockwise distances
in both spaces -> k nearest neighbours and the ranks of the mismatched ones -> :class:`MapTrust`.
Memory stays at a block of rows times n (never an n x n matrix of ranks).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from core.explain.projection import Projection
from core.storage.collection import Collection

log = logging.getLogger(__name__)

K = 10  # neighbours checked per point
SAMPLE = 5_000  # points measured at most (a seeded sample of the map past that)
BLOCK = 256  # rows of distances held at once


@dataclass(frozen=True)
class MapTrust:
    """How faithfully a map keeps neighbourhoods, measured on ``rows`` of its points."""

    k: int
    rows: np.ndarray  # (m,) indices into the map's points that were measured, ascending
    total: int  # points on the map
    trustworthiness: float
    continuity: float
    recall: float  # mean of point_recall
    point_recall: np.ndarray  # (m,) share of each point's k true neighbours kept on the map

    @property
    def sampled(self) -> bool:
        """True when only a sample of the map's points was measured."""
        return len(self.rows) < self.total

    @property
    def summary(self) -> str:
        """What the figures mean, in plain words."""
        share = f"{self.recall:.0%}"
        return (
            f"On average {share} of a point's {self.k} nearest neighbours in the full space "
            f"(by cosine) are also among its {self.k} nearest on this map. Trustworthiness "
            f"{self.trustworthiness:.2f} says how rarely points that look close here are far "
            f"apart in truth; continuity {self.continuity:.2f} says how rarely truly close "
            "points are torn apart here (1 is perfect, about 0.5 is no better than chance)."
        )


def sample_rows(n: int, limit: int = SAMPLE, seed: int = 0) -> np.ndarray:
    """All row indices ``0..n-1``, or a seeded sample of ``limit`` of them (ascending)."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def _cosine_distances(unit: np.ndarray, block: slice) -> np.ndarray:
    """(b, n) cosine distances of rows ``block`` to all rows; the point itself at +inf."""
    dist = 1.0 - unit[block] @ unit.T  # (b, n)
    dist[np.arange(dist.shape[0]), np.arange(block.start, block.stop)] = np.inf
    return dist


def _map_distances(coords: np.ndarray, block: slice) -> np.ndarray:
    """(b, n) squared 2D distances of rows ``block`` to all rows; the point itself at +inf."""
    diff = coords[block, None, :] - coords[None, :, :]  # (b, n, 2)
    dist = np.einsum("bnc,bnc->bn", diff, diff)
    dist[np.arange(dist.shape[0]), np.arange(block.start, block.stop)] = np.inf
    return dist


def _nearest(dist: np.ndarray, k: int) -> np.ndarray:
    """(b, k) column indices of the k smallest distances in each row (in no order)."""
    return np.argpartition(dist, k - 1, axis=1)[:, :k]


def _rank_penalty(dist: np.ndarray, missing: np.ndarray, mask: np.ndarray, k: int) -> float:
    """Sum over masked ``missing`` columns of (their rank in ``dist``'s row - k).

    The rank of column j in row i is 1 + how many columns are strictly closer (the point
    itself, at +inf, never counts).
    """
    thresholds = np.take_along_axis(dist, missing, axis=1)  # (b, k)
    ranks = 1 + (dist[:, None, :] < thresholds[:, :, None]).sum(axis=2)  # (b, k)
    return float(((ranks - k) * mask).sum())


def _check(vectors: np.ndarray, coords: np.ndarray, k: int) -> None:
    if len(vectors) != len(coords):
        raise ValueError(f"{len(vectors)} vectors but {len(coords)} map points.")
    if not 1 <= k < len(vectors) / 2:
        raise ValueError(f"k={k} needs more than {2 * k} points; got {len(vectors)}.")


def neighbourhood_scores(
    vectors: np.ndarray, coords: np.ndarray, k: int = K
) -> tuple[float, float, np.ndarray]:
    """Trustworthiness, continuity and per-point recall@k of ``coords`` as a map of ``vectors``.

    Args:
        vectors: (n, d) points in the full space, compared by cosine.
        coords: (n, 2) the same points on the map, compared by Euclidean distance.
        k: neighbours per point; must be under n / 2 (as in sklearn).

    Returns:
        (trustworthiness, continuity, recall) with recall of shape (n,).
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    coords = np.asarray(coords, dtype=np.float64)
    _check(vectors, coords, k)
    n = len(vectors)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms > 0, norms, 1.0)
    recall = np.empty(n)
    untrust = discontinuity = 0.0
    for start in range(0, n, BLOCK):
        block = slice(start, min(start + BLOCK, n))
        full, flat = _cosine_distances(unit, block), _map_distances(coords, block)
        true_nn, map_nn = _nearest(full, k), _nearest(flat, k)  # (b, k) each
        on_map = (map_nn[:, :, None] == true_nn[:, None, :]).any(axis=2)  # map nn is true nn
        kept = (true_nn[:, :, None] == map_nn[:, None, :]).any(axis=2)  # true nn is on map
        recall[block] = kept.mean(axis=1)
        untrust += _rank_penalty(full, map_nn, ~on_map, k)
        discontinuity += _rank_penalty(flat, true_nn, ~kept, k)
    scale = 2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0))
    return 1.0 - scale * untrust, 1.0 - scale * discontinuity, recall


def map_trust(
    vectors: np.ndarray, coords: np.ndarray, k: int = K, limit: int = SAMPLE, seed: int = 0
) -> MapTrust | None:
    """Measure a map on a seeded sample of at most ``limit`` of its points.

    Args:
        vectors: (n, d) the full-space vectors of the map's points.
        coords: (n, 2) their places on the map.
        k: neighbours per point; lowered to fit a small map (it must stay under m / 2).
        limit: the most points measured.
        seed: picks the sample.

    Returns:
        The figures, or None when the map has too few points to measure (under 4).
    """
    rows = sample_rows(len(vectors), limit, seed)
    return _measure(np.asarray(vectors)[rows], np.asarray(coords)[rows], rows, len(vectors), k)


def projection_trust(
    collection: Collection, projection: Projection, k: int = K, limit: int = SAMPLE
) -> MapTrust | None:
    """:func:`map_trust` of a collection's map, reading only the sampled points' vectors.

    The sample is seeded by the map's own seed, so one map always gives the same figures.
    """
    rows = sample_rows(len(projection.chunk_ids), limit, projection.params.seed)
    ids = projection.chunk_ids[rows]
    vectors = collection.store.vectors_for(ids, collection.model.dimension)
    return _measure(vectors, projection.coords[rows], rows, len(projection.chunk_ids), k)


def _measure(
    vectors: np.ndarray, coords: np.ndarray, rows: np.ndarray, total: int, k: int
) -> MapTrust | None:
    k = min(k, (len(rows) - 1) // 2)
    if k < 1:
        return None
    trust, cont, recall = neighbourhood_scores(vectors, coords, k)
    log.info("map trust on %d of %d points: T=%.3f C=%.3f", len(rows), total, trust, cont)
    return MapTrust(k, rows, total, trust, cont, float(recall.mean()), recall)
