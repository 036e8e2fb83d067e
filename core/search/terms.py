"""Query words shared by both keyword rankings (FTS5's and Milvus's): the content words of a
query, a word's weight (:class:`Term`) and the hit a keyword ranking returns.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

from core.search.hits import Hit, hit_from_row
from core.storage.store import ChunkRow

WORD_RE = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset(
    "a about an and are as at be been but by can could did do does for from had has have how "
    "i if in into is it its may more most no not of on or our than that the their them then "
    "there these they this those to was we were what when where which while who why will with "
    "would you your".split()
)
MAX_TERMS = 64
K1, B = 1.2, 0.75


@dataclass(frozen=True)
class Term:
    """A query word and its weight in this collection: n chunks of N hold it."""

    word: str
    chunks_with: int
    chunks: int

    @property
    def idf(self) -> float:
        """Lucene's idf, never negative: ``ln(1 + (N - n + 0.5) / (n + 0.5))``."""
        return math.log(1 + (self.chunks - self.chunks_with + 0.5) / (self.chunks_with + 0.5))

    @property
    def fts5_idf(self) -> float:
        """The idf inside FTS5's ``bm25()``: ``ln((N - n + 0.5) / (n + 0.5))``, at least 1e-6."""
        raw = math.log((self.chunks - self.chunks_with + 0.5) / (self.chunks_with + 0.5))
        return raw if raw > 0 else 1e-6

    @property
    def phrase(self) -> str:
        """The word as an FTS5 string (quoted, so it is never FTS5 syntax)."""
        return '"' + self.word.replace('"', '""') + '"'


def content_words(text: str) -> list[str]:
    """The query's distinct content words, lower-cased, in order (at most MAX_TERMS)."""
    words = [w.lower() for w in WORD_RE.findall(text)]
    return list(dict.fromkeys(w for w in words if w not in STOPWORDS))[:MAX_TERMS]


def keyword_hit(rank: int, score: float, row: ChunkRow) -> Hit:
    """A hit found by the keyword ranking (BM25 ``score``) at ``rank``."""
    return replace(
        hit_from_row(rank, score, row),
        found_by=("keyword",),
        dense_score=None,
        dense_rank=None,
        dense_chunk=None,
        keyword_score=score,
        keyword_rank=rank,
        keyword_chunk=row.ordinal,
    )
