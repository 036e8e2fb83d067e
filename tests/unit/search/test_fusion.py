"""Keyword (BM25 via SQLite FTS5) and hybrid (reciprocal rank fusion) search."""

from __future__ import annotations

import pytest

from core.documents.readers import Document
from core.errors import InputError
from core.ingest.pipeline import ingest_documents
from core.search.bm25 import fts_query, keyword_search
from core.search.fusion import DENSE_WEIGHT, fuse
from core.search.hits import Hit
from core.search.query import search
from core.storage.collection import Collection

TEXTS = {
    "zebra": "The zebra grazes on the savanna grass near the river.",
    "runner": "She was running the marathon and runs every morning.",
    "tea": "Green tea is brewed with water below boiling point.",
    "bank": "The bank raised interest rates on savings accounts.",
    "river": "The river bank flooded after days of heavy rain.",
    "quote": 'A "quoted" phrase and an asterisk * and NEAR(a b) AND OR NOT.',
}


@pytest.fixture
def collection(tiny_embedder) -> Collection:
    coll = Collection("kw", tiny_embedder.info, create=True)
    docs = [
        Document(i, t, "test", metadata={"topic": "water" if "river" in t else "other"})
        for i, t in TEXTS.items()
    ]
    ingest_documents(coll, tiny_embedder, docs)
    return coll


@pytest.mark.parametrize(
    "hostile",
    ['"', '""', "*", "NEAR(a b)", "AND OR NOT", "col:x", "^start", "a -b", "(", "'; DROP", "\x00"],
)
def test_hostile_queries_are_plain_terms(collection, hostile: str) -> None:
    ids, scores = keyword_search(collection.store, hostile, 10)
    assert len(ids) == len(scores)


def test_fts_query_quotes_every_term_and_drops_stopwords() -> None:
    assert fts_query('the "zebra" AND lion*') == '"zebra" OR "lion"'
    assert fts_query("the of and") == ""


def test_rare_term_ranks_first_and_stemming_matches(collection) -> None:
    ids, _ = keyword_search(collection.store, "zebra", 5)
    rows = collection.store.chunk_rows(ids)
    assert rows[int(ids[0])].doc_id == "zebra"
    ids, _ = keyword_search(collection.store, "run", 5)
    assert [collection.store.chunk_rows(ids)[int(i)].doc_id for i in ids] == ["runner"]


def test_keyword_mode_and_filter(collection, tiny_embedder) -> None:
    hits = search(collection, tiny_embedder, "bank", k=5, mode="keyword").hits
    assert {h.doc_id for h in hits} == {"bank", "river"}
    assert all(h.found_by == ("keyword",) and h.dense_score is None for h in hits)
    filtered = search(collection, tiny_embedder, "bank", 5, ("topic", "water"), "keyword").hits
    assert [h.doc_id for h in filtered] == ["river"]


def test_deleted_documents_leave_the_keyword_index(collection, tiny_embedder) -> None:
    collection.delete_documents(["zebra"])
    assert search(collection, tiny_embedder, "zebra", k=5, mode="keyword").hits == []


def test_hybrid_hits_say_which_rankings_found_them(collection, tiny_embedder) -> None:
    result = search(collection, tiny_embedder, "zebra savanna", k=6, mode="hybrid")
    assert result.mode == "hybrid"
    assert result.hits[0].doc_id == "zebra"
    assert result.hits[0].found_by == ("dense", "keyword")
    assert all(set(h.found_by) <= {"dense", "keyword"} and h.found_by for h in result.hits)
    assert [h.rank for h in result.hits] == list(range(1, len(result.hits) + 1))


def test_unknown_mode_refused(collection, tiny_embedder) -> None:
    with pytest.raises(InputError, match="Unknown search mode"):
        search(collection, tiny_embedder, "zebra", mode="magic")


def hit(doc: str, score: float) -> Hit:
    return Hit(1, doc, score, doc, 0, 1, 0, 1, "s", doc)


def test_fuse_is_an_equal_weighted_sum_of_normalised_scores() -> None:
    dense = [hit("a", 0.9), hit("b", 0.8), hit("c", 0.7)]
    keyword = [hit("c", 12.0), hit("d", 9.0), hit("e", 6.0)]
    fused = fuse(dense, keyword, 10)
    expected = {
        "a": DENSE_WEIGHT * 1.0,
        "b": DENSE_WEIGHT * 0.5,
        "c": DENSE_WEIGHT * 0.0 + (1 - DENSE_WEIGHT) * 1.0,
        "d": (1 - DENSE_WEIGHT) * 0.5,
        "e": 0.0,
    }
    assert [h.doc_id for h in fused] == sorted(expected, key=lambda d: (-expected[d], d))
    for h in fused:
        assert h.score == pytest.approx(expected[h.doc_id])
    by_id = {h.doc_id: h for h in fused}
    assert by_id["c"].found_by == ("dense", "keyword")
    assert by_id["c"].dense_score == 0.7 and by_id["c"].keyword_score == 12.0
    assert by_id["d"].found_by == ("keyword",) and by_id["d"].dense_score is None
    assert len(fuse(dense, keyword, 2)) == 2


def test_fuse_handles_empty_and_flat_rankings() -> None:
    assert fuse([], [], 5) == []
    only = fuse([hit("a", 0.5), hit("b", 0.5)], [], 5)
    assert [h.score for h in only] == [DENSE_WEIGHT, DENSE_WEIGHT]
