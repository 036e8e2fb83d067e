"""Keyword and hybrid ranking, checked against a brute-force BM25 written here.

The oracle reads every chunk's tokens as FTS5 stored them (an ``fts5vocab`` instance table:
the tokenizer is SQLite's, the scoring is this file's) and scores every chunk with BM25 as
SQLite documents it for ``bm25()`` (https://sqlite.org/fts5.html#the_bm25_function):
``k1 = 1.2``, ``b = 0.75``, idf ``ln((N - n + 0.5) / (n + 0.5))`` clamped to 1e-6, negated.
The product ranks by the same sum with a positive idf, ``ln(1 + (N - n + 0.5) / (n + 0.5))``;
the oracle computes both, and FTS5's own ``bm25()`` is checked against the first.
"""

from __future__ import annotations

import json
import math
import random
import sqlite3
from collections import Counter, defaultdict

import numpy as np
import pytest

from core.documents.chunking import Chunk
from core.documents.readers import Document
from core.search.bm25 import keyword_documents
from core.search.query import search_many
from core.storage import collection as colls
from core.storage.collection import Collection

K1, B = 1.2, 0.75


def stem(word: str) -> str:
    """The token FTS5's tokenizer (as the store configures it) makes of ``word``."""
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE VIRTUAL TABLE f USING fts5(text, tokenize='porter unicode61 remove_diacritics 2')"
    )
    db.execute("INSERT INTO f(text) VALUES (?)", (word,))
    db.execute("CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, 'f', 'row')")
    [(token,)] = db.execute("SELECT term FROM temp.v").fetchall()
    return token


class Oracle:
    """Every chunk's tokens, document and metadata, read straight from SQLite."""

    def __init__(self, collection: Collection) -> None:
        db = sqlite3.connect(collection.path / colls.DB_FILE)
        rows = db.execute(
            "SELECT c.id, d.doc_id, d.metadata, c.vector FROM chunks c JOIN documents d"
            " ON d.id = c.doc ORDER BY c.id"
        ).fetchall()
        self.doc = {r[0]: r[1] for r in rows}
        self.meta = {r[1]: json.loads(r[2]) for r in rows}
        self.vector = {r[0]: np.frombuffer(r[3], dtype=np.float32) for r in rows}
        db.execute("CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, 'chunks_fts', 'instance')")
        self.tf: dict[int, Counter] = defaultdict(Counter)
        for term, chunk_id in db.execute("SELECT term, doc FROM temp.v"):
            self.tf[chunk_id][term] += 1
        db.close()
        self.n = len(rows)
        self.avgdl = sum(sum(c.values()) for c in self.tf.values()) / self.n

    def idf(self, token: str, fts5: bool) -> float:
        n = sum(1 for counts in self.tf.values() if token in counts)
        ratio = (self.n - n + 0.5) / (n + 0.5)
        if fts5:
            return max(math.log(ratio), 0.0) or 1e-6
        return math.log(1 + ratio)

    def chunk_scores(self, words: list[str], fts5: bool = False) -> dict[int, float]:
        """BM25 of every chunk holding a query word."""
        tokens = list(dict.fromkeys(stem(w) for w in words))
        idf = {t: self.idf(t, fts5) for t in tokens}
        scores = {}
        for chunk_id, counts in self.tf.items():
            dl = sum(counts.values())
            parts = [
                idf[t] * counts[t] * (K1 + 1) / (counts[t] + K1 * (1 - B + B * dl / self.avgdl))
                for t in tokens
                if counts[t]
            ]
            if parts:
                scores[chunk_id] = sum(parts)
        return scores

    def top(self, words: list[str], k: int, where=None) -> list[tuple[str, float]]:
        """Best ``k`` documents by their best chunk's BM25."""
        best: dict[str, float] = {}
        for chunk_id, score in self.chunk_scores(words).items():
            doc = self.doc[chunk_id]
            if where is None or str(self.meta[doc].get(where[0])) == where[1]:
                best[doc] = max(score, best.get(doc, 0.0))
        return sorted(best.items(), key=lambda item: -item[1])[:k]


def assert_same(hits, expected: list[tuple[str, float]]) -> None:
    """Same documents, same order (ties may swap), same scores."""
    assert len(hits) == len(expected)
    for hit, (doc_id, score) in zip(hits, expected, strict=True):
        assert hit.keyword_score == pytest.approx(score, rel=1e-9)
        if hit.doc_id != doc_id:
            tied = {d for d, s in expected if math.isclose(s, score, rel_tol=1e-9)}
            assert hit.doc_id in tied, (hit.doc_id, doc_id)
    assert len({h.doc_id for h in hits}) == len(hits)


def add(collection: Collection, docs: list[tuple[str, list[str], dict]], seed: int) -> None:
    """Store documents given as (id, chunk texts, metadata) with random unit vectors."""
    rng = np.random.default_rng(seed)
    documents, chunks = [], []
    for doc_id, texts, meta in docs:
        documents.append(Document(doc_id, "\n".join(texts), "test", metadata=meta))
        starts = np.cumsum([0] + [len(t) + 1 for t in texts])
        chunks.append(
            [Chunk(i, int(starts[i]), int(starts[i]) + len(t), t) for i, t in enumerate(texts)]
        )
    count = sum(len(c) for c in chunks)
    vectors = rng.standard_normal((count, collection.model.dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    collection.add_vectors(documents, chunks, vectors)


FILLER = "orchard tree branch river stone cloud field garden market street".split()


@pytest.fixture(scope="module")
def apples(tiny_embedder, tmp_path_factory):
    """3 long documents (20 chunks, each mentions apple), 20 short apple notes, 200 others,
    and one apple note in topic b."""
    rnd = random.Random(1)

    def filler(n: int) -> str:
        return " ".join(rnd.choice(FILLER) for _ in range(n))

    docs = [
        (f"long{i}", [f"{filler(40)} apple {filler(40)}" for _ in range(20)], {"topic": "a"})
        for i in range(3)
    ]
    docs += [
        (f"note{i}", [f"apple {filler(rnd.randint(3, 30))}"], {"topic": "a"}) for i in range(20)
    ]
    docs += [(f"other{i}", [filler(rnd.randint(5, 40))], {"topic": "a"}) for i in range(200)]
    docs.append(("b-apple", [f"an apple {filler(60)}"], {"topic": "b"}))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMBEDLAB_DATA_DIR", str(tmp_path_factory.mktemp("apples")))
        collection = Collection("apples", tiny_embedder.info, create=True)
        add(collection, docs, seed=1)
    return collection, Oracle(collection)


@pytest.mark.parametrize("k", [1, 3, 10, 24, 100])
def test_apple_documents_all_come_back(apples, k: int) -> None:
    collection, oracle = apples
    hits = keyword_documents(collection, "apple", k)
    assert len(hits) == min(k, 24)
    assert_same(hits, oracle.top(["apple"], k))


def test_a_filter_finds_the_one_document_in_its_topic(apples) -> None:
    collection, oracle = apples
    hits = keyword_documents(collection, "apple", 5, ("topic", "b"))
    assert [h.doc_id for h in hits] == ["b-apple"]
    assert_same(hits, oracle.top(["apple"], 5, ("topic", "b")))
    assert_same(
        keyword_documents(collection, "apple", 30, ("topic", "a")),
        oracle.top(["apple"], 30, ("topic", "a")),
    )


def test_a_word_in_most_chunks_still_scores(apples) -> None:
    """'tree' is in almost every chunk: FTS5 clamps its idf to 1e-6, shown here it is not 0."""
    collection, oracle = apples
    hits = keyword_documents(collection, "tree", 10)
    assert len(hits) == 10 and all(h.keyword_score > 0.01 for h in hits)
    assert_same(hits, oracle.top(["tree"], 10))
    assert max(oracle.chunk_scores(["tree"], fts5=True).values()) < 1e-5


@pytest.fixture(scope="module")
def big(tiny_embedder, tmp_path_factory):
    """About 3,000 chunks from a 40-word vocabulary (common and rare words), 1-12 chunks a
    document, topics x/y/z, some without a topic."""
    rnd = random.Random(7)
    vocabulary = [f"w{i}" for i in range(40)]
    weights = [1 / (i + 1) for i in range(40)]
    docs = []
    for i in range(600):
        chunks = [
            " ".join(rnd.choices(vocabulary, weights, k=rnd.randint(3, 60)))
            for _ in range(rnd.choice([1, 1, 1, 2, 3, 12]))
        ]
        meta = {"topic": "xyz"[i % 3]} if i % 10 else {}
        docs.append((f"d{i}", chunks, meta))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMBEDLAB_DATA_DIR", str(tmp_path_factory.mktemp("big")))
        collection = Collection("big", tiny_embedder.info, create=True)
        add(collection, docs, seed=2)
    oracle = Oracle(collection)
    assert oracle.n > 2000
    return collection, oracle


QUERIES = [["w0"], ["w39"], ["w1", "w30"], ["w5", "w6", "w7", "w38"], ["w0", "w2", "w35"]]


@pytest.mark.parametrize("k", [1, 10, 100, 600])
@pytest.mark.parametrize("where", [None, ("topic", "x"), ("topic", "z")])
def test_keyword_ranking_matches_brute_force(big, k: int, where) -> None:
    collection, oracle = big
    for words in QUERIES:
        assert_same(
            keyword_documents(collection, " ".join(words), k, where), oracle.top(words, k, where)
        )


def test_fts5_bm25_is_the_documented_formula(big) -> None:
    """The oracle's FTS5 formula is what SQLite computes (so the two differ only in idf)."""
    collection, oracle = big
    for words in QUERIES:
        expected = oracle.chunk_scores(words, fts5=True)
        rows = collection.store.db.execute(
            "SELECT rowid, bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ?",
            (" OR ".join(words),),
        ).fetchall()
        assert {r[0]: -r[1] for r in rows} == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("where", [None, ("topic", "y")])
def test_hybrid_hits_carry_the_true_cosine_and_bm25(big, where) -> None:
    collection, oracle = big
    rng = np.random.default_rng(3)
    for words in QUERIES:
        vector = rng.standard_normal(collection.model.dimension).astype(np.float32)
        vector /= np.linalg.norm(vector)
        [hits] = search_many(collection, [" ".join(words)], vector[None, :], 30, where, "hybrid")
        assert len(hits) == 30
        bm25 = dict(oracle.top(words, 10_000, where))
        for hit in hits:
            chunks = [c for c, d in oracle.doc.items() if d == hit.doc_id]
            cosine = max(float(oracle.vector[c] @ vector) for c in chunks)
            assert hit.dense_score == pytest.approx(cosine, abs=1e-5)
            assert hit.keyword_score == pytest.approx(bm25.get(hit.doc_id, 0.0), rel=1e-9)
        ranks = [h.keyword_rank for h in hits if h.keyword_rank is not None]
        ordered = sorted(bm25, key=lambda d: -bm25[d])
        for hit in hits:
            if hit.keyword_rank is not None:
                assert bm25[ordered[hit.keyword_rank - 1]] == pytest.approx(hit.keyword_score)
        assert ranks
