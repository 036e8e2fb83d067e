"""Query -> hits, checked against brute force: numpy's exact cosine over every stored vector."""

from __future__ import annotations

import json
import random
import sqlite3
from dataclasses import dataclass

import numpy as np
import pytest

from core.documents.chunking import Chunk
from core.documents.readers import Document
from core.errors import InputError
from core.ingest.pipeline import ingest_documents
from core.search.dense import search_vectors
from core.search.query import search
from core.storage import collection as colls
from core.storage.collection import Collection
from tests.tiny_model import FIXTURE_DIR

WORDS = [w for w in FIXTURE_DIR.joinpath("vocab.txt").read_text().split() if w.isalpha()]
N_DOCS = 200


@dataclass
class Oracle:
    """Every chunk as stored in SQLite, read without the Store class."""

    doc_ids: np.ndarray  # (chunks,) document id of each chunk
    vectors: np.ndarray  # (chunks, dimension)
    topics: np.ndarray  # (chunks,) metadata "topic" of each chunk's document
    texts: dict[str, str]  # document id -> full text

    @classmethod
    def read(cls, collection: Collection) -> Oracle:
        with sqlite3.connect(collection.path / colls.DB_FILE) as db:
            rows = db.execute(
                "SELECT d.doc_id, c.vector, d.metadata FROM chunks c"
                " JOIN documents d ON d.id = c.doc ORDER BY c.id"
            ).fetchall()
            texts = dict(db.execute("SELECT doc_id, text FROM documents").fetchall())
        vectors = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
        topics = np.array([json.loads(r[2]).get("topic") for r in rows], dtype=object)
        return cls(np.array([r[0] for r in rows], dtype=object), vectors, topics, texts)

    def top(self, query: np.ndarray, k: int, topic: str | None = None) -> list[tuple[str, float]]:
        """Exact best ``k`` documents by their best chunk's cosine, best first."""
        mask = np.ones(len(self.doc_ids), bool) if topic is None else self.topics == topic
        scores = self.vectors[mask].astype(np.float64) @ query.astype(np.float64)  # (chunks,)
        best: dict[str, float] = {}
        for doc_id, score in zip(self.doc_ids[mask], scores, strict=True):
            best[doc_id] = max(score, best.get(doc_id, -np.inf))
        ranked = sorted(best.items(), key=lambda item: -item[1])
        return ranked[:k]


def make_docs(count: int, seed: int) -> list[Document]:
    """Random documents; every 7th is long (several chunks), topics x/y/z, some with no topic."""
    rnd = random.Random(seed)
    docs = []
    for i in range(count):
        words = rnd.randint(120, 260) if i % 7 == 0 else rnd.randint(2, 25)
        text = " ".join(rnd.choice(WORDS) for _ in range(words)) + f" doc{i}"
        meta = {"topic": "xyz"[i % 3]} if i % 10 else {"other": "none"}
        docs.append(Document(f"doc{i}", text, source="corpus.jsonl", metadata=meta))
    return docs


@pytest.fixture(scope="module")
def corpus(tiny_embedder, tmp_path_factory: pytest.TempPathFactory):
    """One collection of 200 documents for the whole module, in its own data dir."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMBEDLAB_DATA_DIR", str(tmp_path_factory.mktemp("contract")))
        collection = Collection("contract", tiny_embedder.info, create=True)
        report = ingest_documents(collection, tiny_embedder, make_docs(N_DOCS, seed=11))
    assert report.added == N_DOCS
    oracle = Oracle.read(collection)
    assert len(oracle.doc_ids) > N_DOCS + 60  # the long documents really are several chunks
    return collection, oracle


def random_queries(count: int, seed: int, dimension: int = 32) -> np.ndarray:
    """Unit vectors in random directions: (count, dimension) float32."""
    vectors = np.random.default_rng(seed).standard_normal((count, dimension))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def assert_same_ranking(hits, expected: list[tuple[str, float]]) -> None:
    """Same documents in the same order (ties within 1e-6 may swap), scores within 1e-5."""
    assert len(hits) == len(expected)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    for hit, (doc_id, score) in zip(hits, expected, strict=True):
        assert hit.score == pytest.approx(score, abs=1e-5)
        if hit.doc_id != doc_id:  # only a tie may reorder
            tied = {d for d, s in expected if abs(s - score) < 1e-6}
            assert hit.doc_id in tied, (hit.doc_id, doc_id)
    assert len({h.doc_id for h in hits}) == len(hits)  # one hit per document


@pytest.mark.parametrize("k", [1, 5, 50, N_DOCS + 30])
def test_search_vectors_matches_brute_force(corpus, k: int) -> None:
    collection, oracle = corpus
    queries = random_queries(40, seed=k)
    results = search_vectors(collection, queries, k)
    assert len(results) == len(queries)
    for query, hits in zip(queries, results, strict=True):
        assert_same_ranking(hits, oracle.top(query, k))


def test_embedded_queries_match_brute_force(corpus, tiny_embedder) -> None:
    collection, oracle = corpus
    texts = [" ".join(random.Random(i).sample(WORDS, 4)) for i in range(25)]
    queries = tiny_embedder.encode(texts)
    for query, hits in zip(queries, search_vectors(collection, queries, 10), strict=True):
        assert_same_ranking(hits, oracle.top(query, 10))


def test_a_document_finds_itself_first(corpus) -> None:
    collection, oracle = corpus
    picks = [0, 7, 50, len(oracle.doc_ids) - 1]
    results = search_vectors(collection, oracle.vectors[picks], 3)
    for pick, hits in zip(picks, results, strict=True):
        assert hits[0].doc_id == oracle.doc_ids[pick]
        assert hits[0].score == pytest.approx(1.0, abs=1e-5)


def test_hits_carry_their_chunk(corpus) -> None:
    collection, oracle = corpus
    for hits in search_vectors(collection, random_queries(10, seed=99), 20):
        for hit in hits:
            full = oracle.texts[hit.doc_id]
            assert full[hit.start : hit.end] == hit.text
            assert 0 <= hit.chunk < hit.chunks == int((oracle.doc_ids == hit.doc_id).sum())
            assert hit.source == "corpus.jsonl"


@pytest.mark.parametrize("topic", ["x", "y", "z"])
@pytest.mark.parametrize("k", [1, 5, 50, N_DOCS])
def test_filtered_search_matches_brute_force(corpus, topic: str, k: int) -> None:
    collection, oracle = corpus
    queries = random_queries(15, seed=k + ord(topic))
    results = search_vectors(collection, queries, k, where=("topic", topic))
    for query, hits in zip(queries, results, strict=True):
        assert_same_ranking(hits, oracle.top(query, k, topic))
        assert all(h.metadata["topic"] == topic for h in hits)


@pytest.mark.parametrize("where", [("topic", "nope"), ("missing", "x"), ("topic", "")])
def test_filter_matching_nothing_gives_no_hits(corpus, where: tuple[str, str]) -> None:
    collection, _ = corpus
    assert search_vectors(collection, random_queries(3, seed=1), 10, where) == [[], [], []]


def test_one_document_hogging_the_top_chunks(tiny_embedder) -> None:
    """A document with 80 near-identical chunks fills the first fetch; the rest must still come."""
    collection = Collection("hog", tiny_embedder.info, create=True)
    rng = np.random.default_rng(5)
    direction = random_queries(1, seed=5)[0]
    hog = direction + 0.01 * rng.standard_normal((80, 32)).astype(np.float32)
    others = random_queries(30, seed=6)
    vectors = np.concatenate([hog, others])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    docs = [Document("hog", "h" * 80, "s")] + [Document(f"o{i}", f"o{i}", "s") for i in range(30)]
    chunks = [[Chunk(i, i, i + 1, "h") for i in range(80)]] + [[Chunk(0, 0, 2, "o")]] * 30
    collection.add_vectors(docs, chunks, vectors.astype(np.float32))
    oracle = Oracle.read(collection)
    for k in (1, 5, 10, 31, 40):
        [hits] = search_vectors(collection, direction[None, :], k)
        assert hits[0].doc_id == "hog"
        assert_same_ranking(hits, oracle.top(direction, k))


def test_search_after_deleting_matches_brute_force(tiny_embedder) -> None:
    collection = Collection("shrinking", tiny_embedder.info, create=True)
    ingest_documents(collection, tiny_embedder, make_docs(60, seed=2))
    collection.delete_documents([f"doc{i}" for i in range(0, 60, 4)])
    oracle = Oracle.read(collection)
    queries = random_queries(20, seed=3)
    for query, hits in zip(queries, search_vectors(collection, queries, 60), strict=True):
        assert_same_ranking(hits, oracle.top(query, 60))
        assert len(hits) == 45


def test_empty_collection_gives_no_hits(tiny_embedder) -> None:
    collection = Collection("empty", tiny_embedder.info, create=True)
    assert search_vectors(collection, random_queries(2, seed=0), 5) == [[], []]


# --- search(): the checked entry point ----------------------------------------------------


def test_search_embeds_the_query_and_matches_search_vectors(corpus, tiny_embedder) -> None:
    collection, oracle = corpus
    result = search(collection, tiny_embedder, "  river bank money  ", k=7, mode="dense")
    assert result.query == "  river bank money  "
    np.testing.assert_allclose(
        result.vector, tiny_embedder.encode(["river bank money"])[0], atol=1e-6
    )
    assert_same_ranking(result.hits, oracle.top(result.vector, 7))
    assert result.encode_ms >= 0 and result.search_ms >= 0
    assert result.latency_ms == pytest.approx(result.encode_ms + result.search_ms)
    filtered = search(collection, tiny_embedder, "river", k=5, where=("topic", "y"), mode="dense")
    assert_same_ranking(filtered.hits, oracle.top(filtered.vector, 5, "y"))


@pytest.mark.parametrize("query", ["", "   ", "\n\t", "x" * 10_000])
def test_search_rejects_empty_or_huge_query(corpus, tiny_embedder, query: str) -> None:
    collection, _ = corpus
    with pytest.raises(InputError):
        search(collection, tiny_embedder, query)


@pytest.mark.parametrize("k", [0, -1, 101, 1000])
def test_search_rejects_bad_k(corpus, tiny_embedder, k: int) -> None:
    collection, _ = corpus
    with pytest.raises(InputError, match="between 1 and 100"):
        search(collection, tiny_embedder, "river", k=k)


def test_search_accepts_the_largest_k(corpus, tiny_embedder) -> None:
    collection, oracle = corpus
    result = search(collection, tiny_embedder, "river", k=100, mode="dense")
    assert_same_ranking(result.hits, oracle.top(result.vector, 100))
