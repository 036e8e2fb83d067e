"""FTS5 Porter terms: the embedded store's own tokenizer, in order, per text."""

from __future__ import annotations

import sqlite3

from core.storage.porter import TOKENIZE, porter_terms, porter_text
from core.storage.store import SCHEMA


def test_the_tokenizer_is_the_embedded_stores() -> None:
    assert f"tokenize='{TOKENIZE}'" in SCHEMA


def test_terms_are_stemmed_folded_and_in_order() -> None:
    texts = ["Running runs RUN", "", "Café naïve foo_bar 3.14", "the ponies caresses"]
    assert porter_terms(texts) == [
        ["run", "run", "run"],
        [],
        ["cafe", "naiv", "foo", "bar", "3", "14"],
        ["the", "poni", "caress"],
    ]
    assert porter_text("Running shoes") == "run shoe"


def test_a_term_is_what_fts5_matches() -> None:
    db = sqlite3.connect(":memory:")
    db.execute(f"CREATE VIRTUAL TABLE t USING fts5(text, tokenize='{TOKENIZE}')")
    text = "Runners were running; the runner ran"
    db.execute("INSERT INTO t(rowid, text) VALUES (1, ?)", (text,))
    for term in porter_terms([text])[0]:
        assert db.execute("SELECT count(*) FROM t WHERE t MATCH ?", (f'"{term}"',)).fetchone()[0]
