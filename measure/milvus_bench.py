"""Collections in Milvus against the embedded store, side by side in one run.

``python -m measure.milvus_bench [--sizes 100000] [--scifact NAME]`` (and the ``milvus`` section
of ``python -m measure bench``) starts Milvus Lite's gRPC server on localhost (the same client
path as Milvus Standalone), then:

- latency: search time per query (the query vector given: encoding is the same for both
  stores), p50/p95 per mode, for the demo collection and for a synthetic collection of 100,000
  chunks (384-dimension clustered vectors, Zipf-distributed words), each built once embedded
  and copied into Milvus (same chunk ids, texts and vectors);
- quality: SciFact train nDCG@10 and recall@100 per mode for an embedded SciFact collection
  (``--scifact``, built by ``python -m core ingest``) and its copy in Milvus. The copy reuses the
  stored vectors, so any difference comes from the stores: every mode should agree (Milvus's
  BM25 reads the same FTS5 Porter terms with the same k1 1.2, b 0.75).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.storage.collection import Collection

MODES = ("dense", "keyword", "hybrid")
BLOCK = 2000


def copy_collection(source: Collection, name: str, store: str = "milvus") -> Collection:
    """A copy of ``source`` in ``store`` (documents, chunks and the stored vectors), made
    afresh (an earlier copy of that name is deleted first)."""
    from core.storage.collection import delete_collection, exists

    if exists(name):
        delete_collection(name)
    target = Collection(name, source.model, create=True, store=store)
    doc_ids = [d["doc_id"] for d in source.store.documents(limit=10**9)]
    for start in range(0, len(doc_ids), BLOCK):
        docs, chunks, ids = source.store.stored_documents(doc_ids[start : start + BLOCK])
        target.add_vectors(docs, chunks, source.store.vectors_for(ids, source.model.dimension))
    target.fit_index()
    target.save_index()
    return target


def latency(
    collection: Collection, queries: list[str], vectors: np.ndarray, k: int = 10
) -> dict[str, float]:
    """p50/p95 milliseconds of one search per query, per mode (the vector given)."""
    from core.search.query import search_many

    out: dict[str, float] = {}
    for mode in MODES:
        search_many(collection, queries[:1], vectors[:1], k, None, mode)  # warm
        times = []
        for query, vector in zip(queries, vectors, strict=True):
            started = time.perf_counter()
            search_many(collection, [query], vector[None, :], k, None, mode)
            times.append((time.perf_counter() - started) * 1e3)
        out[f"{mode}_p50_ms"] = round(float(np.percentile(times, 50)), 2)
        out[f"{mode}_p95_ms"] = round(float(np.percentile(times, 95)), 2)
    return out


def side_by_side(
    embedded: Collection, milvus: Collection, queries: list[str], vectors: np.ndarray
) -> dict[str, Any]:
    """Latency of both stores on the same queries, and Milvus's ratio to embedded."""
    a, b = latency(embedded, queries, vectors), latency(milvus, queries, vectors)
    ratios = {key.replace("_ms", "_ratio"): round(b[key] / max(a[key], 1e-9), 2) for key in a}
    return {"chunks": embedded.store.counts()[1], "embedded": a, "milvus": b, "ratio": ratios}


def synthetic(embedder: Any, size: int, words: list[str], seed: int = 0) -> Collection:
    """An embedded collection of ``size`` one-chunk documents of Zipf-sampled ``words``."""
    from core.documents.chunking import Chunk
    from core.documents.readers import Document
    from measure.scale import synthetic_vectors

    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, len(words) + 1)
    weights /= weights.sum()
    vectors = synthetic_vectors(size, embedder.dimension, seed)
    collection = Collection(f"synthetic-{size}", embedder.info, create=True)
    for start in range(0, size, 20_000):
        n = min(20_000, size - start)
        picks = rng.choice(len(words), size=(n, 40), p=weights)
        docs = [
            Document(f"s{start + i}", " ".join(words[w] for w in row), "bench")
            for i, row in enumerate(picks)
        ]
        chunks = [[Chunk(0, 0, len(d.text), d.text)] for d in docs]
        collection.add_vectors(docs, chunks, vectors[start : start + n])
    collection.fit_index()
    collection.save_index()
    return collection


def demo_queries(collection: Collection, count: int, seed: int = 0) -> list[str]:
    """Questions made of chunk words: 3-6 words from random chunks of ``collection``."""
    ids = collection.store.chunk_ids()
    rng = np.random.default_rng(seed)
    texts = collection.store.chunk_texts(rng.choice(ids, size=count).tolist())
    out = []
    for text in texts.values():
        tokens = re.findall(r"[A-Za-z]{4,}", text) or ["model"]
        out.append(" ".join(rng.choice(tokens, size=min(len(tokens), rng.integers(3, 7)))))
    return (out * (count // max(len(out), 1) + 1))[:count]


def bench_latency(embedder: Any, sizes: Sequence[int], queries: int = 100) -> list[dict]:
    """Demo and synthetic collections, embedded and in Milvus, latency side by side."""
    from core.ingest.builtin import ensure_demo

    ensure_demo(embedder)
    demo = Collection("demo", embedder.info)
    texts = demo_queries(demo, queries)
    vectors = embedder.encode(texts)
    rows = [{"collection": "demo", **side_by_side(demo, copy_collection(demo, "demo-milvus"),
                                                   texts, vectors)}]  # fmt: skip
    words = sorted({w.lower() for t in demo.store.chunk_texts(demo.store.chunk_ids()).values()
                    for w in re.findall(r"[A-Za-z]{3,}", t)})  # fmt: skip
    for size in sizes:
        built = synthetic(embedder, size, words)
        started = time.perf_counter()
        copy = copy_collection(built, f"synthetic-{size}-milvus")
        row = side_by_side(built, copy, texts, vectors)
        rows.append(
            {
                "collection": f"synthetic {size:,}",
                "copy_s": round(time.perf_counter() - started, 1),
                **row,
            }
        )
    return rows


def bench_scifact(name: str) -> dict[str, Any]:
    """SciFact train nDCG@10 / recall@100 per mode, embedded ``name`` and its Milvus copy."""
    from core.model.embedder import Embedder
    from core.search.query import search_many
    from core.storage.collection import built_encoder
    from measure import evaluation

    data = evaluation.load_beir(evaluation.default_eval_dir() / "scifact", "train")
    qids = list(data.qrels)
    texts = [data.queries[q] for q in qids]
    embedder = Embedder(encoder=built_encoder(name))
    embedded = Collection(name, embedder.info)
    milvus = copy_collection(embedded, f"{name}-milvus")
    vectors = embedder.encode(texts)
    out: dict[str, Any] = {"queries": len(qids), "chunks": embedded.store.counts()[1]}
    for label, collection in (("embedded", embedded), ("milvus", milvus)):
        for mode in MODES:
            started = time.perf_counter()
            hits = search_many(collection, texts, vectors, 100, None, mode)
            run = {
                q: {h.doc_id: h.score for h in found} for q, found in zip(qids, hits, strict=True)
            }
            out[f"{label}_{mode}_ndcg@10"] = round(
                100 * evaluation.ndcg_at_k(run, data.qrels, 10), 2
            )
            out[f"{label}_{mode}_recall@100"] = round(
                100 * evaluation.recall_at_k(run, data.qrels, 100), 2
            )
            out[f"{label}_{mode}_seconds"] = round(time.perf_counter() - started, 1)
    return out


def run(sizes: Sequence[int], scifact: str | None, queries: int = 100) -> dict[str, Any]:
    """Start Milvus Lite, run the latency (and SciFact, when named) comparisons, stop it."""
    from core.model.embedder import Embedder
    from measure.bench import temporary_data_dir
    from measure.milvus_server import milvus_lite_server

    figures: dict[str, Any] = {"load_average_start": [round(v, 2) for v in os.getloadavg()]}
    with tempfile.TemporaryDirectory() as tmp, milvus_lite_server(Path(tmp) / "milvus") as uri:
        from unittest import mock

        with mock.patch.dict("os.environ", {"EMBEDLAB_MILVUS_URI": uri}):
            if scifact:
                figures["scifact"] = bench_scifact(scifact)
            with temporary_data_dir(Path(tmp) / "data"):
                figures["latency"] = bench_latency(Embedder(encoder="torch"), sizes, queries)
    figures["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m measure.milvus_bench``: print the figures as JSON."""
    parser = argparse.ArgumentParser(prog="python -m measure.milvus_bench", description=__doc__)
    parser.add_argument("--sizes", default="100000", help="synthetic sizes, comma-separated")
    parser.add_argument("--scifact", help="an embedded SciFact collection to compare")
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    print(json.dumps(run(sizes, args.scifact, args.queries), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())


def table_rows(figures: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(measure, Milvus, embedded, ratio) rows of ``bench``'s table for the ``milvus`` section."""
    out = []
    for row in figures.get("latency", []):
        for mode in MODES:
            m, e = row["milvus"], row["embedded"]
            out.append(
                (
                    f"Milvus {mode} search p50 / p95 ms, {row['collection']} ({row['chunks']:,})",
                    f"{m[f'{mode}_p50_ms']:.1f} / {m[f'{mode}_p95_ms']:.1f}",
                    f"embedded {e[f'{mode}_p50_ms']:.1f} / {e[f'{mode}_p95_ms']:.1f}",
                    f"{row['ratio'][f'{mode}_p50_ratio']:.2f}x / "
                    f"{row['ratio'][f'{mode}_p95_ratio']:.2f}x",
                )
            )
    sci = figures.get("scifact")
    for mode in MODES if sci else ():
        out.append(
            (
                f"SciFact train nDCG@10, {mode}, Milvus",
                f"{sci[f'milvus_{mode}_ndcg@10']:.2f}",
                f"embedded {sci[f'embedded_{mode}_ndcg@10']:.2f}",
                f"{sci[f'milvus_{mode}_ndcg@10'] - sci[f'embedded_{mode}_ndcg@10']:+.2f}",
            )
        )
    return out
