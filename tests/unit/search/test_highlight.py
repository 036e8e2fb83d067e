"""Hits -> explanations: best sentence, shared words, and HTML that is always escaped."""

from __future__ import annotations

import html
import random
import re

import numpy as np
import pytest

from core.documents.sentences import sentence_spans
from core.search.highlight import (
    MAX_SENTENCES_PER_HIT,
    Explanation,
    explain,
    highlight_html,
    query_terms,
    term_spans,
)

HOSTILE = (
    "Intro line. <script>alert(1)</script> and <img src=x onerror=alert(1)> here!\n"
    'He said "hi" & \'bye\' <b>bold</b> </mark><mark> --> <!-- <a href="javascript:x">x</a>'
)
OUR_TAGS = re.compile(r'<mark class="passage">|</mark>|<b>|</b>')


def strip_our_tags(markup: str) -> str:
    """Remove the only tags highlight_html may emit."""
    return OUR_TAGS.sub("", markup)


def full_explanation(text: str, query: str) -> Explanation:
    """An explanation marking the last sentence and every query word."""
    return Explanation(sentence_spans(text)[-1], 0.5, term_spans(text, query_terms(query)))


@pytest.mark.parametrize(
    "explanation",
    [
        None,
        full_explanation(HOSTILE, "script img alert onerror javascript bold mark"),
        Explanation((0, len(HOSTILE)), 1.0, ()),
        Explanation((0, 0), 0.0, ((13, 19), (40, 43))),
    ],
    ids=["none", "terms", "whole", "empty-sentence"],
)
def test_hostile_html_is_escaped(explanation: Explanation | None) -> None:
    markup = highlight_html(HOSTILE, explanation)
    lowered = markup.lower()
    assert "<script" not in lowered
    assert "<img" not in lowered
    assert "<a " not in lowered
    assert "<!--" not in markup
    if explanation is None or not explanation.terms:
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup
        assert "&lt;img src=x onerror=alert(1)&gt;" in markup
    assert "&quot;hi&quot;" in markup
    assert "&#x27;bye&#x27;" in markup
    assert "&amp;" in markup
    rest = strip_our_tags(markup)
    assert "<" not in rest and ">" not in rest and '"' not in rest and "'" not in rest
    assert html.unescape(rest) == HOSTILE  # nothing lost, nothing added
    assert markup.count("<b>") == markup.count("</b>")
    assert markup.count("<mark") == markup.count("</mark>")


def marked(markup: str, tag: str) -> list[str]:
    """Plain text inside each ``tag`` element of ``markup``."""
    pattern = rf"<{tag}[^>]*>(.*?)</{tag}>" if tag == "b" else rf"<{tag}[^>]*>((?:.|\n)*?)</{tag}>"
    return [html.unescape(strip_our_tags(m)) for m in re.findall(pattern, markup)]


def test_marks_wrap_the_sentence_and_terms() -> None:
    text = "Cats & purr. Dogs <bark> loudly. Birds sing."
    sentence = (13, 32)
    assert text[slice(*sentence)] == "Dogs <bark> loudly."
    terms = term_spans(text, {"dogs", "birds", "bark"})
    markup = highlight_html(text, Explanation(sentence, 0.9, terms))
    assert "".join(marked(markup, "mark")) == "Dogs <bark> loudly."
    assert marked(markup, "b") == ["Dogs", "bark", "Birds"]
    assert markup.startswith("Cats &amp; purr. <mark")
    assert markup.endswith(" sing.")
    assert html.unescape(strip_our_tags(markup)) == text


def test_highlight_without_explanation_is_plain_escaped_text() -> None:
    assert highlight_html("a < b & c", None) == "a &lt; b &amp; c"


def test_random_texts_and_spans_round_trip() -> None:
    rnd = random.Random(0)
    alphabet = "ab <>&\"'.!?\n"
    for _ in range(300):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 40)))
        lo = rnd.randint(0, len(text))
        hi = rnd.randint(lo, len(text))
        terms = term_spans(text, {"aab", "bba", "abba"})
        markup = highlight_html(text, Explanation((lo, hi), 0.1, terms))
        rest = strip_our_tags(markup)
        assert "<" not in rest and ">" not in rest
        assert html.unescape(rest) == text
        assert markup.count("<mark") == markup.count("</mark>") == (1 if hi > lo else 0)
        whole = [t for t in terms if not (t[0] < lo < t[1] or t[0] < hi < t[1])]
        assert markup.count("<b>") == markup.count("</b>") == len(whole)
        if hi > lo:
            assert "".join(marked(markup, "mark")) == text[lo:hi]


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
    markup = highlight_html(text, explanation)
    assert '<mark class="passage">The central bank' in markup


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
