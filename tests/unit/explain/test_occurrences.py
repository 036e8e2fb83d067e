"""Occurrences of a word in a collection (the senses list on Context): whole sentences."""

from __future__ import annotations

from core.documents.readers import Document
from core.explain.walkthrough import occurrences
from core.ingest.pipeline import ingest_documents
from core.storage.collection import Collection

TEXTS = {
    "rates": "The bank rate rose to 3.5 percent. Dr. Lee of the U.S. bank agreed, e.g. in notes.",
    "link": "Read the [bank notes](http://127.0.0.1:8501/bank.html) first. Then the bank closed.",
    "list": "Errands\n- visit the bank\n- buy bread",
    "other": "Nothing to see here. Really nothing.",
}
EXPECTED = {
    "The bank rate rose to 3.5 percent.",
    "Dr. Lee of the U.S. bank agreed, e.g. in notes.",
    "Read the [bank notes](http://127.0.0.1:8501/bank.html) first.",
    "Then the bank closed.",
    "- visit the bank",
}


def test_occurrences_are_whole_sentences_with_the_word_marked(tiny_embedder) -> None:
    collection = Collection("occ", tiny_embedder.info, create=True)
    ingest_documents(collection, tiny_embedder, [Document(i, t, "test") for i, t in TEXTS.items()])
    found = occurrences(collection.store, "bank")
    assert len(found) == len(EXPECTED)
    assert {sentence for sentence, _, _ in found} == EXPECTED
    for sentence, start, end in found:
        assert sentence[start:end].lower() == "bank"


def test_occurrences_stop_at_the_limit(tiny_embedder) -> None:
    collection = Collection("occ", tiny_embedder.info, create=True)
    ingest_documents(collection, tiny_embedder, [Document(i, t, "test") for i, t in TEXTS.items()])
    assert len(occurrences(collection.store, "bank", limit=2)) == 2
