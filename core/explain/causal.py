"""The next token: what a causal model (GPT) expects after a text, and what each layer says.

Data flow: text -> checked and tokenized (:func:`prompt_ids`, the start cut past the window and
said so) -> one forward pass keeping every layer's vector at the last position -> the last
vector's logits over the whole vocabulary -> softmax at a temperature -> the top tokens, the
entropy, the rank and probability of a token a person names; and a logit lens: every layer's
last vector sent through the final norm and the output head, as if the model stopped there.

The default model is the bundled SmolLM2-135M (``core.model.causal_lm``); the probabilities are
the plain softmax of the model's own logits (a test checks them against ``transformers``).
"""

from __future__ import annotations

import logging
import math
import unicodedata
from dataclasses import dataclass

import numpy as np

from core.errors import InputError
from core.model.causal_lm import CausalLM

log = logging.getLogger(__name__)

MAX_PROMPT_CHARS = 20_000
MAX_K = 50
MIN_TEMPERATURE = 0.05
MAX_TEMPERATURE = 5.0


@dataclass(frozen=True)
class Guess:
    """One candidate next token: its text, id and probability."""

    token: str
    id: int
    prob: float


@dataclass(frozen=True)
class Prompt:
    """A text as the causal model reads it.

    Attributes:
        ids: the token ids the model reads (after any cut).
        tokens: the same tokens as text.
        cut: how many tokens were dropped from the start to fit the window (0 if none).
    """

    ids: tuple[int, ...]
    tokens: tuple[str, ...]
    cut: int

    def cut_note(self, window: int) -> str:
        """A sentence stating the cut, or '' when nothing was cut."""
        if not self.cut:
            return ""
        return (
            f"The text has {self.cut + len(self.ids):,} tokens; the model reads the last "
            f"{len(self.ids):,} here (window {window:,}), so the first {self.cut:,} were cut."
        )


@dataclass(frozen=True)
class LayerReading:
    """The logit lens at one layer (0 = the input vectors, the last = the model's output).

    Attributes:
        layer: the layer number.
        top: the likeliest next tokens had the model stopped here.
        choice_rank: the rank (1 = first) here of the model's final first choice.
        choice_prob: that token's probability here.
    """

    layer: int
    top: tuple[Guess, ...]
    choice_rank: int
    choice_prob: float


@dataclass(frozen=True)
class Probe:
    """Where a token a person named stands in the distribution.

    Attributes:
        text: what was typed (a space is put in front of a word that has none: a new word
            after a text starts with one).
        pieces: the tokens ``text`` becomes; the rank is that of the first.
        rank: 1 for the likeliest token, up to the vocabulary size.
        prob: its probability at the chosen temperature.
    """

    text: str
    pieces: tuple[str, ...]
    rank: int
    prob: float


@dataclass(frozen=True)
class NextToken:
    """The next-token distribution after a text, and the logit lens.

    Attributes:
        model: the model's name.
        prompt: the text as read (tokens, ids, cut).
        temperature: logits are divided by it before the softmax (1 = the model's own).
        top: the k likeliest next tokens at that temperature.
        entropy: the distribution's entropy in bits (0 = certain; log2(vocabulary) = uniform).
        vocabulary: how many tokens the distribution covers.
        by_layer: the logit lens, the input vectors first (temperature 1).
        probe: the rank and probability of a named token, or None.
        cut_note: a sentence stating a cut, or ''.
    """

    model: str
    prompt: Prompt
    temperature: float
    top: tuple[Guess, ...]
    entropy: float
    vocabulary: int
    by_layer: tuple[LayerReading, ...]
    probe: Probe | None
    cut_note: str

    @property
    def tokens(self) -> tuple[str, ...]:
        """The text's tokens as read."""
        return self.prompt.tokens


def check_text(text: str, what: str = "text") -> str:
    """``text`` when a model may read it.

    Raises:
        InputError: empty, too long, or holding control characters (newlines and tabs are fine).
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"Type some {what} for the model to continue.")
    if len(text) > MAX_PROMPT_CHARS:
        raise InputError(
            f"The {what} has {len(text):,} characters; the limit is {MAX_PROMPT_CHARS:,}."
        )
    for position, char in enumerate(text):
        if char not in "\n\t\r" and unicodedata.category(char) == "Cc":
            raise InputError(
                f"The {what} holds a control character (U+{ord(char):04X}) at position "
                f"{position}; remove it and try again."
            )
    return text


def check_temperature(temperature: float) -> float:
    """``temperature`` when usable.

    Raises:
        InputError: for 0, a negative, a huge or a non-number value.
    """
    if not isinstance(temperature, int | float) or not math.isfinite(temperature):
        raise InputError("The temperature must be a number.")
    if not MIN_TEMPERATURE <= temperature <= MAX_TEMPERATURE:
        raise InputError(
            f"Temperature {temperature:g} is outside {MIN_TEMPERATURE:g}-{MAX_TEMPERATURE:g}. "
            "0 would divide by zero: for always the most likely token, use greedy (no "
            "temperature); a huge one makes every token equally likely."
        )
    return float(temperature)


def prompt_ids(lm: CausalLM, text: str, room: int = 0, window: int | None = None) -> Prompt:
    """Tokenize a checked text, keeping the last ``window - room`` tokens.

    Raises:
        InputError: see :func:`check_text`.
    """
    check_text(text)
    ids = lm.tokenizer(text, add_special_tokens=False)["input_ids"]
    keep = max(1, (window or lm.window) - room)
    cut = max(0, len(ids) - keep)
    ids = tuple(int(i) for i in ids[cut:])
    return Prompt(ids, decode_each(lm, ids), cut)


def decode_each(lm: CausalLM, ids: tuple[int, ...] | list[int]) -> tuple[str, ...]:
    """Each token id as its own text."""
    return tuple(lm.tokenizer.decode([int(i)]) for i in ids)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Probabilities from logits (float64, last axis)."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled -= scaled.max(axis=-1, keepdims=True)
    probs = np.exp(scaled)
    return probs / probs.sum(axis=-1, keepdims=True)


def entropy_bits(probs: np.ndarray) -> float:
    """Entropy of a distribution in bits."""
    nonzero = probs[probs > 0]
    return float(-(nonzero * np.log2(nonzero)).sum())


def top_guesses(lm: CausalLM, probs: np.ndarray, k: int) -> tuple[Guess, ...]:
    """The ``k`` likeliest tokens of a distribution, best first."""
    best = np.argpartition(-probs, k - 1)[:k] if k < len(probs) else np.arange(len(probs))
    best = best[np.argsort(-probs[best], kind="stable")]
    return tuple(Guess(lm.tokenizer.decode([int(i)]), int(i), float(probs[i])) for i in best)


def rank_of(probs: np.ndarray, token_id: int) -> int:
    """1 + how many tokens are strictly more likely than ``token_id``."""
    return int((probs > probs[token_id]).sum()) + 1


def last_logits(lm: CausalLM, ids: tuple[int, ...]) -> np.ndarray:
    """Logit-lens logits at the last position: (layers + 1, vocabulary) float32."""
    import torch

    with torch.inference_mode():
        out = lm.model(input_ids=torch.tensor([ids]), output_hidden_states=True)
        last = torch.stack(out.hidden_states)[:, 0, -1]  # (L+1, D) at the last position
        # the last hidden state already went through the final norm; the others have not
        lens = lm.model.lm_head(lm.final_norm(last[:-1]))  # (L, vocab)
        return torch.cat([lens, out.logits[:, -1]]).float().numpy()  # (L+1, vocab)


def next_token(
    lm: CausalLM, text: str, k: int = 10, temperature: float = 1.0, probe: str = ""
) -> NextToken:
    """The next-token distribution after ``text`` and the logit lens.

    Raises:
        InputError: for an empty or unreadable text, a bad ``k`` or temperature.
    """
    prompt = prompt_ids(lm, text)
    return distribution(lm, prompt, k, temperature, probe, text)


def distribution(
    lm: CausalLM,
    prompt: Prompt,
    k: int = 10,
    temperature: float = 1.0,
    probe: str = "",
    text: str = "",
) -> NextToken:
    """The next-token distribution after the ids of ``prompt`` (see :func:`next_token`).

    ``text`` is the text the prompt came from (it decides whether a probe needs a space).

    Raises:
        InputError: for a bad ``k``, temperature or probe.
    """
    if not 1 <= k <= MAX_K:
        raise InputError(f"Ask for 1 to {MAX_K} top tokens.")
    temperature = check_temperature(temperature)
    lens = last_logits(lm, prompt.ids)  # (L+1, vocab)
    probs = softmax(lens[-1], temperature)
    choice = int(np.argmax(lens[-1]))
    layers = []
    for layer, p in enumerate(softmax(lens)):  # every layer's distribution at temperature 1
        top = top_guesses(lm, p, k)
        layers.append(LayerReading(layer, top, rank_of(p, choice), float(p[choice])))
    return NextToken(
        lm.name,
        prompt,
        temperature,
        top_guesses(lm, probs, k),
        entropy_bits(probs),
        int(probs.shape[0]),
        tuple(layers),
        _probe(lm, text or "".join(prompt.tokens), probe, probs),
        prompt.cut_note(lm.window),
    )


def probe_pieces(lm: CausalLM, text: str, probe: str) -> tuple[str, tuple[int, ...]]:
    """The probe as the model would write it after ``text``, and its token ids.

    Raises:
        InputError: for a probe with control characters or more than 40 characters.
    """
    if len(probe) > 40:
        raise InputError("Type one word or a few characters to look up (at most 40).")
    check_text(probe, "token to look up")
    if not probe[0].isspace() and not text[-1:].isspace() and probe[0].isalnum():
        probe = " " + probe
    ids = tuple(int(i) for i in lm.tokenizer(probe, add_special_tokens=False)["input_ids"])
    return probe, ids


def _probe(lm: CausalLM, text: str, probe: str, probs: np.ndarray) -> Probe | None:
    if not probe.strip():
        return None
    written, ids = probe_pieces(lm, text, probe)
    first = ids[0]
    return Probe(written, decode_each(lm, ids), rank_of(probs, first), float(probs[first]))
