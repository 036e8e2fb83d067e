"""Word vectors by character span: a sentence as the model's pieces, and a word's vector
after every layer.

text -> :class:`Tokens` (pieces, ids, character offsets) -> the pieces under a character span
-> that word's vector and the sentence's mean vector at every layer (via
:func:`core.explain.attention.piece_layer_vectors`). Shared by words in context
(:mod:`core.explain.context`) and the same-sense verdict (:mod:`core.explain.word_sense`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import InputError
from core.explain import attention
from core.model.embedder import Embedder


@dataclass(frozen=True)
class Tokens:
    """A sentence as the model reads it.

    Attributes:
        text: the sentence.
        pieces: word pieces, [CLS] first and [SEP] last.
        ids: vocabulary id of each piece.
        offsets: (start, end) characters of each piece in ``text``; (0, 0) for [CLS]/[SEP].
        words: index of the word each piece belongs to (None for [CLS]/[SEP]).
        truncated: True when the sentence was longer than the model window and was cut.
    """

    text: str
    pieces: tuple[str, ...]
    ids: tuple[int, ...]
    offsets: tuple[tuple[int, int], ...]
    words: tuple[int | None, ...]
    truncated: bool = False


def tokenize(embedder: Embedder, text: str) -> Tokens:
    """Split ``text`` into the model's word pieces, cut to the model window if needed."""
    enc = embedder.tokenizer(text, return_offsets_mapping=True, add_special_tokens=True)
    ids, offsets, words = list(enc["input_ids"]), list(enc["offset_mapping"]), enc.word_ids()
    limit = attention.max_length(embedder)
    truncated = len(ids) > limit
    if truncated:  # keep [CLS] + the first (limit - 2) pieces + [SEP], as the Embedder does
        ids = [*ids[: limit - 1], ids[-1]]
        offsets = [*offsets[: limit - 1], offsets[-1]]
        words = [*words[: limit - 1], words[-1]]
    pieces = embedder.tokenizer.convert_ids_to_tokens(ids)
    return Tokens(
        text=text,
        pieces=tuple(pieces),
        ids=tuple(int(i) for i in ids),
        offsets=tuple((int(a), int(b)) for a, b in offsets),
        words=tuple(words),
        truncated=truncated,
    )


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity along the last axis (0 where a vector is all zeros)."""
    num = (a * b).sum(-1)
    den = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return np.where(den > 0, num / np.maximum(den, 1e-12), 0.0)


def span_layer_vectors(
    embedder: Embedder, texts: Sequence[str], spans: Sequence[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray]:
    """Vectors of a character span of each text, and of the whole text, after every layer.

    Returns:
        (words, sentences), both (N, layers + 1, D); see :func:`attention.piece_layer_vectors`.

    Raises:
        InputError: when a span covers no piece (empty, or past the model window).
    """
    tokens = [tokenize(embedder, t) for t in texts]
    positions = [span_positions(tok, s) for tok, s in zip(tokens, spans, strict=True)]
    return attention.piece_layer_vectors(embedder, [t.ids for t in tokens], positions)


def span_positions(tokens: Tokens, span: tuple[int, int]) -> tuple[int, ...]:
    """Positions of the pieces overlapping characters ``span`` ([CLS]/[SEP] never).

    Raises:
        InputError: when none does.
    """
    start, end = span
    found = tuple(
        i
        for i, (a, b) in enumerate(tokens.offsets)
        if tokens.words[i] is not None and b > a and a < end and b > start
    )
    if not found:
        raise InputError(
            f"Characters {start}-{end} of \u201c{tokens.text[:60]}\u201d hold no word piece "
            "(empty, or past the model window)."
        )
    return found
