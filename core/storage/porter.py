"""The embedded store's keyword terms, for engines without its stemmer.

Data flow: texts -> an in-memory SQLite FTS5 table with the embedded store's tokenizer
(:data:`TOKENIZE`, the one :mod:`core.storage.store` indexes with: Unicode words, case and
diacritics folded, Porter-stemmed) -> its ``fts5vocab`` ``instance`` table -> each text's terms
in order. SQLite itself tokenises, so the terms are exactly the ones FTS5 ranks by; a Milvus
collection stores them space-joined and ranks them with its BM25 (see
:mod:`core.storage.milvus_store`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

TOKENIZE = "porter unicode61 remove_diacritics 2"


def porter_terms(texts: Sequence[str]) -> list[list[str]]:
    """Each text's FTS5 Porter terms, in order (``"Running runs"`` -> ``["run", "run"]``)."""
    db = sqlite3.connect(":memory:")
    try:
        db.execute(f"CREATE VIRTUAL TABLE t USING fts5(text, tokenize='{TOKENIZE}')")
        db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
        db.executemany(
            "INSERT INTO t(rowid, text) VALUES (?, ?)", [(i, t) for i, t in enumerate(texts)]
        )
        out: list[list[str]] = [[] for _ in texts]
        for doc, term in db.execute("SELECT doc, term FROM v ORDER BY doc, offset"):
            out[doc].append(term)
        return out
    finally:
        db.close()


def porter_text(text: str) -> str:
    """``text``'s FTS5 Porter terms joined by spaces."""
    return " ".join(porter_terms([text])[0])
