"""Hits -> explanations: the best sentence and the shared words, as spans of the text."""

from __future__ import annotations

import numpy as np
import pytest

from core.documents.sentences import sentence_spans
from core.search.highlight import (
    MAX_SENTENCES_PER_HIT,
    explain,
    query_terms,
    term_spans,
)

# --- terms ------------------------------------------------------------------------------


def test_query_terms_drop_stopwords_and_case() -> None:
    assert query_terms("What is THE Embedding of a Word?") == {"embedding", "word"}
    assert query_terms("the and of") == set()


def test_term_spans_match_shared_stems() -> None:
    text = "Embeddings embedded in a bed; EMBED it. Vectors vectorise. Word words."
    spans = term_spans(text, {"embedding", "vector", "word", "in"})
    assert [text[a:b] for a, b in spans] == [
        "Embeddings",
        "embedded",
        "EMBED",
        "Vectors",
        "vectorise",
        "Word",
    ]
    assert term_spans(text, set()) == ()


# --- explain ------------------------------------------------------------------------------


def test_explain_picks_the_best_sentence_by_cosine(tiny_embedder) -> None:
    texts = [
        "The river bank was muddy. She deposited money at the bank! A snake swam by.",
        "One sentence without an ending",
        "",
        "Model vectors. Search queries.\nAttention heads.",
    ]
    query = "money in the bank"
    query_vector = tiny_embedder.encode_query(query)
    explanations = explain(tiny_embedder, query, query_vector, texts)
    assert len(explanations) == len(texts)
    for text, explanation in zip(texts, explanations, strict=True):
        spans = sentence_spans(text)
        scores = tiny_embedder.encode([text[a:b] for a, b in spans]) @ query_vector
        assert explanation.sentence == spans[int(np.argmax(scores))]
        assert explanation.sentence_score == pytest.approx(float(scores.max()), abs=1e-5)
        assert -1.0 - 1e-5 <= explanation.sentence_score <= 1.0 + 1e-5
        for start, end in (explanation.sentence, *explanation.terms):
            assert 0 <= start <= end <= len(text)
    first = explanations[0]
    assert [texts[0][a:b] for a, b in first.terms] == ["bank", "money", "bank"]


def best_by_brute_force(embedder, query_vector: np.ndarray, text: str) -> tuple[int, int]:
    """The span among the first MAX_SENTENCES_PER_HIT of ``text`` closest to the query."""
    spans = sentence_spans(text)[:MAX_SENTENCES_PER_HIT]
    scores = embedder.encode([text[a:b] for a, b in spans]) @ query_vector
    return spans[int(np.argmax(scores))]


def test_every_one_of_many_hits_gets_its_highlight(tiny_embedder) -> None:
    # 50 hits of 12 sentences: 600 sentences, more than any cap across hits used to allow
    texts = [
        " ".join(f"Hit {h} says thing {s} about topic {(h * 7 + s) % 13}." for s in range(12))
        for h in range(50)
    ]
    assert all(len(sentence_spans(t)) == 12 for t in texts)
    query_vector = tiny_embedder.encode_query("topic 5")
    explanations = explain(tiny_embedder, "topic 5", query_vector, texts)
    assert len(explanations) == 50
    for text, explanation in zip(texts, explanations, strict=True):
        assert explanation.sentence == best_by_brute_force(tiny_embedder, query_vector, text)
        start, end = explanation.sentence
        vector = tiny_embedder.encode([text[start:end]])[0]
        assert explanation.sentence_score == pytest.approx(float(vector @ query_vector), abs=1e-5)


def test_a_hit_with_many_sentences_is_explained_from_its_first_ones(tiny_embedder) -> None:
    long_text = " ".join(f"Sentence {i}." for i in range(MAX_SENTENCES_PER_HIT + 20))
    texts = [long_text, "A short hit. With two sentences."] * 3
    query_vector = tiny_embedder.encode_query("sentence")
    explanations = explain(tiny_embedder, "sentence", query_vector, texts)
    assert len(explanations) == 6
    for text, explanation in zip(texts, explanations, strict=True):
        assert explanation.sentence == best_by_brute_force(tiny_embedder, query_vector, text)
    assert len(explanations[0].terms) == MAX_SENTENCES_PER_HIT + 20  # words: the whole text


def test_explain_nothing(tiny_embedder) -> None:
    assert explain(tiny_embedder, "q", tiny_embedder.encode_query("q"), []) == []


@pytest.mark.slow
def test_explain_finds_the_relevant_sentence_with_the_real_model(real_embedder) -> None:
    text = (
        "The cat slept on the warm windowsill all afternoon. "
        "The central bank raised interest rates to fight inflation. "
        "Our hiking trail followed the river up into the mountains."
    )
    query = "monetary policy and rising prices"
    [explanation] = explain(real_embedder, query, real_embedder.encode_query(query), [text])
    start, end = explanation.sentence
    assert text[start:end] == "The central bank raised interest rates to fight inflation."
    assert explanation.sentence_score > 0.3


def test_recent_sentence_vectors_are_the_models_and_are_reused(tiny_embedder) -> None:
    # the model is shared by the whole session: texts no other test has embedded
    texts = ["The river bank was muddy (r1).", "A python is a snake (r1)."]
    texts.append(texts[0])
    before = tiny_embedder.recent_hits
    first = tiny_embedder.encode_recent(texts)
    assert np.allclose(first, tiny_embedder.encode(texts), atol=1e-5)
    assert tiny_embedder.recent_hits - before == 1  # the repeat within the call
    again = tiny_embedder.encode_recent(texts[:2])
    assert tiny_embedder.recent_hits - before == 3
    assert np.array_equal(again, first[:2])
    assert tiny_embedder.encode_recent([]).shape == (0, tiny_embedder.dimension)


def test_recent_vectors_are_bounded(tiny_embedder, monkeypatch) -> None:
    from core.model import embedder as embedder_module

    monkeypatch.setattr(embedder_module, "RECENT_TEXTS", 3)
    tiny_embedder.encode_recent([f"sentence number {n}" for n in range(10)])
    assert len(tiny_embedder._recent) == 3
    assert list(tiny_embedder._recent)[-1] == "sentence number 9"
