"""How far to trust each map: trustworthiness, continuity and neighbour recall of PCA, UMAP
and t-SNE on a collection (``python -m measure.map_trust --collection demo``).

Each map is the one the Explore page draws (same parameters and seed, read from its disk
cache when there); the figures are measured on the same seeded sample of at most 5,000 of
its points. A random layout of the same points is measured alongside as the floor.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from core.explain.map_trust import SAMPLE, K, projection_trust
from core.explain.projection import LABELS, METHODS, Params, project_collection
from core.model.embedder import Embedder
from core.storage.collection import Collection


def measure(name: str, methods: Sequence[str], seed: int = 0, k: int = K) -> list[dict]:
    """One row per method (and a random layout): points, sample, k, T, C, recall, seconds."""
    collection = Collection(name, Embedder().info)
    rows = []
    for method in methods:
        started = time.perf_counter()
        projection = project_collection(collection, Params(method=method, seed=seed))
        layout = time.perf_counter() - started
        rows.append(_row(LABELS[method], collection, projection, k, layout))
    shuffled = np.random.default_rng(seed).permutation(len(projection.coords))
    rows.append(_row("random", collection, _with_coords(projection, shuffled), k, 0.0))
    return rows


def _with_coords(projection, order: np.ndarray):
    """The same points with their map coordinates shuffled (a layout that keeps nothing)."""
    return replace(projection, fit=replace(projection.fit, coords=projection.coords[order]))


def _row(label: str, collection: Collection, projection, k: int, layout: float) -> dict:
    started = time.perf_counter()
    trust = projection_trust(collection, projection, k)
    return {
        "map": label,
        "points": len(projection.chunk_ids),
        "measured": len(trust.rows),
        "k": trust.k,
        "trustworthiness": round(trust.trustworthiness, 3),
        "continuity": round(trust.continuity, 3),
        "recall": round(trust.recall, 3),
        "layout_s": round(layout, 1),
        "measure_s": round(time.perf_counter() - started, 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Print the figures as a table (and JSON with ``--json``)."""
    parser = argparse.ArgumentParser(prog="python -m measure.map_trust", description=__doc__)
    parser.add_argument("--collection", default="demo")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = measure(args.collection, args.methods.split(","), args.seed)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"collection {args.collection}, seed {args.seed}, sample <= {SAMPLE:,}")
    print(" | ".join(rows[0]))
    for row in rows:
        print(" | ".join(str(v) for v in row.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
