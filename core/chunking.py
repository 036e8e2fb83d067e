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
    """Cut ``text`` into token windows given each token's (start, end) character offsets."""
    if len(offsets) <= window:
        return [Chunk(0, 0, len(text), text)]
    chunks = []
    step = window - overlap
    for ordinal, first in enumerate(range(0, len(offsets), step)):
        last = min(first + window, len(offsets)) - 1
        start = offsets[first][0] if first else 0
        end = offsets[last][1] if last < len(offsets) - 1 else len(text)
        chunks.append(Chunk(ordinal, start, end, text[start:end]))
        if last == len(offsets) - 1:
            break
    return chunks
