"""Keyword (BM25 via SQLite FTS5) and hybrid (fused cosine and BM25) search."""

from __future__ import annotations

import pytest

from core.documents.readers import Document
from core.errors import InputError
from core.ingest.pipeline import ingest_documents
from core.search.bm25 import fts_query, keyword_documents, term_scores
from core.search.fusion import Candidate, fuse
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
    hits = keyword_documents(collection, hostile, 10)
    assert all(h.keyword_score > 0 for h in hits)


def test_hostile_words_match_as_words(collection) -> None:
    hits = keyword_documents(collection, "NEAR(a b) AND asterisk", 10)
    assert [h.doc_id for h in hits] == ["quote", "zebra"]  # "near" is a word in the zebra text


def test_fts_query_quotes_every_term_and_drops_stopwords() -> None:
    assert fts_query('the "zebra" AND lion*') == '"zebra" OR "lion"'
    assert fts_query("the of and") == ""


def test_rare_term_ranks_first_and_stemming_matches(collection) -> None:
    assert keyword_documents(collection, "zebra", 5)[0].doc_id == "zebra"
    assert [h.doc_id for h in keyword_documents(collection, "run", 5)] == ["runner"]


def test_keyword_mode_and_filter(collection, tiny_embedder) -> None:
    hits = search(collection, tiny_embedder, "bank", k=5, mode="keyword").hits
    assert {h.doc_id for h in hits} == {"bank", "river"}
    assert all(h.found_by == ("keyword",) and h.dense_score is None for h in hits)
    assert all(h.score_name == "BM25" and h.keyword_score == h.score for h in hits)
    filtered = search(collection, tiny_embedder, "bank", 5, ("topic", "water"), "keyword").hits
    assert [h.doc_id for h in filtered] == ["river"]


def test_deleted_documents_leave_the_keyword_index(collection, tiny_embedder) -> None:
    collection.delete_documents(["zebra"])
    assert search(collection, tiny_embedder, "zebra", k=5, mode="keyword").hits == []


def test_term_scores_split_the_bm25_score_and_mark_the_matched_words(collection) -> None:
    [hit] = keyword_documents(collection, "runs zebra marathon", 1)
    assert hit.doc_id == "runner"
    parts = term_scores(collection.store, "runs zebra marathon", "runner", hit.keyword_chunk)
    assert [p.word for p in parts] in (["runs", "marathon"], ["marathon", "runs"])
    assert sum(p.score for p in parts) == pytest.approx(hit.keyword_score, rel=1e-9)
    text = hit.text
    marked = {text[a:b] for p in parts for a, b in p.spans}
    assert marked == {"running", "runs", "marathon"}  # Porter stems, as FTS5 matched them
    assert {p.word: p.count for p in parts} == {"runs": 2, "marathon": 1}


def test_search_attaches_the_term_split_to_keyword_and_hybrid_hits(collection, tiny_embedder):
    for mode in ("keyword", "hybrid"):
        for hit in search(collection, tiny_embedder, "river bank rain", 6, mode=mode).hits:
            total = sum(t.score for t in hit.keyword_terms)
            assert total == pytest.approx(hit.keyword_score or 0.0, rel=1e-9, abs=1e-12)
    dense = search(collection, tiny_embedder, "river bank rain", 3, mode="dense").hits
    assert all(h.keyword_terms == () for h in dense)


def test_hybrid_hits_carry_both_true_scores_and_the_formula(collection, tiny_embedder) -> None:
    result = search(collection, tiny_embedder, "zebra savanna", k=6, mode="hybrid")
    assert result.mode == "hybrid"
    assert result.hits[0].doc_id == "zebra"
    assert result.hits[0].found_by == ("dense", "keyword")
    assert [h.rank for h in result.hits] == list(range(1, len(result.hits) + 1))
    for h in result.hits:
        assert h.dense_score is not None and h.keyword_score is not None
        assert h.score_name == "fused" and "cosine scaled" in h.formula
    by_id = {h.doc_id: h for h in result.hits}
    assert by_id["tea"].keyword_score == 0.0 and by_id["tea"].keyword_rank is None


def test_weight_one_is_the_dense_order_and_zero_the_keyword_order(collection, tiny_embedder):
    dense = search(collection, tiny_embedder, "river bank rain", k=6, mode="dense").hits
    meaning = search(collection, tiny_embedder, "river bank rain", k=6, weight=1.0).hits
    assert [h.doc_id for h in meaning] == [h.doc_id for h in dense]
    keyword = search(collection, tiny_embedder, "river bank rain", k=2, mode="keyword").hits
    words = search(collection, tiny_embedder, "river bank rain", k=2, weight=0.0).hits
    assert [h.doc_id for h in words] == [h.doc_id for h in keyword]


@pytest.mark.parametrize("weight", [-0.1, 1.5, float("nan"), "x"])
def test_bad_weight_refused(collection, tiny_embedder, weight) -> None:
    with pytest.raises(InputError, match="weight of meaning"):
        search(collection, tiny_embedder, "zebra", weight=weight)


def test_unknown_mode_refused(collection, tiny_embedder) -> None:
    with pytest.raises(InputError, match="Unknown search mode"):
        search(collection, tiny_embedder, "zebra", mode="magic")


def candidate(doc: str, cosine: float, bm25: float, dense_rank, keyword_rank) -> Candidate:
    hit = Hit(1, doc, cosine, doc, 0, 1, 0, 1, "s", doc)
    return Candidate(hit, cosine, bm25, dense_rank, keyword_rank, 0, 0 if bm25 else None)


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.5, 1.0])
def test_fuse_is_a_weighted_sum_of_min_max_scaled_scores(weight: float) -> None:
    pool = [
        candidate("a", 0.9, 0.0, 1, None),
        candidate("b", 0.8, 3.0, 2, 3),
        candidate("c", 0.7, 12.0, 3, 1),
        candidate("d", 0.5, 9.0, None, 2),
    ]
    fused = fuse(pool, 10, weight)
    cos = {"a": 1.0, "b": 0.75, "c": 0.5, "d": 0.0}
    kw = {"a": 0.0, "b": 0.25, "c": 1.0, "d": 0.75}
    expected = {d: weight * cos[d] + (1 - weight) * kw[d] for d in cos}
    assert [h.doc_id for h in fused] == sorted(expected, key=lambda d: (-expected[d], d))
    for h in fused:
        assert h.score == pytest.approx(expected[h.doc_id])
    by_id = {h.doc_id: h for h in fused}
    assert by_id["c"].found_by == ("dense", "keyword")
    assert (by_id["c"].dense_score, by_id["c"].keyword_score) == (0.7, 12.0)
    assert (by_id["c"].dense_rank, by_id["c"].keyword_rank) == (3, 1)
    assert by_id["d"].found_by == ("keyword",) and by_id["d"].dense_score == 0.5
    assert by_id["a"].keyword_score == 0.0 and by_id["a"].keyword_rank is None
    assert "0.500–0.900" in fused[0].formula and "0.00–12.00" in fused[0].formula
    assert len(fuse(pool, 2, weight)) == 2


def test_fuse_handles_empty_and_flat_pools() -> None:
    assert fuse([], 5) == []
    flat = fuse([candidate("a", 0.5, 1.0, 1, 1), candidate("b", 0.5, 1.0, 2, 2)], 5, 0.3)
    assert [h.score for h in flat] == [pytest.approx(1.0)] * 2
