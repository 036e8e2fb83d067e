"""How long PCA, UMAP and t-SNE take on this machine, at 10,000 and 100,000 points.

The vectors are synthetic (a seeded mixture of 50 Gaussian clusters in 384 dimensions,
normalised like the model's), so any machine can run it without a big collection. UMAP is
warmed up on 5,000 points first: its first calls in a process compile numba code (past 4,096
points it switches to NN-descent, more code to compile), and the warm-up time reports that
apart. Runs whose estimate exceeds ``budget_s`` are skipped and their estimate reported.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import numpy as np

from core.explain.projection import METHODS, Params, estimate_seconds, project_vectors

log = logging.getLogger(__name__)


def synthetic_vectors(n: int, dimension: int = 384, clusters: int = 50, seed: int = 0):
    """``n`` unit vectors (n, dimension) float32 around ``clusters`` random centres."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dimension)).astype(np.float32)
    noise = 0.7 * rng.standard_normal((n, dimension)).astype(np.float32)
    x = centres[rng.integers(0, clusters, n)] + noise
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _time(vectors: np.ndarray, method: str) -> float:
    started = time.perf_counter()
    project_vectors(vectors, Params(method=method, max_points=len(vectors)))
    return time.perf_counter() - started


def bench_projection(
    sizes: tuple[int, ...] = (10_000, 100_000),
    methods: tuple[str, ...] = METHODS,
    budget_s: float = 900.0,
) -> dict[str, Any]:
    """Time each method at each size; return the figures (seconds) as a dict.

    Args:
        sizes: numbers of points.
        methods: any of "pca", "umap", "tsne".
        budget_s: skip a run whose estimate is longer than this (its estimate is reported).
    """
    out: dict[str, Any] = {
        "vectors": "synthetic: 50 Gaussian clusters in 384-d, unit length",
        "cpus": os.cpu_count(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "runs": [],
    }
    if "umap" in methods:
        out["umap_first_call_s"] = round(_time(synthetic_vectors(5_000, seed=1), "umap"), 2)
    for n in sizes:
        vectors = synthetic_vectors(n)
        for method in methods:
            estimate = estimate_seconds(method, n)
            row = {"method": method, "points": n, "estimate_s": round(estimate, 1)}
            if estimate > budget_s:
                row["seconds"] = None
                row["note"] = f"skipped: estimated {estimate:.0f} s > budget {budget_s:.0f} s"
            else:
                row["seconds"] = round(_time(vectors, method), 2)
            log.info("projection bench: %s", row)
            out["runs"].append(row)
    return out


def format_bench(figures: dict[str, Any]) -> str:
    """A small plain-text table of :func:`bench_projection`'s figures."""
    lines = [f"{figures['vectors']}; {figures['cpus']} CPUs, load {figures['load_average']}"]
    if "umap_first_call_s" in figures:
        lines.append(
            f"UMAP first call (5,000 points, numba compiles): {figures['umap_first_call_s']} s"
        )
    lines.append(f"{'method':<6} {'points':>8} {'seconds':>9} {'estimate':>9}")
    for row in figures["runs"]:
        seconds = "-" if row["seconds"] is None else f"{row['seconds']:.2f}"
        lines.append(
            f"{row['method']:<6} {row['points']:>8,} {seconds:>9} {row['estimate_s']:>9.1f}"
        )
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - a manual entry point until the CLI wires it
    logging.basicConfig(level=logging.INFO)
    figures = bench_projection()
    log.info("\n%s", format_bench(figures))
