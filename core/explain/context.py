"""Words in context: follow one word through the model, in several sentences at once.

A sentence becomes word pieces (each with an id and the characters it came from); the chosen
word is found in it (first whole-word occurrence, case-insensitive, or the occurrence picked);
a word split into several pieces is represented by the mean of its pieces. The model then
reports, for that word, its vector after every layer, where it looked (attention), how much each
sub-layer changed it, and how much each other word of the sentence matters to its final vector.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.errors import InputError
from core.explain import attention
from core.explain.word_vectors import (
    Tokens,
    span_positions,
    tokenize,
)
from core.model.embedder import Embedder

if TYPE_CHECKING:
    from core.explain.word_sense import Calibration

log = logging.getLogger(__name__)

MAX_SENTENCES = 8
MAX_SENTENCE_CHARS = 2_000
WORD_RE = re.compile(r"\w+(?:['’-]\w+)*|[^\w\s]", re.UNICODE)


@dataclass(frozen=True)
class WordSpan:
    """Where the chosen word sits: its form in the sentence, characters and piece positions."""

    text: str
    start: int
    end: int
    positions: tuple[int, ...]


@dataclass(frozen=True)
class WordChoice:
    """A word of a sentence a person can pick: its label, form and occurrence number."""

    label: str
    form: str
    occurrence: int
    start: int


def word_choices(text: str, word: str = "", most: int = 300) -> tuple[list[WordChoice], int | None]:
    """The words of ``text`` to pick from, and which one ``word`` selects (None if absent).

    ``(form, occurrence)`` of a choice passed to :func:`find_word` finds exactly that word.
    """
    choices: list[WordChoice] = []
    for match in WORD_RE.finditer(text):
        form = match.group()
        if any(ch.isalnum() for ch in form) and len(choices) < most:
            starts = [m.start() for m in _occurrences(text, form)]
            n = starts.index(match.start()) if match.start() in starts else 0
            label = form + (f" (#{n + 1})" if n else "")
            choices.append(WordChoice(label, form, n, match.start()))
    try:
        _, start, _ = find_word(text, word)
    except InputError:
        return choices, None
    hits = [i for i, c in enumerate(choices) if c.start <= start < c.start + len(c.form)]
    return choices, (hits[0] if hits else None)


def find_word(text: str, word: str, occurrence: int | None = None) -> tuple[str, int, int]:
    """Find ``word`` in ``text`` -> (form found, start, end).

    The first whole-word occurrence, ignoring case (or occurrence number ``occurrence``). When
    the word itself is absent, a form of it is used instead: first a word that starts with it
    ("model" finds "models"), then one sharing its stem ("carry" finds "carries"); irregular
    forms ("go" / "went") must be typed as they appear.

    Raises:
        InputError: when neither the word nor a form of it is in the text.
    """
    word = word.strip()
    if not word:
        raise InputError("Type the word to follow (for example: bank).")
    matches = _occurrences(text, word)
    if matches:
        match = matches[min(occurrence or 0, len(matches) - 1)]
        return match.group(), match.start(), match.end()
    short = text if len(text) <= 80 else text[:77] + "…"
    raise InputError(
        f"'{word}' is not a word of the sentence \u201c{short}\u201d. Type the word as it "
        "appears there (any case), or pick it from the sentence's words."
    )


def _occurrences(text: str, word: str) -> list[re.Match[str]]:
    escaped = re.escape(word)
    for pattern in (rf"(?<!\w){escaped}(?!\w)", rf"(?<!\w){escaped}\w+"):
        matches = list(re.finditer(pattern, text, re.IGNORECASE))
        if matches:
            return matches
    target = word.casefold()
    need = max(3, len(target) - 2)
    scored = []
    for match in WORD_RE.finditer(text):
        form = match.group().casefold()
        pairs = enumerate(zip(form, target, strict=False))
        shared = next((i for i, (x, y) in pairs if x != y), min(len(form), len(target)))
        if shared >= need:
            scored.append((shared, match))
    best = max((s for s, _ in scored), default=0)
    return [m for s, m in scored if s == best]


def locate(tokens: Tokens, word: str, occurrence: int | None = None) -> WordSpan:
    """The pieces of ``word`` in ``tokens`` (see :func:`find_word`).

    Raises:
        InputError: when the word is absent or lies past the model window.
    """
    form, start, end = find_word(tokens.text, word, occurrence)
    try:
        positions = span_positions(tokens, (start, end))
    except InputError:
        raise InputError(
            f"'{form}' comes after the first {len(tokens.ids) - 2} word pieces, past the "
            "model window. Shorten the sentence so the word comes earlier."
        ) from None
    return WordSpan(form, start, end, positions)


def check_sentences(sentences: Sequence[str], words: Sequence[str] | None = None) -> list[str]:
    """Validate the inputs of a comparison; return the sentences stripped.

    Raises:
        InputError: empty input, too many sentences, too long, or a missing word.
    """
    cleaned = [s.strip() for s in sentences]
    if not cleaned or not any(cleaned):
        raise InputError("Type at least one sentence that uses the word.")
    if len(cleaned) > MAX_SENTENCES:
        raise InputError(
            f"{len(cleaned)} sentences is too many to compare at once; the limit is "
            f"{MAX_SENTENCES}. Remove some."
        )
    if words is not None and len(words) != len(cleaned):
        raise InputError("Give one word per sentence.")
    for number, text in enumerate(cleaned, 1):
        if not text:
            raise InputError(f"Sentence {number} is empty. Type a sentence that uses the word.")
        if len(text) > MAX_SENTENCE_CHARS:
            raise InputError(
                f"Sentence {number} has {len(text):,} characters; the limit is "
                f"{MAX_SENTENCE_CHARS:,}. Shorten it."
            )
    return cleaned


def notes_for(tokens: Tokens, span: WordSpan, number: int) -> list[str]:
    """Plain-words remarks about one sentence: truncation, unknown pieces."""
    notes = []
    if tokens.truncated:
        notes.append(
            f"Sentence {number} is longer than the model window: only its first "
            f"{len(tokens.ids) - 2} word pieces are read (as in search)."
        )
    unknown = [tokens.pieces[i] for i in span.positions]
    if all(p == "[UNK]" for p in unknown):
        notes.append(
            f"In sentence {number}, '{span.text}' is not in the model's vocabulary: it becomes "
            "[UNK], a single catch-all piece, so its vector says nothing about the word itself."
        )
    return notes


def compare_pairs(
    records: Sequence[Mapping[str, Any]],
    embedder: Embedder | None = None,
    calibration: Calibration | None = None,
    block: int = 512,
) -> list[dict]:
    """``python -m core compare-word --pairs FILE.jsonl --json``: one output per record.

    Args:
        records: dicts with "id", "sentence_a", "word_a", "sentence_b", "word_b" (each word
            as it appears in its sentence; the first whole-word occurrence is used).
        embedder: the model (default: the configured one).
        calibration: the verdict's calibration (default: the committed one for this model).
        block: records per batch of model runs.

    Returns:
        In input order, ``{"id", "similarity", "by_layer", "same_sense"}`` (similarity = the
        last layer's cosine, by_layer from the embedding layer on), or ``{"id", "error"}``
        for a record that cannot be compared.

    Raises:
        LabError: when no calibration fits the model.
    """
    from core.explain.word_sense import calibration_for

    embedder = embedder or Embedder()
    calibration = calibration or calibration_for(embedder)
    out: list[dict] = []
    for start in range(0, len(records), block):
        out.extend(_compare_block(embedder, calibration, records[start : start + block]))
    return out


def _compare_block(
    embedder: Embedder, calibration: Calibration, records: Sequence[Mapping[str, Any]]
) -> list[dict]:
    from core.explain.word_sense import verdicts

    results: list[dict] = []
    ids, positions, slots = [], [], []
    for record in records:
        try:
            sides = [_side(embedder, record, key) for key in ("a", "b")]
        except InputError as exc:
            results.append({"id": record.get("id"), "error": str(exc)})
            continue
        slots.append(len(results))
        results.append({"id": record.get("id")})
        ids.extend(t.ids for t, _ in sides)
        positions.extend(p for _, p in sides)
    if slots:
        words, sentences = attention.piece_layer_vectors(embedder, ids, positions)
        pair = (words[0::2], words[1::2]), (sentences[0::2], sentences[1::2])
        for slot, verdict in zip(slots, verdicts(calibration, *pair), strict=True):
            results[slot].update(
                similarity=verdict.by_layer[-1],
                by_layer=list(verdict.by_layer),
                same_sense=verdict.same_sense,
            )
    return results


def _side(embedder: Embedder, record: Mapping[str, Any], key: str) -> tuple[Tokens, tuple]:
    sentence, word = record.get(f"sentence_{key}"), record.get(f"word_{key}")
    if not isinstance(sentence, str) or not isinstance(word, str):
        raise InputError(f"Give sentence_{key} and word_{key} as text.")
    tokens = tokenize(embedder, check_sentences([sentence], [word])[0])
    return tokens, locate(tokens, word).positions


def compare_word(
    word: str,
    sentence_a: str,
    sentence_b: str,
    embedder: Embedder | None = None,
    word_b: str | None = None,
) -> dict:
    """``python -m core compare-word WORD "SENTENCE A" "SENTENCE B"``.

    Returns:
        {"word", "word_a", "word_b" (the forms found), "similarity", "by_layer", "same_sense",
        "score", "threshold"}.

    Raises:
        InputError: a word missing from a sentence, an empty or over-long sentence.
        LabError: when no calibration fits the model.
    """
    from core.explain.word_sense import calibration_for, verdicts

    embedder = embedder or Embedder()
    record = {"sentence_a": sentence_a, "word_a": word, "sentence_b": sentence_b}
    record["word_b"] = word_b or word
    (ta, pa), (tb, pb) = (_side(embedder, record, key) for key in ("a", "b"))
    words, sentences = attention.piece_layer_vectors(embedder, [ta.ids, tb.ids], [pa, pb])
    verdict = verdicts(
        calibration_for(embedder), (words[:1], words[1:]), (sentences[:1], sentences[1:])
    )[0]
    return {
        "word": word,
        "word_a": find_word(sentence_a, word)[0],
        "word_b": find_word(sentence_b, record["word_b"])[0],
        "similarity": verdict.by_layer[-1],
        "by_layer": list(verdict.by_layer),
        "same_sense": verdict.same_sense,
        "score": verdict.score,
        "threshold": verdict.threshold,
    }
