"""What acting on a map selection costs on a big collection
(``python -m measure.selection_scale --collection scifact-sentences``).

For seeded selections of growing size (chunks drawn at random from the whole collection, the
worst case for a link: nothing contiguous), one run each, in milliseconds: making the link's
token (and its length, inline ``i`` or stored ``s``), resolving it, a hybrid search restricted
to it, the same search over the whole collection (the baseline, same run), the summary the
Explore page shows (against a background of 5,000 map points) and saving it as a new
collection (deleted again).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import numpy as np

from core.explain import selection
from core.model.embedder import Embedder
from core.search.query import search
from core.storage import selections
from core.storage.collection import Collection, built_encoder, delete_collection

QUERY = "a mouse model of the disease"


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1e3, 1)


def measure(name: str, sizes: Sequence[int], seed: int = 0) -> list[dict]:
    """One row of timings per selection size."""
    embedder = Embedder(encoder=built_encoder(name))
    collection = Collection(name, embedder.info)
    ids = np.asarray(
        [r[0] for r in collection.store.db.execute("SELECT id FROM chunks ORDER BY id")]
    )
    background = np.random.default_rng(seed).choice(ids, min(5_000, len(ids)), replace=False)
    search(collection, embedder, QUERY, 10)  # warm: model, index, caches
    rows = []
    for size in sizes:
        chosen = np.random.default_rng(seed + size).choice(ids, min(size, len(ids)), False)
        row: dict = {"chunks": len(chosen)}
        started = time.perf_counter()
        token = selections.token_for(collection, chosen)
        row.update(token_ms=_ms(started), token=f"{token[0]} {len(token)} chars")
        started = time.perf_counter()
        within = selections.resolve(collection, token)
        row.update(resolve_ms=_ms(started), documents=within.documents)
        started = time.perf_counter()
        search(collection, embedder, QUERY, 10, within=within.rows)
        row["search_within_ms"] = _ms(started)
        started = time.perf_counter()
        search(collection, embedder, QUERY, 10)
        row["search_all_ms"] = _ms(started)
        started = time.perf_counter()
        selection.summarise(collection, chosen, background)
        row["summary_ms"] = _ms(started)
        started = time.perf_counter()
        selection.save_as_collection(collection, chosen, "selection-scale-tmp")
        row["save_ms"] = _ms(started)
        delete_collection("selection-scale-tmp")
        rows.append(row)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Print one line per selection size."""
    parser = argparse.ArgumentParser(prog="python -m measure.selection_scale", description=__doc__)
    parser.add_argument("--collection", default="scifact-sentences")
    parser.add_argument("--sizes", default="100,1000,5000,100000")
    args = parser.parse_args(argv)
    rows = measure(args.collection, [int(s) for s in args.sizes.split(",")])
    print(" | ".join(rows[0]))
    for row in rows:
        print(" | ".join(str(v) for v in row.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
