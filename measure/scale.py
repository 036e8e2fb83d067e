"""Query latency and memory at 10k / 100k / 1M chunks, against exact numpy search.

The vectors are synthetic (unit vectors around a few thousand random topic centres, 384
dimensions, stated as such in the output); the collection is real: SQLite with every chunk's
text and vector, the FAISS index the project would choose, and search through
:func:`core.search.query.search`, so "end to end" means encode the query + search + fetch the
documents from SQLite. The baseline is the same query encode followed by exact numpy search
over the same vectors (no document fetch). Recall@10 of the index is measured against exact
search on 100 synthetic queries about the same topics.
"""

from __future__ import annotations

import gc
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from core.documents.chunking import Chunk
from core.documents.readers import Document
from core.storage.collection import INDEX_FILE, Collection
from core.storage.index import exact_top, recall_at

NOISE = 0.8
QUERIES = ["how do plants make energy", "interest rates and banks", "a snake that squeezes"]


def synthetic_vectors(
    count: int, dimension: int, seed: int = 0, noise: float = NOISE
) -> np.ndarray:
    """(count, dimension) float32 unit vectors clustered around fixed random topic centres.

    The centres are the same for every seed, so vectors made with another seed are new
    points (e.g. queries) about the same topics.
    """
    centres = np.random.default_rng(12345).standard_normal((2048, dimension)).astype(np.float32)
    rng = np.random.default_rng(seed)
    out = np.empty((count, dimension), dtype=np.float32)
    for start in range(0, count, 100_000):
        n = min(100_000, count - start)
        block = centres[rng.integers(0, len(centres), n)]
        block += noise * rng.standard_normal((n, dimension)).astype(np.float32)
        out[start : start + n] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def fill(collection: Collection, vectors: np.ndarray, batch: int = 20_000) -> float:
    """Store one short document per vector; return seconds (index built at the end)."""
    started = time.perf_counter()
    for start in range(0, len(vectors), batch):
        part = vectors[start : start + batch]
        docs = [
            Document(f"s{start + i}", f"synthetic chunk {start + i}", "bench")
            for i in range(len(part))
        ]
        chunks = [[Chunk(0, 0, len(d.text), d.text)] for d in docs]
        collection.store.add(docs, chunks, part)
    collection.rebuild_index()
    return time.perf_counter() - started


def measure(embedder: Any, size: int, seed: int = 0) -> dict[str, Any]:
    """Latency percentiles (ours end to end, numpy exact), recall@10 and memory at ``size``."""
    from core.search.query import search
    from measure.bench import temporary_data_dir

    vectors = synthetic_vectors(size, embedder.dimension, seed)
    with tempfile.TemporaryDirectory() as tmp, temporary_data_dir(Path(tmp)):
        collection = Collection("scale", embedder.info, create=True)
        build_s = fill(collection, vectors)
        queries = [f"{QUERIES[i % 3]} {i}" for i in range(200)]
        search(collection, embedder, queries[0], mode="dense")
        ours = [search(collection, embedder, q, mode="dense").latency_ms for q in queries]
        exact_ms = []
        # The baseline: encode the query, then exact numpy search. BLAS gets one thread, like
        # FAISS here: its threads spinning against torch's on 2 cores only slow it down.
        with threadpool_limits(1):
            for q in queries[:100]:
                started = time.perf_counter()
                v = embedder.encode([q])[0]
                np.argpartition(-(vectors @ v), 10)[:10]
                exact_ms.append((time.perf_counter() - started) * 1e3)
        qvec = synthetic_vectors(100, embedder.dimension, seed + 1)
        _, found = collection.index.search(qvec, 10)
        probes = probe_sweep(collection.index, qvec) if collection.index.kind == "ivf-flat" else {}
        exact = exact_top(vectors, qvec, 10) + 1  # chunk ids start at 1, in vector order
        disk = sum(f.stat().st_size for f in collection.path.rglob("*") if f.is_file())
        index_bytes = (collection.path / INDEX_FILE).stat().st_size
        rss = rss_gb()
        p50, p95 = float(np.percentile(ours, 50)), float(np.percentile(ours, 95))
        exact50, exact95 = float(np.percentile(exact_ms, 50)), float(np.percentile(exact_ms, 95))
        out = {
            "chunks": size,
            "index": collection.index.kind,
            "nprobe": collection.index.stats.nprobe,
            "build_s": round(build_s, 1),
            "p50_ms": round(p50, 2),
            "p95_ms": round(p95, 2),
            "exact_numpy_p50_ms": round(exact50, 2),
            "exact_numpy_p95_ms": round(exact95, 2),
            "p50_vs_exact_numpy": round(p50 / exact50, 2),
            "recall_at_10": round(recall_at(found, exact), 4),
            "index_gb": round(index_bytes / 1e9, 2),
            "rss_gb": round(rss, 2),
            "disk_gb": round(disk / 1e9, 2),
            "vectors": "synthetic",
            "ivf_search_ms_by_nprobe": probes,
        }
        del collection, vectors
    gc.collect()
    return out


def probe_sweep(index: Any, queries: np.ndarray) -> dict[str, float]:
    """Mean ms of the IVF search alone at larger ``nprobe`` values than the tuned one.

    Synthetic clusters are easier for IVF than real embeddings (on SciFact's real vectors the
    tuning needed 128 of 392 lists), so this shows what more probes would cost at this size.
    """
    import faiss

    out = {}
    raw = index._index
    for nprobe in (16, 64, 256, 1024):
        if nprobe > raw.nlist:
            break
        params = faiss.SearchParametersIVF(nprobe=nprobe)
        started = time.perf_counter()
        for q in queries:
            raw.search(q[None, :], 10, params=params)
        out[str(nprobe)] = round((time.perf_counter() - started) * 1e3 / len(queries), 2)
    return out


def rss_gb() -> float:
    """This process's resident memory now, in GB (Linux /proc; 0 where unavailable)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1e6
    except OSError:
        pass
    return 0.0


def bench_scale(embedder: Any, sizes: tuple[int, ...] = (10_000, 100_000)) -> list[dict]:
    """:func:`measure` for each size, smallest first."""
    return [measure(embedder, size) for size in sizes]
