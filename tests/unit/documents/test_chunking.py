"""Documents -> chunks: token windows that fit the model, cover the text and overlap."""

from __future__ import annotations

import random
from itertools import pairwise
from typing import Any

import pytest

from core.documents.chunking import Chunk, chunk_texts, split_offsets
from tests.tiny_model import FIXTURE_DIR

WORDS = [w for w in FIXTURE_DIR.joinpath("vocab.txt").read_text().split() if w.isalpha()]
# Words the tiny vocab splits into several pieces, some ending in pieces ("##ness", "##ly")
# that re-tokenize into more tokens when a chunk starts on them.
SPLIT_WORDS = ["quickness", "kingly", "running", "qwxyz", "unbelievably", "tokenization"]


def n_tokens(tokenizer: Any, text: str) -> int:
    """Content tokens (no [CLS]/[SEP]) that ``text`` becomes on its own."""
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def random_text(seed: int, words: int) -> str:
    """Reproducible prose-like text: vocab words, split words, punctuation and line breaks."""
    rnd = random.Random(seed)
    pieces = []
    for _ in range(words):
        word = rnd.choice(WORDS + SPLIT_WORDS)
        pieces.append(word + rnd.choice(["", "", "", ",", ".", "!", "\n"]))
    return " ".join(pieces)


def check_chunks(tokenizer: Any, text: str, chunks: list[Chunk], window: int, overlap: int):
    """Assert every property a chunking must have.

    The overlap is checked in tokens; it may only shrink where a word has more pieces than a
    window's step (then a chunk moves on to the next word rather than start inside one), which
    happens with the tiny windows below but not with a real window and real words.
    """
    roomy = window - overlap > 2 * max(n_tokens(tokenizer, w) for w in text.split())
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert chunks[0].start == 0
    assert chunks[-1].end == len(text)
    for chunk in chunks:
        assert chunk.text == text[chunk.start : chunk.end]
        assert n_tokens(tokenizer, chunk.text) <= window, chunk
    for before, after in pairwise(chunks):
        assert before.start < after.start  # progress
        assert after.end > before.end
        # No gap: the union covers the text (only the spaces between two tokens may fall
        # between chunks that do not overlap).
        assert text[before.end : after.start].strip() == ""
        if overlap and roomy:
            assert after.start < before.end  # a real overlap
            shared = text[after.start : before.end]
            assert n_tokens(tokenizer, shared) >= overlap


def test_short_text_is_one_chunk_equal_to_the_text(tiny_embedder) -> None:
    texts = ["hello world", "", "x" * tiny_embedder.max_tokens]
    chunks = chunk_texts(texts, tiny_embedder.tokenizer, tiny_embedder.max_tokens, 15)
    assert chunks == [[Chunk(0, 0, len(t), t)] for t in texts]


def test_long_in_characters_but_few_tokens_is_one_chunk(tiny_embedder) -> None:
    tokenizer, window = tiny_embedder.tokenizer, tiny_embedder.max_tokens
    text = " ".join(["the"] * 40)  # 159 characters, 40 tokens
    assert len(text) > window > n_tokens(tokenizer, text)
    assert chunk_texts([text], tokenizer, window, 15) == [[Chunk(0, 0, len(text), text)]]


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize(("window", "overlap"), [(62, 15), (62, 0), (16, 7), (8, 3)])
def test_long_text_chunks_fit_cover_and_overlap(
    tiny_embedder, seed: int, window: int, overlap: int
) -> None:
    tokenizer = tiny_embedder.tokenizer
    text = random_text(seed, 60 + 40 * seed)
    assert n_tokens(tokenizer, text) > window
    [chunks] = chunk_texts([text], tokenizer, window, overlap)
    assert len(chunks) > 1
    check_chunks(tokenizer, text, chunks, window, overlap)


def test_chunk_never_starts_inside_a_word(tiny_embedder) -> None:
    """Starting at '##ness' would re-tokenize to 'n ##e ##s ##s' and overflow the window."""
    tokenizer = tiny_embedder.tokenizer
    text = "quickness " * 60
    [chunks] = chunk_texts([text.strip()], tokenizer, 62, 15)
    check_chunks(tokenizer, text.strip(), chunks, 62, 15)
    assert all(c.text.startswith("quickness") for c in chunks)


def test_batches_many_texts_in_order(tiny_embedder) -> None:
    tokenizer = tiny_embedder.tokenizer
    texts = [random_text(seed, 5 + (seed % 3) * 80) for seed in range(300)]
    result = chunk_texts(texts, tokenizer, 62, 15)
    assert len(result) == len(texts)
    for text, chunks in zip(texts, result, strict=True):
        assert chunks[0].start == 0
        assert chunks[-1].end == len(text)
        check_chunks(tokenizer, text, chunks, 62, 15)


def test_real_tokenizer_chunks_fit_its_window() -> None:
    """The bundled model's own WordPiece tokenizer (no weights loaded)."""
    from transformers import AutoTokenizer

    from core.config import default_model_path

    tokenizer = AutoTokenizer.from_pretrained(default_model_path())
    rnd = random.Random(3)
    vocab = [w for w in tokenizer.get_vocab() if w.isalpha() and w.isascii()]
    words = [
        rnd.choice(vocab + SPLIT_WORDS + ["embeddings", "Ünïcödé", "naïveté"]) for _ in range(3000)
    ]
    text = " ".join(words)
    [chunks] = chunk_texts([text], tokenizer, 254, 32)
    assert len(chunks) > 5
    check_chunks(tokenizer, text, chunks, 254, 32)


# --- split_offsets on synthetic offsets ---------------------------------------------------


def one_letter_words(count: int) -> tuple[str, list[tuple[int, int]]]:
    """'a b c ...' and each letter's offsets: one token per word."""
    letters = [chr(ord("a") + i) for i in range(count)]
    return " ".join(letters), [(2 * i, 2 * i + 1) for i in range(count)]


def test_split_offsets_fitting_text_is_whole() -> None:
    text, offsets = one_letter_words(4)
    assert split_offsets(text, offsets, 4, 1) == [Chunk(0, 0, len(text), text)]


def test_split_offsets_windows_and_steps() -> None:
    text, offsets = one_letter_words(10)  # "a b c d e f g h i j"
    chunks = split_offsets(text, offsets, 4, 1)  # tokens 0-3, 3-6, 6-9
    assert [(c.start, c.end) for c in chunks] == [(0, 7), (6, 13), (12, 19)]
    assert [c.text for c in chunks] == ["a b c d", "d e f g", "g h i j"]


def test_split_offsets_last_chunk_runs_to_the_end() -> None:
    text, offsets = one_letter_words(9)
    text += "  "  # trailing characters after the last token stay in the last chunk
    chunks = split_offsets(text, offsets, 4, 0)
    assert [(c.start, c.end) for c in chunks] == [(0, 7), (8, 15), (16, len(text))]


def test_split_offsets_backs_up_to_the_start_of_a_word() -> None:
    text = "ab cd ef gh"
    offsets = [(0, 1), (1, 2), (3, 4), (4, 5), (6, 7), (7, 8), (9, 10), (10, 11)]
    chunks = split_offsets(text, offsets, 4, 1)
    assert [c.text for c in chunks] == ["ab cd", "cd ef", "ef gh"]


def test_split_offsets_word_longer_than_a_step_still_moves_on() -> None:
    text = "abcdefghijkl"  # one word of 12 one-letter pieces
    offsets = [(i, i + 1) for i in range(12)]
    chunks = split_offsets(text, offsets, 4, 1)
    assert [(c.start, c.end) for c in chunks] == [(0, 4), (3, 7), (6, 10), (9, 12)]


def test_split_offsets_punctuation_is_a_word_boundary() -> None:
    text = "abc,def"
    offsets = [(0, 3), (3, 4), (4, 5), (5, 6), (6, 7)]  # abc , d ##e ##f
    chunks = split_offsets(text, offsets, 3, 0)  # the 2nd window backs up from ##e to d
    assert [c.text for c in chunks] == ["abc,d", "def"]


def test_split_offsets_moves_forward_when_a_word_fills_the_step() -> None:
    text = "ab cdefgh ij"  # ab | c ##d ##e ##f ##g ##h | ij
    offsets = [(0, 2), (3, 4), (4, 5), (5, 6), (6, 7), (7, 8), (8, 9), (10, 12)]
    chunks = split_offsets(text, offsets, 6, 2)
    # 2nd window: ##f backs up to c. 3rd: ##g cannot back up past the 2nd start, so it moves
    # on to the next word (ij) rather than start inside cdefgh.
    assert [c.text for c in chunks] == ["ab cdefg", "cdefgh", "ij"]


@pytest.mark.parametrize(
    ("window", "overlap"), [(7, 0), (0, 0), (16, 8), (16, 9), (62, 32), (8, -1)]
)
def test_bad_window_or_overlap_is_refused(tiny_embedder, window: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="window"):
        chunk_texts(["some text"], tiny_embedder.tokenizer, window, overlap)
