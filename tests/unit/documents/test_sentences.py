"""Text -> sentence spans: the cases a one-line regex got wrong, and exact offsets."""

from __future__ import annotations

import random
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.documents.sentences import sentence_spans


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` as strings, checking that each span maps back exactly."""
    spans = sentence_spans(text)
    for start, end in spans:
        assert 0 <= start < end <= len(text)
    return [text[start:end] for start, end in spans]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "The rate rose to 3.5 percent. It fell to 2.25 percent in 2020.",
            ["The rate rose to 3.5 percent.", "It fell to 2.25 percent in 2020."],
            id="decimals",
        ),
        pytest.param(
            "Version 2.1.3 is out. Update now.",
            ["Version 2.1.3 is out.", "Update now."],
            id="version-number",
        ),
        pytest.param(
            "Bring a tool, e.g. a hammer, i.e. something heavy. Then knock.",
            ["Bring a tool, e.g. a hammer, i.e. something heavy.", "Then knock."],
            id="e.g.-i.e.",
        ),
        pytest.param(
            "Dr. Smith moved to the U.S. in 1990. She stayed in the U.S. for good.",
            ["Dr. Smith moved to the U.S. in 1990.", "She stayed in the U.S. for good."],
            id="Dr.-U.S.",
        ),
        pytest.param(
            "Mr. and Mrs. Smith arrived at 5 p.m. on Monday. They left.",
            ["Mr. and Mrs. Smith arrived at 5 p.m. on Monday.", "They left."],
            id="titles-p.m.",
        ),
        pytest.param(
            "J. R. R. Tolkien wrote it. A. Smith agreed.",
            ["J. R. R. Tolkien wrote it.", "A. Smith agreed."],
            id="initials",
        ),
        pytest.param(
            "Read the [notes](http://127.0.0.1:8501/notes.html) first. Then ask www.example.com.",
            [
                "Read the [notes](http://127.0.0.1:8501/notes.html) first.",
                "Then ask www.example.com.",
            ],
            id="urls",
        ),
        pytest.param(
            "Write to jane.doe@mail.example.org today. We answer fast.",
            ["Write to jane.doe@mail.example.org today.", "We answer fast."],
            id="e-mail",
        ),
        pytest.param(
            "Scores were <0.70 in small practices. Nine (n = 12) were >0.85. Done.",
            ["Scores were <0.70 in small practices.", "Nine (n = 12) were >0.85.", "Done."],
            id="comparison-signs",
        ),
        pytest.param(
            "Wait... what? I see… fine. It ended...",
            ["Wait... what?", "I see… fine.", "It ended..."],
            id="ellipses",
        ),
        pytest.param(
            'He said "Stop." Then he left. She wrote “Done.” Nobody replied.',
            ['He said "Stop."', "Then he left.", "She wrote “Done.”", "Nobody replied."],
            id="quotes-after-full-stop",
        ),
        pytest.param(
            "Shopping:\n- eggs\n- milk\n* bread\n• tea\nThat is all.",
            ["Shopping:", "- eggs", "- milk", "* bread", "• tea", "That is all."],
            id="bullets",
        ),
        pytest.param(
            "1. First step\n2. Second step\na) one option\n(iv) another",
            ["1. First step", "2. Second step", "a) one option", "(iv) another"],
            id="numbered-items",
        ),
        pytest.param(
            "Title Without Stop\nFirst line without punctuation\nSecond one. Third one!",
            [
                "Title Without Stop",
                "First line without punctuation",
                "Second one.",
                "Third one!",
            ],
            id="lines-without-punctuation",
        ),
        pytest.param(
            "First paragraph ends here\n\n  second paragraph in lower case",
            ["First paragraph ends here", "second paragraph in lower case"],
            id="blank-line",
        ),
        pytest.param(
            "The results show that the\nmodel improves on the baseline. Next one.",
            ["The results show that the\nmodel improves on the baseline.", "Next one."],
            id="wrapped-line-stays-whole",
        ),
        pytest.param(
            "Der Zins stieg auf 3,5 Prozent. Dr. Müller sagte das. Ende.",
            ["Der Zins stieg auf 3,5 Prozent.", "Dr. Müller sagte das.", "Ende."],
            id="german",
        ),
        pytest.param(
            "Le taux a augmenté. M. Dupont l'a dit. Fin.",
            ["Le taux a augmenté.", "M. Dupont l'a dit.", "Fin."],
            id="french",
        ),
        pytest.param(
            "Это первое предложение. Это второе!",
            ["Это первое предложение.", "Это второе!"],
            id="russian",
        ),
        pytest.param(
            "東京は大きい。大阪も大きい！", ["東京は大きい。", "大阪も大きい！"], id="japanese"
        ),
        pytest.param("यह पहला वाक्य है। यह दूसरा है।", ["यह पहला वाक्य है।", "यह दूसरा है।"], id="hindi"),
        pytest.param(
            "Big 😀 bee. Cat 👍🏽 dog. Gone 𝔘𝔫𝔦. Now.",
            ["Big 😀 bee.", "Cat 👍🏽 dog.", "Gone 𝔘𝔫𝔦.", "Now."],
            id="astral-characters",
        ),
    ],
)
def test_sentences(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_old_regex_cases_still_split() -> None:
    text = "First one.  Second one!  Third?\nFourth line\n\n  Wait... what?   trailing words"
    assert sentences(text) == [
        "First one.",
        "Second one!",
        "Third?",
        "Fourth line",
        "Wait... what?",
        "trailing words",
    ]


@pytest.mark.parametrize("text", ["", "   ", "\n\n", " \t\r\n "])
def test_a_text_without_sentences_stands_in_whole(text: str) -> None:
    assert sentence_spans(text) == [(0, len(text))]


def test_lone_surrogates_and_nul_keep_their_offsets() -> None:
    text = "Bad \ud800 byte here. Nul \x00 too. End."
    assert sentences(text) == ["Bad \ud800 byte here.", "Nul \x00 too.", "End."]


@pytest.mark.parametrize("text", ["no punctuation at all", "...", "x", "  padded words  "])
def test_a_text_without_boundaries_is_one_sentence(text: str) -> None:
    assert sentences(text) == [text.strip()]


def check_spans(text: str) -> None:
    """Spans are ordered, disjoint, trimmed and non-empty; outside them is only whitespace."""
    spans = sentence_spans(text)
    assert spans
    if not text.strip():
        assert spans == [(0, len(text))]
        return
    for (_, end), (start, _) in pairwise(spans):
        assert end <= start
        assert not text[end:start].strip()  # nothing but whitespace between sentences
    assert not text[: spans[0][0]].strip() and not text[spans[-1][1] :].strip()
    for start, end in spans:
        piece = text[start:end]
        assert piece and piece == piece.strip()


def test_random_texts_keep_every_character() -> None:
    rnd = random.Random(2)
    alphabet = ["ab", "Ab", "3.5", "e.g.", "U.S.", " ", "  ", ".", "!", "?", "\n", "\t", "- ", "…"]
    for _ in range(500):
        check_spans("".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 40))))


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(exclude_categories=()), max_size=200))
def test_any_text_keeps_every_character(text: str) -> None:
    check_spans(text)
