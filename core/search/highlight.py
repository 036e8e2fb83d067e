"""Hits -> explanations: which sentence of a hit matches the query best, and which query
words it shares, as character spans (ui.markup.highlight_html marks them in escaped HTML).

Sentences are those of :func:`core.documents.sentences.sentence_spans` (imported here too, for
callers that already use it from this module)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.documents.sentences import sentence_spans
from core.model.embedder import Embedder

WORD_RE = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset(
    "a an and are as at be by can do does for from has have how i in is it its of on or "
    "that the their there this to was what when where which who why will with you your".split()
)
# Sentences of one hit that compete for its highlight: a hit is one chunk (at most the model's
# window of word pieces), so only lists of very short lines reach this; the later ones are not
# scored. The cap counts per hit: every hit gets its highlight however many hits there are.
MAX_SENTENCES_PER_HIT = 32


@dataclass(frozen=True)
class Explanation:
    """Why a hit matched: its best sentence (span and cosine) and shared query words."""

    sentence: tuple[int, int]
    sentence_score: float
    terms: tuple[tuple[int, int], ...]


def query_terms(query: str) -> set[str]:
    """Lower-cased content words of the query."""
    return {w.lower() for w in WORD_RE.findall(query) if w.lower() not in STOPWORDS}


def term_spans(text: str, terms: set[str]) -> tuple[tuple[int, int], ...]:
    """Spans of words in ``text`` that share a stem (first 5 letters) with a query term."""
    stems = {t[:5] for t in terms if len(t) > 2}
    return tuple(m.span() for m in WORD_RE.finditer(text) if m.group().lower()[:5] in stems)


def explain(
    embedder: Embedder, query: str, query_vector: np.ndarray, texts: Sequence[str]
) -> list[Explanation]:
    """Explain each of ``texts`` against the query, embedding all sentences in one batch."""
    spans = [sentence_spans(t) for t in texts]
    flat = [(i, s) for i, doc_spans in enumerate(spans) for s in doc_spans[:MAX_SENTENCES_PER_HIT]]
    return explain_sentences(embedder, query, query_vector, texts, flat)


def explain_sentences(
    embedder: Embedder,
    query: str,
    query_vector: np.ndarray,
    texts: Sequence[str],
    flat: Sequence[tuple[int, tuple[int, int]]],
) -> list[Explanation]:
    """Explain ``texts`` by the best of the given sentences: ``flat`` holds (text index,
    sentence span) pairs, embedded in one batch; a text with none gets an empty sentence."""
    vectors = embedder.encode_recent([texts[i][a:b] for i, (a, b) in flat]) if flat else None
    best: dict[int, tuple[float, tuple[int, int]]] = {}
    for row, (i, span) in enumerate(flat):
        score = float(vectors[row] @ query_vector)
        if i not in best or score > best[i][0]:
            best[i] = (score, span)
    terms = query_terms(query)
    return [
        Explanation(
            sentence=best.get(i, (0.0, (0, 0)))[1],
            sentence_score=best.get(i, (0.0, (0, 0)))[0],
            terms=term_spans(text, terms),
        )
        for i, text in enumerate(texts)
    ]
