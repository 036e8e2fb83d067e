"""measure.sentences: the baselines it compares against, and its figures on a few texts."""

from __future__ import annotations

from measure import highlighting
from measure import sentences as ms

TEXTS = [
    "The rate rose to 3.5 percent. Dr. Lee agreed.",
    "Risk was <0.70 in small practices. Nine (n = 12) were >0.85.",
    "Groceries\n- eggs\n- milk",
]


def test_legacy_spans_is_the_old_regex() -> None:
    text = TEXTS[0]
    assert [text[a:b] for a, b in ms.legacy_spans(text)] == [
        "The rate rose to 3.",
        "5 percent.",
        "Dr.",
        "Lee agreed.",
    ]
    assert ms.legacy_spans("  ") == [(0, 2)]


def test_loses_text_sees_an_uncovered_character() -> None:
    assert not ms.loses_text("ab. cd.", [(0, 3), (4, 7)])
    assert ms.loses_text("ab. cd.", [(0, 3)])


def test_report_counts_cases_and_disagreements() -> None:
    figures = ms.report_segmenters(TEXTS[:2], TEXTS, examples=0, repeat=1)
    assert figures["cases"] == len(ms.CASES)
    assert figures["cases_right[sentence_spans (now)]"] == len(ms.CASES)
    assert figures["cases_right[regex (before)]"] < len(ms.CASES)
    # the regex cuts 3.5, Dr. and 0.70 (the list it splits at its lines as the project does);
    # sentencex alone finds no boundary between '<' and the next bracket
    assert figures["scifact_split_differently[regex (before) vs sentence_spans (now)]"] == 2
    assert figures["scifact_split_differently[sentencex vs sentence_spans (now)]"] == 1
    for name in ms.CANDIDATES:
        assert figures[f"scifact_losing_text[{name}]"] == 0
        assert figures[f"ms_per_1000_demo[{name}]"] > 0


def test_legacy_explain_caps_sentences_across_hits(tiny_embedder) -> None:
    texts = [" ".join(f"Line {i}." for i in range(150))] * 4  # 600 sentences, 400 explained
    query_vector = tiny_embedder.encode_query("line")
    explained = highlighting.legacy_explain(tiny_embedder, "line", query_vector, texts)
    assert [e.sentence != (0, 0) for e in explained] == [True, True, True, False]
    assert explained[3].sentence_score == 0.0
    assert all(len(e.terms) == 150 for e in explained)
