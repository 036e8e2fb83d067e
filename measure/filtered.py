"""Filtered dense search against exact filtered search, and the keyword ranking against a
brute-force BM25: the two correctness rows of ``bench``.

Filtered: a collection of synthetic vectors (as :mod:`measure.scale`, one chunk a document)
whose documents carry metadata that keeps 10%, 1%, 0.1% of them, or a handful (5). For each
filter, 100 queries: recall@10 of :func:`core.search.dense.search_vectors` (the metadata
filter in SQLite + the index the project chose) against exact numpy search over the allowed
vectors, and its latency (search and fetch, without the query encode). The first search
with a filter reads it from SQLite (every document's JSON); its time is reported apart, the
percentiles are of the 100 that follow (the store keeps the filter until the next write).

Keyword: the case that used to lose documents (3 long documents of 20 chunks, 20 short notes
and 200 others; one more in another topic), and a few thousand chunks of Zipf-distributed
words, checked for every query, ``k`` and filter against BM25 computed here from the tokens
FTS5 stored (the formula in :mod:`core.search.bm25`).
"""

from __future__ import annotations

import math
import random
import sqlite3
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from core.documents.chunking import Chunk
from core.documents.readers import Document
from core.storage.collection import DB_FILE, Collection
from measure.scale import synthetic_vectors

FILTERS = (("p10", "10% of chunks"), ("p1", "1%"), ("p01", "0.1%"), ("few", "5 documents"))


def groups(i: int) -> dict[str, str]:
    """Metadata of synthetic document ``i``."""
    return {
        "p10": str(i % 10 == 3),
        "p1": str(i % 100 == 42),
        "p01": str(i % 1000 == 999),
        "few": str(i % 1009 == 17 and i < 1009 * 5),
    }


def fill(collection: Collection, vectors: np.ndarray, batch: int = 20_000) -> None:
    """One short document per vector, with :func:`groups` metadata; index built at the end."""
    for start in range(0, len(vectors), batch):
        part = vectors[start : start + batch]
        docs = [
            Document(f"s{start + i}", f"synthetic {start + i}", "bench", metadata=groups(start + i))
            for i in range(len(part))
        ]
        chunks = [[Chunk(0, 0, len(d.text), d.text)] for d in docs]
        collection.store.add(docs, chunks, part)
    collection.rebuild_index()


def bench_filtered(embedder: Any, size: int, queries: int = 100) -> dict[str, Any]:
    """Recall@10 and latency of filtered dense search at ``size`` chunks, per filter."""
    from core.search.dense import search_vectors
    from measure.bench import temporary_data_dir

    vectors = synthetic_vectors(size, embedder.dimension, seed=0)
    probes = synthetic_vectors(queries, embedder.dimension, seed=1)
    out: dict[str, Any] = {"chunks": size, "vectors": "synthetic", "filters": []}
    with tempfile.TemporaryDirectory() as tmp, temporary_data_dir(Path(tmp)):
        collection = Collection("filtered", embedder.info, create=True)
        fill(collection, vectors)
        out["index"], out["nprobe"] = collection.index.kind, collection.index.stats.nprobe
        for field, label in FILTERS:
            mask = np.array([groups(i)[field] == "True" for i in range(size)])
            allowed = np.flatnonzero(mask)
            started = time.perf_counter()  # the first search reads the filter from SQLite
            search_vectors(collection, probes[:1], 10, (field, "True"))
            first_ms = (time.perf_counter() - started) * 1e3
            times, found = [], 0
            for query in probes:
                started = time.perf_counter()
                [hits] = search_vectors(collection, query[None, :], 10, (field, "True"))
                times.append((time.perf_counter() - started) * 1e3)
                top = allowed[np.argsort(-(vectors[allowed] @ query), kind="stable")[:10]]
                found += len({h.doc_id for h in hits} & {f"s{i}" for i in top})
            expected = min(10, len(allowed)) * queries
            out["filters"].append(
                {
                    "filter": label,
                    "allowed": len(allowed),
                    "recall_at_10": round(found / expected, 4),
                    "p50_ms": round(float(np.percentile(times, 50)), 2),
                    "p95_ms": round(float(np.percentile(times, 95)), 2),
                    "first_ms": round(first_ms, 1),
                }
            )
        del collection
    return out


# --- keyword ranking against brute force ---------------------------------------------------

K1, B = 1.2, 0.75
FILLER = "orchard tree branch river stone cloud field garden market street".split()


def _stem(word: str) -> str:
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE VIRTUAL TABLE f USING fts5(text, tokenize='porter unicode61 remove_diacritics 2')"
    )
    db.execute("INSERT INTO f(text) VALUES (?)", (word,))
    db.execute("CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, 'f', 'row')")
    return db.execute("SELECT term FROM temp.v").fetchone()[0]


def brute_force_top(path: Path, words: list[str], k: int, where=None) -> list[tuple[str, float]]:
    """Best ``k`` documents (best chunk) by BM25 computed from the tokens FTS5 stored."""
    import json

    db = sqlite3.connect(path)
    rows = db.execute(
        "SELECT c.id, d.doc_id, d.metadata FROM chunks c JOIN documents d ON d.id = c.doc"
    ).fetchall()
    db.execute("CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, 'chunks_fts', 'instance')")
    tf: dict[int, Counter] = defaultdict(Counter)
    for term, chunk_id in db.execute("SELECT term, doc FROM temp.v"):
        tf[chunk_id][term] += 1
    db.close()
    n, avgdl = len(rows), sum(sum(c.values()) for c in tf.values()) / len(rows)
    tokens = list(dict.fromkeys(_stem(w) for w in words))
    holding = {t: sum(1 for c in tf.values() if t in c) for t in tokens}
    idf = {t: math.log(1 + (n - holding[t] + 0.5) / (holding[t] + 0.5)) for t in tokens}
    best: dict[str, float] = {}
    for chunk_id, doc_id, meta in rows:
        counts, dl = tf[chunk_id], sum(tf[chunk_id].values())
        if where is not None and str(json.loads(meta).get(where[0])) != where[1]:
            continue
        parts = [
            idf[t] * counts[t] * (K1 + 1) / (counts[t] + K1 * (1 - B + B * dl / avgdl))
            for t in tokens
            if counts[t]
        ]
        if parts:
            best[doc_id] = max(sum(parts), best.get(doc_id, 0.0))
    return sorted(best.items(), key=lambda item: -item[1])[:k]


def same(hits: list[Any], expected: list[tuple[str, float]]) -> bool:
    """Same documents in the same order (ties may swap) with the same scores."""
    if len(hits) != len(expected):
        return False
    for hit, (doc_id, score) in zip(hits, expected, strict=True):
        if not math.isclose(hit.keyword_score, score, rel_tol=1e-9):
            return False
        tied = {d for d, s in expected if math.isclose(s, score, rel_tol=1e-9)}
        if hit.doc_id != doc_id and hit.doc_id not in tied:
            return False
    return True


def keyword_corpora(rnd: random.Random) -> list[tuple[str, list[str], dict]]:
    """The apple case and a Zipf corpus: (doc id, chunk texts, metadata)."""

    def filler(n: int) -> str:
        return " ".join(rnd.choice(FILLER) for _ in range(n))

    docs = [
        (f"long{i}", [f"{filler(40)} apple {filler(40)}"] * 20, {"topic": "a"}) for i in range(3)
    ]
    docs += [
        (f"note{i}", [f"apple {filler(rnd.randint(3, 30))}"], {"topic": "a"}) for i in range(20)
    ]
    docs += [(f"other{i}", [filler(rnd.randint(5, 40))], {"topic": "a"}) for i in range(200)]
    docs.append(("b-apple", [f"an apple {filler(60)}"], {"topic": "b"}))
    vocabulary, weights = [f"w{i}" for i in range(40)], [1 / (i + 1) for i in range(40)]
    for i in range(600):
        count = rnd.choice([1, 1, 1, 2, 3, 12])
        chunks = [
            " ".join(rnd.choices(vocabulary, weights, k=rnd.randint(3, 60))) for _ in range(count)
        ]
        docs.append((f"z{i}", chunks, {"topic": "xyz"[i % 3]}))
    return docs


def bench_keyword(embedder: Any) -> dict[str, Any]:
    """The keyword ranking against brute-force BM25: apple case and a Zipf corpus."""
    from core.search.bm25 import keyword_documents
    from measure.bench import temporary_data_dir

    rnd = random.Random(3)
    docs = keyword_corpora(rnd)
    with tempfile.TemporaryDirectory() as tmp, temporary_data_dir(Path(tmp)):
        collection = Collection("keyword", embedder.info, create=True)
        documents = [Document(d, "\n".join(t), "bench", metadata=m) for d, t, m in docs]
        chunks = []
        for _, texts, _ in docs:
            starts = np.cumsum([0] + [len(t) + 1 for t in texts])
            chunks.append(
                [Chunk(i, int(starts[i]), int(starts[i]) + len(t), t) for i, t in enumerate(texts)]
            )
        total = sum(len(c) for c in chunks)
        vectors = np.zeros((total, embedder.dimension), np.float32)
        vectors[:, 0] = 1.0
        collection.add_vectors(documents, chunks, vectors)
        path = collection.path / DB_FILE
        apple = keyword_documents(collection, "apple", 10)
        apple_b = keyword_documents(collection, "apple", 5, ("topic", "b"))
        checks = agree = 0
        queries = [["apple"], ["tree"], ["w0"], ["w39"], ["w1", "w30"], ["w5", "w6", "w38"]]
        for words in queries:
            for k in (1, 10, 100, 1000):
                for where in (None, ("topic", "x"), ("topic", "b")):
                    hits = keyword_documents(collection, " ".join(words), k, where)
                    checks += 1
                    agree += same(hits, brute_force_top(path, words, k, where))
    return {
        "chunks": total,
        "apple_k10_documents": len(apple),
        "apple_topic_b_documents": len(apple_b),
        "checks": checks,
        "agree": agree,
    }
