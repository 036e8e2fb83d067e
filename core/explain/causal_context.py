"""A word followed through the causal model in several sentences (the Context page's GPT view).

Data flow: sentences -> the chosen word found in each (``core.explain.context.find_word``) ->
the token that ends it -> the tokens up to and including it, through the causal model (a causal
model's vector for a word depends on nothing after it) -> that token's vector after every layer
and the next-token distribution right after the word. Comparing sentences shows how far the
earlier words alone move the word ("model" after "machine-learning" vs after "fashion").
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import InputError
from core.explain.causal import Guess, check_text, decode_each, softmax, top_guesses
from core.explain.context import find_word
from core.model.causal_lm import CausalLM

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CausalWord:
    """The chosen word in each sentence, as the causal model sees it.

    Attributes:
        words: the form found in each sentence.
        seen: per sentence, the tokens the word's last token sees (itself and those before).
        similarity: (S, layers + 1) cosine of each sentence's word vector with the first
            sentence's, by layer (the input vectors first).
        drift: (S, layers + 1) cosine of each sentence's word vector with its input vector.
        next: per sentence, the likeliest tokens right after the word.
    """

    words: tuple[str, ...]
    seen: tuple[tuple[str, ...], ...]
    similarity: np.ndarray
    drift: np.ndarray
    next: tuple[tuple[Guess, ...], ...]


def follow_word(
    lm: CausalLM,
    sentences: Sequence[str],
    words: Sequence[str],
    occurrences: Sequence[int | None] = (),
    k: int = 5,
) -> CausalWord:
    """Follow ``words[i]`` in ``sentences[i]`` through the causal model.

    Raises:
        InputError: for an empty sentence or a word not in its sentence.
    """
    if not sentences or len(words) != len(sentences):
        raise InputError("Give one word to follow for each sentence.")
    found, seen, vectors, nexts = [], [], [], []
    for i, (sentence, word) in enumerate(zip(sentences, words, strict=True)):
        check_text(sentence, "sentence")
        occurrence = occurrences[i] if i < len(occurrences) else None
        form, ids = _ids_through_word(lm, sentence, word, occurrence)
        hidden, logits = _last_states(lm, ids)
        found.append(form)
        seen.append(decode_each(lm, ids))
        vectors.append(hidden)
        nexts.append(top_guesses(lm, softmax(logits), k))
    stack = np.stack(vectors)  # (S, L+1, D)
    unit = stack / np.linalg.norm(stack, axis=-1, keepdims=True)
    similarity = (unit * unit[:1]).sum(axis=-1)  # (S, L+1)
    drift = (unit * unit[:, :1]).sum(axis=-1)  # (S, L+1)
    return CausalWord(tuple(found), tuple(seen), similarity, drift, tuple(nexts))


def _ids_through_word(
    lm: CausalLM, sentence: str, word: str, occurrence: int | None
) -> tuple[str, list[int]]:
    """(form found, token ids up to and including the word's last token, within the window)."""
    form, start, end = find_word(sentence, word, occurrence)
    enc = lm.tokenizer(sentence, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    last = max((i for i, (a, b) in enumerate(offsets) if a < end and b > start), default=None)
    if last is None:
        raise InputError(f"'{form}' holds no token of the sentence; type another word.")
    ids = list(ids[: last + 1])
    return form, ids[-lm.window :]


def _last_states(lm: CausalLM, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(layers + 1, D) vectors of the last token, and its next-token logits (vocabulary,)."""
    import torch

    with torch.inference_mode():
        out = lm.model(input_ids=torch.tensor([ids]), output_hidden_states=True)
        hidden = torch.stack(out.hidden_states)[:, 0, -1].float().numpy()  # (L+1, D)
        return hidden, out.logits[0, -1].float().numpy()
