"""Keyword ranking for a collection in Milvus: Milvus's own BM25 full-text search, then one
hit per document (its best chunk), exact at any ``k`` and under any filter.

The query sent is the same content words the embedded ranking uses (:func:`content_words`:
lower-cased ``\\w+`` words without stop words, each once), as FTS5's Porter terms
(:func:`porter_terms`, the terms the chunks were stored with), so "running" finds "run" as in
the embedded store; Milvus scores each chunk with its BM25 (see
:mod:`core.storage.milvus_store` for the formula and ``k1``, ``b``). Chunks are
fetched in growing rounds until ``k`` distinct documents are found or no chunk is left.

A keyword hit is explained word by word: each word's addend is Milvus's score of that word
alone (its Porter terms) on that chunk (so the addends sum to the chunk's score), its idf
Milvus's ``ln(1 + (N - n + 0.5) / (n + 0.5))`` with n the chunks that hold its term (a text
match), its spans the chunk's words with the same term.
"""

from __future__ import annotations

import re

import numpy as np

from core.search.hits import Hit, TermScore
from core.search.terms import Term, content_words, keyword_hit
from core.storage.collection import Collection
from core.storage.milvus_store import MAX_LIMIT, MilvusStore
from core.storage.porter import porter_terms, porter_text


def keyword_documents(
    collection: Collection,
    query: str,
    k: int,
    where: tuple[str, str] | None = None,
    doc_ids: list[str] | None = None,
    within: np.ndarray | None = None,
) -> list[Hit]:
    """Best ``k`` documents by Milvus's BM25, each at its best chunk (see the module doc);
    ``within``: row ids of the documents of a selection to keep."""
    store: MilvusStore = collection.store  # type: ignore[assignment]
    if within is not None:
        chosen = store.document_names(within)
        doc_ids = chosen if doc_ids is None else [d for d in doc_ids if d in set(chosen)]
    text = " ".join(" ".join(terms) for terms in porter_terms(content_words(query)))
    if not text or doc_ids == []:
        return []
    fetch = max(3 * k, 20)
    while True:
        found = store.keyword_search(text, fetch, where, doc_ids)
        rows = store.chunk_rows([chunk_id for chunk_id, _ in found])
        hits: list[Hit] = []
        seen: set[str] = set()
        for chunk_id, score in found:
            row = rows[chunk_id]
            if row.doc_id not in seen:
                seen.add(row.doc_id)
                hits.append(keyword_hit(len(hits) + 1, score, row))
        if len(hits) >= k or len(found) < fetch or fetch >= MAX_LIMIT:
            return hits[:k]
        fetch = min(MAX_LIMIT, fetch * 4)


def query_terms(store: MilvusStore, text: str) -> list[Term]:
    """The query's content words that occur in some chunk, with their chunk counts."""
    chunks = store.counts()[1]
    words = content_words(text)
    counted = [
        (word, store.chunks_with(" ".join(terms)) if terms else 0)
        for word, terms in zip(words, porter_terms(words), strict=True)
    ]
    return [Term(word, count, chunks) for word, count in counted if count]


def word_score(store: MilvusStore, stem: str, holding: int, chunk_id: int) -> float | None:
    """Milvus's BM25 of ``stem`` alone on chunk ``chunk_id`` (None: the chunk lacks it).

    Searched over the whole collection: Milvus Lite scores a search filtered down to a few
    chunks with those chunks' statistics (N = 1 for one id), not the collection's. A word in
    more than :data:`MAX_LIMIT` chunks falls back to the filtered search (then approximate).
    """
    found = dict(store.keyword_search(stem, min(max(holding, 1), MAX_LIMIT)))
    if chunk_id in found:
        return found[chunk_id]
    if holding <= MAX_LIMIT:
        return None
    alone = store.keyword_search(stem, 1, ids=[chunk_id])
    return alone[0][1] if alone else None


def term_scores(
    store: MilvusStore, query: str, doc_id: str, ordinal: int, terms: list[Term] | None = None
) -> tuple[TermScore, ...]:
    """Split Milvus's BM25 score of chunk ``ordinal`` of ``doc_id`` by query word."""
    chunk_id = store.chunk_id_of(doc_id, ordinal)
    if chunk_id is None:
        return ()
    text = store.chunk_texts([chunk_id])[chunk_id]
    words = list(re.finditer(r"\w+", text))
    stems = porter_terms([m.group() for m in words])
    out = []
    for term in query_terms(store, query) if terms is None else terms:
        stem = porter_text(term.word)
        score = word_score(store, stem, term.chunks_with, chunk_id) if stem else None
        if score is None:
            continue
        spans = tuple(m.span() for m, s in zip(words, stems, strict=True) if stem in s)
        out.append(TermScore(term.word, score, term.idf, len(spans), spans))
    return tuple(sorted(out, key=lambda t: -t.score))
