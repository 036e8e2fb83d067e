"""One contract, both stores: the embedded store (SQLite + FAISS) and Milvus (Milvus Lite's
gRPC server, started by the ``milvus_uri`` fixture) give the rankings brute force gives.

The oracle never reads a store: it keeps the documents, chunks, vectors and metadata this file
wrote, and ranks them itself: dense by exact numpy inner product, keyword by BM25 as each engine
documents it. Both score ``sum idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))`` with
``idf = ln(1 + (N - n + 0.5) / (n + 0.5))`` over every stored chunk, k1 1.2, b 0.75, over FTS5's
Porter terms (SQLite's tokenizer, ``porter unicode61 remove_diacritics 2``: the embedded store's
FTS5 index, and the ``terms`` Milvus's BM25 function reads). The vocabulary (``w0`` .. ``w199``,
each also written with an ``s``, which Porter strips) makes stemming count in every ranking.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pytest

from core.documents.chunking import Chunk
from core.documents.readers import Document
from core.search.bm25 import K1, keyword_documents
from core.search.dense import search_vectors
from core.storage.collection import Collection
from core.storage.export import export_projector
from core.storage.milvus_store import BM25_B, BM25_K1
from core.storage.porter import porter_terms

DIM = 16
SIZES = {"small": 120, "large": 1500}  # documents (about 2 chunks each)


@dataclass
class Oracle:
    """What was written: chunk id -> document, text, vector, metadata."""

    doc: dict[int, str] = field(default_factory=dict)
    text: dict[int, str] = field(default_factory=dict)
    vector: dict[int, np.ndarray] = field(default_factory=dict)
    meta: dict[str, dict] = field(default_factory=dict)

    def drop(self, doc_ids: set[str]) -> None:
        for chunk_id in [c for c, d in self.doc.items() if d in doc_ids]:
            del self.doc[chunk_id], self.text[chunk_id], self.vector[chunk_id]

    def allowed(self, where: tuple[str, str] | None) -> list[int]:
        if where is None:
            return list(self.doc)
        return [c for c, d in self.doc.items() if str(self.meta[d].get(where[0])) == where[1]]

    def dense(self, query: np.ndarray, k: int, where=None) -> list[tuple[str, float]]:
        ids = self.allowed(where)
        scores = np.stack([self.vector[c] for c in ids]).astype(np.float64) @ query
        return best_per_doc(((self.doc[c], s) for c, s in zip(ids, scores, strict=True)), k)

    def bm25(self, words: list[str], k: int, where=None) -> list[tuple[str, float]]:
        ids = list(self.text)
        terms = porter_terms([self.text[c] for c in ids])
        tokens = {c: Counter(t) for c, t in zip(ids, terms, strict=True)}
        words = [t for terms in porter_terms(words) for t in terms]
        k1, b = 1.2, 0.75
        n, avgdl = len(tokens), sum(sum(t.values()) for t in tokens.values()) / len(tokens)
        idf = {w: math.log(1 + (n - df + 0.5) / (df + 0.5)) for w in words
               if (df := sum(1 for t in tokens.values() if w in t))}  # fmt: skip
        scored = []
        for chunk_id in self.allowed(where):
            tf, dl = tokens[chunk_id], sum(tokens[chunk_id].values())
            parts = [
                idf[w] * tf[w] * (k1 + 1) / (tf[w] + k1 * (1 - b + b * dl / avgdl))
                for w in idf
                if tf[w]
            ]
            if parts:
                scored.append((self.doc[chunk_id], sum(parts)))
        return best_per_doc(scored, k)


def best_per_doc(scored, k: int) -> list[tuple[str, float]]:
    best: dict[str, float] = {}
    for doc_id, score in scored:
        best[doc_id] = max(float(score), best.get(doc_id, -np.inf))
    return sorted(best.items(), key=lambda item: -item[1])[:k]


def make_corpus(count: int, seed: int):
    """Documents of 1-3 chunks of Zipf-distributed words, their chunks and unit vectors."""
    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, 201)
    weights /= weights.sum()
    docs, chunks = [], []
    for i in range(count):
        pieces = [
            " ".join(
                f"w{w}" + "s" * bool(rng.random() < 0.3)
                for w in rng.choice(200, rng.integers(3, 30), p=weights)
            )
            for _ in range(1 + i % 3)
        ]
        text, parts, start = " ".join(pieces), [], 0
        for ordinal, piece in enumerate(pieces):
            parts.append(Chunk(ordinal, start, start + len(piece), piece))
            start += len(piece) + 1
        meta = {"topic": "xyz"[i % 3], "n": i % 4, "even": i % 2 == 0}
        docs.append(Document(f"doc{i}", text, source="made.jsonl", title=f"T{i}", metadata=meta))
        chunks.append(parts)
    total = sum(len(c) for c in chunks)
    vectors = rng.standard_normal((total, DIM)).astype(np.float32)
    return docs, chunks, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture(scope="module", params=["embedded", "milvus"])
def store_kind(request) -> str:
    """Which store the collections of a test live in."""
    return request.param


@pytest.fixture
def env(store_kind: str, request, monkeypatch: pytest.MonkeyPatch) -> str:
    """The environment of a store: Milvus gets the test server's URI."""
    if store_kind == "milvus":
        monkeypatch.setenv("EMBEDLAB_MILVUS_URI", request.getfixturevalue("milvus_uri"))
    return store_kind


def build(store: str, size: str, model, seed: int = 3) -> tuple[Collection, Oracle]:
    """A collection of ``size`` in ``store`` and its oracle, written through ``add_vectors``."""
    docs, chunks, vectors = make_corpus(SIZES[size], seed)
    collection = Collection(f"contract-{size}", model, create=True, store=store)
    ids = collection.add_vectors(docs, chunks, vectors)
    collection.fit_index()
    collection.save_index()
    oracle = Oracle(meta={d.doc_id: d.metadata for d in docs})
    flat = [(d.doc_id, c.text) for d, cs in zip(docs, chunks, strict=True) for c in cs]
    for chunk_id, (doc_id, text), vector in zip(ids, flat, vectors, strict=True):
        oracle.doc[int(chunk_id)], oracle.text[int(chunk_id)] = doc_id, text
        oracle.vector[int(chunk_id)] = vector
    return collection, oracle


@pytest.fixture(params=list(SIZES))
def built(env: str, request, tiny_embedder):
    """A fresh collection of each size in the store under test, and its oracle."""
    info = tiny_embedder.info
    from dataclasses import replace

    return build(env, request.param, replace(info, dimension=DIM))


def assert_same(hits, expected: list[tuple[str, float]], rel: float = 1e-5) -> None:
    """How many, which (ties may swap) and their scores."""
    assert len(hits) == len(expected)
    assert len({h.doc_id for h in hits}) == len(hits)
    for hit, (doc_id, score) in zip(hits, expected, strict=True):
        assert hit.score == pytest.approx(score, rel=rel, abs=1e-5)
        if hit.doc_id != doc_id:
            tied = {d for d, s in expected if abs(s - score) <= 1e-5 * max(1, abs(score))}
            assert hit.doc_id in tied, (hit.doc_id, doc_id)


def queries(count: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, DIM))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def word_queries(count: int, seed: int) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(200, rng.integers(1, 4), replace=False) for _ in range(count)]
    return [[f"w{w}" + "s" * bool(w % 2) for w in words] for words in chosen]


def test_both_stores_rank_with_the_same_bm25_settings() -> None:
    assert (BM25_K1, BM25_B, K1) == (1.2, 0.75, 1.2)


def test_the_store_is_the_one_chosen(built, store_kind: str) -> None:
    collection, oracle = built
    assert collection.store.kind == store_kind
    assert collection.store.counts() == (len(oracle.meta), len(oracle.doc))
    reopened = Collection(collection.name, collection.model)
    assert reopened.store.kind == store_kind
    assert reopened.store.counts() == (len(oracle.meta), len(oracle.doc))


@pytest.mark.parametrize("k", [1, 10, 60])
def test_dense_matches_exact_numpy(built, k: int) -> None:
    collection, oracle = built
    found = queries(12, seed=k)
    for query, hits in zip(found, search_vectors(collection, found, k), strict=True):
        assert_same(hits, oracle.dense(query, k))


@pytest.mark.parametrize("where", [("topic", "x"), ("n", "3"), ("even", "True"), ("n", "7")])
def test_filtered_dense_matches_exact_filtered(built, where) -> None:
    collection, oracle = built
    found = queries(6, seed=5)
    for query, hits in zip(found, search_vectors(collection, found, 10, where), strict=True):
        expected = oracle.dense(query, 10, where) if oracle.allowed(where) else []
        assert_same(hits, expected)
        assert all(str(h.metadata[where[0]]) == where[1] for h in hits)


@pytest.mark.parametrize("k", [1, 10, 60])
def test_keyword_matches_brute_force_bm25(built, k: int) -> None:
    collection, oracle = built
    for words in word_queries(10, seed=k):
        hits = keyword_documents(collection, " ".join(words), k)
        assert_same(hits, oracle.bm25(words, k), rel=1e-4)


@pytest.mark.parametrize("where", [("topic", "y"), ("n", "0"), ("even", "False")])
def test_filtered_keyword_matches_brute_force(built, where) -> None:
    collection, oracle = built
    for words in word_queries(6, seed=9):
        hits = keyword_documents(collection, " ".join(words), 10, where)
        assert_same(hits, oracle.bm25(words, 10, where), rel=1e-4)


def test_deleted_documents_are_gone(built) -> None:
    collection, oracle = built
    gone = {f"doc{i}" for i in range(0, len(oracle.meta), 5)}
    before = len(oracle.doc)
    deleted = collection.remove_documents([*sorted(gone), "no-such-doc"])
    oracle.drop(gone)
    assert (deleted.documents, deleted.chunks) == (len(gone), before - len(oracle.doc))
    assert collection.store.counts() == (len(oracle.meta) - len(gone), len(oracle.doc))
    found = queries(8, seed=1)
    for query, hits in zip(found, search_vectors(collection, found, 20), strict=True):
        assert_same(hits, oracle.dense(query, 20))
    for words in word_queries(8, seed=2):
        hits = keyword_documents(collection, " ".join(words), 50)
        assert not {h.doc_id for h in hits} & gone


def test_rows_vectors_and_export_read_back(built, tmp_path) -> None:
    collection, oracle = built
    ids = sorted(oracle.doc)[:50]
    assert np.array_equal(collection.store.chunk_ids(), np.asarray(sorted(oracle.doc)))
    vectors = collection.store.vectors_for(ids, DIM)
    assert np.allclose(vectors, np.stack([oracle.vector[i] for i in ids]), atol=1e-6)
    rows = collection.store.chunk_rows(ids)
    assert [rows[i].text for i in ids] == [oracle.text[i] for i in ids]
    assert collection.store.chunk_ids_where("topic", "z").tolist() == sorted(
        oracle.allowed(("topic", "z"))
    )
    written = export_projector(collection, tmp_path / "out")
    assert written.rows == len(oracle.doc)
    lines = written.metadata.read_text().splitlines()
    assert lines[0].split("\t")[:2] == ["doc_id", "title"] and len(lines) == len(oracle.doc) + 1


STEMMED = ["She runs every day", "Running shoes, running tracks", "a run", "walked home", "Café"]


@pytest.fixture
def stemmed(env: str, tiny_embedder) -> Collection:
    """A small collection whose words differ only by their endings."""
    from dataclasses import replace

    docs = [Document(f"s{i}", t, source="s.txt", title=t) for i, t in enumerate(STEMMED)]
    chunks = [[Chunk(0, 0, len(d.text), d.text)] for d in docs]
    vectors = np.eye(len(docs), DIM, dtype=np.float32)
    collection = Collection("stemmed", replace(tiny_embedder.info, dimension=DIM), True, env)
    collection.add_vectors(docs, chunks, vectors)
    return collection


@pytest.mark.parametrize("query", ["run", "running", "runs"])
def test_inflections_match_their_stem(stemmed: Collection, query: str) -> None:
    hits = keyword_documents(stemmed, query, 10)
    assert sorted(h.doc_id for h in hits) == ["s0", "s1", "s2"]
    assert hits[0].doc_id == "s1"  # two occurrences
    assert [h.doc_id for h in keyword_documents(stemmed, "cafe", 10)] == ["s4"]


def test_word_scores_sum_to_the_chunk_score(stemmed: Collection) -> None:
    from core.search.bm25 import term_scores

    hits = keyword_documents(stemmed, "running home", 10)
    assert len(hits) == 4
    for hit in hits:
        parts = term_scores(stemmed.store, "running home", hit.doc_id, 0)
        assert sum(p.score for p in parts) == pytest.approx(hit.score, rel=1e-4)
    running = term_scores(stemmed.store, "running home", "s1", 0)
    assert [p.word for p in running] == ["running"] and running[0].spans == ((0, 7), (15, 22))
