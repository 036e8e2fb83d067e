"""Keyword ranking: BM25 over chunk text with SQLite FTS5 (Porter stemming, no diacritics),
then one hit per document (its best chunk), exact at any ``k`` and under any filter.

The score of a chunk D for a query with content words t is

    BM25(D) = sum_t idf(t) * f(t, D) * (k1 + 1) / (f(t, D) + k1 * (1 - b + b * |D| / avgdl))

with FTS5's tokens, ``k1 = 1.2``, ``b = 0.75``, ``f`` the term's count in D, ``|D|`` the chunk's
length in tokens and ``avgdl`` the mean length: FTS5's ``bm25()``, except for two things.
FTS5 returns the score negated (lower is better); shown here, higher is better. FTS5's idf,
``ln((N - n + 0.5) / (n + 0.5))`` over N chunks of which n hold the term, is negative for a
term in more than half the chunks, and FTS5 clamps it to 1e-6: every score of a common word
shows as 0.0000. Here idf is Lucene's ``ln(1 + (N - n + 0.5) / (n + 0.5))``, positive for
every term and within ``ln 2`` of FTS5's where that one is positive.

How: for each term, FTS5 ranks the chunks holding it by ``bm25()`` of that term alone (one
addend of the sum); SQLite multiplies it by ``idf / idf_fts5``, adds the terms per chunk,
keeps each document's best chunk (and a metadata filter) and returns the top ``k``, all in
one query, so nothing is cut off before documents are counted. The per-term addends are also
what explains a keyword hit (:func:`term_scores`).
"""

from __future__ import annotations

import json

import numpy as np

from core.search.hits import Hit, TermScore
from core.search.terms import (  # noqa: F401  (re-exported: the keyword ranking's names)
    K1,
    MAX_TERMS,
    STOPWORDS,
    WORD_RE,
    B,
    Term,
    content_words,
    keyword_hit,
)
from core.storage.backend import ChunkStore
from core.storage.collection import Collection
from core.storage.store import filter_sql

OPEN, CLOSE = "\x02", "\x03"  # FTS5 highlight() markers around matched tokens


def fts_query(text: str) -> str:
    """An FTS5 MATCH expression: the query's content words, each quoted, joined by OR."""
    return " OR ".join(Term(w, 0, 0).phrase for w in content_words(text))


def query_terms(store: ChunkStore, text: str) -> list[Term]:
    """The query's content words that occur in some chunk, with their chunk counts."""
    if store.kind == "milvus":
        from core.search import bm25_milvus

        return bm25_milvus.query_terms(store, text)  # type: ignore[arg-type]
    chunks = store.counts()[1]
    terms = []
    for word in content_words(text):
        phrase = Term(word, 0, 0).phrase
        sql = "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?"
        count = store.db.execute(sql, (phrase,)).fetchone()[0]
        if count:
            terms.append(Term(word, int(count), chunks))
    return terms


def chunk_scores_sql(terms: list[Term]) -> tuple[str, list]:
    """A CTE ``scored(id, s)``: every chunk holding a term and its BM25 score (this module's)."""
    parts = ["SELECT rowid, -bm25(chunks_fts) * ? FROM chunks_fts WHERE chunks_fts MATCH ?"]
    params: list = []
    for term in terms:
        params += [term.idf / term.fts5_idf, term.phrase]
    sql = (
        f"t(id, s) AS MATERIALIZED ({' UNION ALL '.join(parts * len(terms))}),"
        " scored(id, s) AS (SELECT id, SUM(s) FROM t GROUP BY id)"
    )
    return sql, params


def keyword_documents(
    collection: Collection,
    query: str,
    k: int,
    where: tuple[str, str] | None = None,
    doc_ids: list[str] | None = None,
    within: np.ndarray | None = None,
) -> list[Hit]:
    """Best ``k`` documents by BM25, each at its best chunk; exact (every matching chunk).

    Args:
        collection: the collection to search.
        query: plain words.
        k: how many documents.
        where: optional (metadata field, value) the documents must match.
        doc_ids: optional documents to restrict to (to score a given few).
        within: optional row ids of the documents to restrict to (a selection).
    """
    store = collection.store
    if store.kind == "milvus":
        from core.search import bm25_milvus

        return bm25_milvus.keyword_documents(collection, query, k, where, doc_ids, within)
    terms = query_terms(store, query)
    if not terms:
        return []
    cte, params = chunk_scores_sql(terms)
    conditions = []
    if where is not None:
        condition, filter_params = filter_sql(*where)
        conditions.append(condition)
        params += filter_params
    if doc_ids is not None:
        conditions.append(f"d.doc_id IN ({','.join('?' * len(doc_ids))})")
        params += list(doc_ids)
    if within is not None:
        conditions.append("d.id IN (SELECT value FROM json_each(?))")
        params += [json.dumps([int(r) for r in within])]
    rows = store.db.execute(
        f"WITH {cte} SELECT scored.id, MAX(scored.s) AS best FROM scored"
        " JOIN chunks c ON c.id = scored.id JOIN documents d ON d.id = c.doc"
        f" {'WHERE ' + ' AND '.join(conditions) if conditions else ''}"
        " GROUP BY c.doc ORDER BY best DESC, c.doc LIMIT ?",
        [*params, int(k)],
    ).fetchall()
    chunk_rows = store.chunk_rows([r[0] for r in rows])
    return [
        keyword_hit(rank, float(score), chunk_rows[chunk_id])
        for rank, (chunk_id, score) in enumerate(rows, start=1)
    ]


def term_scores(
    store: ChunkStore, query: str, doc_id: str, ordinal: int, terms: list[Term] | None = None
) -> tuple[TermScore, ...]:
    """Split the BM25 score of chunk ``ordinal`` of ``doc_id`` by query word (exact: the
    score is their sum).

    Each word's addend, idf, count in the chunk and the spans of the tokens FTS5 matched
    (its own stemming), best first; words absent from the chunk score 0 and are left out.
    A chunk holding the marker characters themselves gets no spans (its scores stand).
    ``terms`` are :func:`query_terms` of ``query``, when already known.
    """
    if store.kind == "milvus":
        from core.search import bm25_milvus

        return bm25_milvus.term_scores(store, query, doc_id, ordinal, terms)  # type: ignore[arg-type]
    found = store.db.execute(
        "SELECT c.id, c.text FROM chunks c JOIN documents d ON d.id = c.doc"
        " WHERE d.doc_id = ? AND c.ordinal = ?",
        (doc_id, int(ordinal)),
    ).fetchone()
    if found is None:
        return ()
    chunk_id, text = found
    markable = OPEN not in text and CLOSE not in text
    out = []
    for term in query_terms(store, query) if terms is None else terms:
        row = store.db.execute(
            "SELECT -bm25(chunks_fts), highlight(chunks_fts, 0, ?, ?) FROM chunks_fts"
            " WHERE chunks_fts MATCH ? AND rowid = ?",
            (OPEN, CLOSE, term.phrase, chunk_id),
        ).fetchone()
        if row is None:
            continue
        spans = marked_spans(row[1]) if markable else ()
        score = float(row[0]) * term.idf / term.fts5_idf
        out.append(TermScore(term.word, score, term.idf, len(spans), spans))
    return tuple(sorted(out, key=lambda t: -t.score))


def marked_spans(marked: str) -> tuple[tuple[int, int], ...]:
    """Spans, in the unmarked text, of the pieces FTS5's highlight() put between markers."""
    spans, offset, start = [], 0, None
    for char in marked:
        if char == OPEN:
            start = offset
        elif char == CLOSE and start is not None:
            spans.append((start, offset))
            start = None
        else:
            offset += 1
    return tuple(spans)
