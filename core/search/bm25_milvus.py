"""Keyword ranking for a collection in Milvus: Milvus's own BM25 full-text search, then one
hit per document (its best chunk), exact at any ``k`` and under any filter.

The query sent is the same content words the embedded ranking uses (:func:`content_words`:
lower-cased ``\\w+`` words without stop words, each once); Milvus's standard analyzer splits
them as it split the chunks (``\\w+``, lower case, no stemming) and scores each chunk with its
BM25 (see :mod:`core.storage.milvus_store` for the formula and ``k1``, ``b``). Chunks are
fetched in growing rounds until ``k`` distinct documents are found or no chunk is left.

A keyword hit is explained word by word: each word's addend is Milvus's score of that word
alone on that chunk (so the addends sum to the chunk's score), its idf Milvus's
``ln(1 + (N - n + 0.5) / (n + 0.5))`` with n the chunks that hold it (a text match).
"""

from __future__ import annotations

import re

import numpy as np

from core.search.hits import Hit, TermScore
from core.search.terms import Term, content_words, keyword_hit
from core.storage.collection import Collection
from core.storage.milvus_store import MAX_LIMIT, MilvusStore


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
    text = " ".join(content_words(query))
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
    counted = [(word, store.chunks_with(word)) for word in content_words(text)]
    return [Term(word, count, chunks) for word, count in counted if count]


def term_scores(
    store: MilvusStore, query: str, doc_id: str, ordinal: int, terms: list[Term] | None = None
) -> tuple[TermScore, ...]:
    """Split Milvus's BM25 score of chunk ``ordinal`` of ``doc_id`` by query word."""
    chunk_id = store.chunk_id_of(doc_id, ordinal)
    if chunk_id is None:
        return ()
    text = store.chunk_texts([chunk_id])[chunk_id]
    out = []
    for term in query_terms(store, query) if terms is None else terms:
        found = store.keyword_search(term.word, 1, ids=[chunk_id])
        if not found:
            continue
        spans = tuple(m.span() for m in re.finditer(r"\w+", text) if m.group().lower() == term.word)
        out.append(TermScore(term.word, found[0][1], term.idf, len(spans), spans))
    return tuple(sorted(out, key=lambda t: -t.score))
