"""Documents -> chunks: split text to the model's window so nothing is silently truncated.

Chunks are cut on token boundaries (using the model's own tokenizer and its character
offsets) with an overlap, and each chunk keeps its character span in the document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Chunk:
    """A window of a document's text: its position, span and text."""

    ordinal: int
    start: int
    end: int
    text: str


def chunk_texts(
    texts: Sequence[str], tokenizer: Any, window: int, overlap: int = 32
) -> list[list[Chunk]]:
    """Split each text into chunks of at most ``window`` tokens (special tokens excluded).

    Texts that obviously fit (fewer characters than ``window``) are not tokenized at all.

    Args:
        texts: the documents' texts.
        tokenizer: a Hugging Face fast tokenizer (needs ``return_offsets_mapping``).
        window: the most content tokens a chunk may hold.
        overlap: tokens shared by neighbouring chunks, so a passage cut in two is whole in one.
    """
    if window < 8 or not 0 <= overlap < window // 2:
        raise ValueError(f"bad chunking window {window} / overlap {overlap}")
    result: list[list[Chunk]] = [[] for _ in texts]
    long_ids = [i for i, text in enumerate(texts) if len(text) > window]
    for i, text in enumerate(texts):
        if len(text) <= window:
            result[i] = [Chunk(0, 0, len(text), text)]
    for start in range(0, len(long_ids), 256):
        batch = long_ids[start : start + 256]
        encoded = tokenizer(
            [texts[i] for i in batch], add_special_tokens=False, return_offsets_mapping=True
        )
        for i, offsets in zip(batch, encoded["offset_mapping"], strict=True):
            result[i] = split_offsets(texts[i], offsets, window, overlap)
    return result


def split_offsets(
    text: str, offsets: Sequence[tuple[int, int]], window: int, overlap: int
) -> list[Chunk]:
    """Cut ``text`` into token windows given each token's (start, end) character offsets.

    A chunk after the first starts on a word's first token: a chunk that began inside a word
    (at a ``##piece``) would re-tokenize into more tokens than ``window`` and be truncated.
    """
    if len(offsets) <= window:
        return [Chunk(0, 0, len(text), text)]
    chunks: list[Chunk] = []
    step, first = window - overlap, 0
    while True:
        last = min(first + window, len(offsets)) - 1
        start = offsets[first][0] if first else 0
        end = offsets[last][1] if last < len(offsets) - 1 else len(text)
        chunks.append(Chunk(len(chunks), start, end, text[start:end]))
        if last == len(offsets) - 1:
            return chunks
        first = _word_start(text, offsets, first + step, floor=first + 1, ceiling=last + 1)


def _word_start(
    text: str, offsets: Sequence[tuple[int, int]], i: int, floor: int, ceiling: int
) -> int:
    """The first token of the word holding token ``i``, searched in ``[floor, ceiling]``.

    Backs up to the word's start if it is at or after ``floor``, else moves on to the next
    word's start up to ``ceiling`` (no gap); a word wider than the window keeps ``i``.
    """
    for j in (*range(i, floor - 1, -1), *range(i + 1, min(ceiling, len(offsets) - 1) + 1)):
        if not _continues(text, offsets, j):
            return j
    return i


def _continues(text: str, offsets: Sequence[tuple[int, int]], i: int) -> bool:
    """Whether token ``i`` continues the word of token ``i - 1`` (no gap, letters both sides)."""
    start = offsets[i][0]
    return (
        i > 0
        and start == offsets[i - 1][1]
        and 0 < start < len(text)
        and text[start - 1].isalnum()
        and text[start].isalnum()
    )
