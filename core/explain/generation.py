"""Writing by repetition: pick a next token, append it, ask again.

Data flow: prompt -> token ids (the start cut to leave room for the new tokens) -> one forward
pass over the prompt that fills the key/value cache -> then, per step, the last logits ->
softmax -> a choice (the most likely token, or one drawn at a temperature) -> the choice fed
back alone, the cache holding everything before it. Each step keeps its top tokens, so the
repetition is visible.

A drawn token depends only on the seed and its position in the text, so N steps run at once
write exactly what N single steps write (the page's step and run buttons agree).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from core.errors import InputError
from core.explain.causal import (
    Guess,
    Prompt,
    check_temperature,
    decode_each,
    entropy_bits,
    prompt_ids,
    softmax,
    top_guesses,
)
from core.model.causal_lm import CausalLM

log = logging.getLogger(__name__)

MAX_NEW_TOKENS = 200


@dataclass(frozen=True)
class Step:
    """One repetition: the token chosen, its probability, and what else was likely.

    Attributes:
        token: the chosen token's text.
        id: its id.
        prob: its probability in the distribution it was picked from.
        top: that distribution's likeliest tokens.
        entropy: that distribution's entropy in bits.
    """

    token: str
    id: int
    prob: float
    top: tuple[Guess, ...]
    entropy: float


@dataclass(frozen=True)
class Generation:
    """A continuation written token by token.

    Attributes:
        model: the model's name.
        prompt: the prompt as read.
        earlier: ids written before this call (the page's earlier steps), after the prompt.
        steps: this call's steps, in order.
        text: this call's tokens decoded together (the continuation alone).
        temperature: None for greedy (always the most likely token).
        seed: the sampling seed (unused when greedy).
        stopped: why it stopped: ``length`` or ``end of text``.
        cut_note: a sentence stating a cut of the prompt, or ''.
    """

    model: str
    prompt: Prompt
    earlier: tuple[int, ...]
    steps: tuple[Step, ...]
    text: str
    temperature: float | None
    seed: int
    stopped: str
    cut_note: str

    @property
    def ids(self) -> tuple[int, ...]:
        """Every written id: the earlier ones, then this call's."""
        return self.earlier + tuple(s.id for s in self.steps)


def pick(logits: np.ndarray, temperature: float | None, seed: int, position: int) -> int:
    """The next token id: the argmax when greedy, else drawn at ``temperature``.

    The draw uses a generator seeded by ``(seed, position)`` only.
    """
    if temperature is None:
        return int(np.argmax(logits))
    probs = softmax(logits, temperature)
    draw = np.random.default_rng([seed, position]).random()
    return min(int(np.searchsorted(np.cumsum(probs), draw)), len(probs) - 1)


def generate(
    lm: CausalLM,
    text: str,
    max_new_tokens: int,
    temperature: float | None = None,
    seed: int = 0,
    k: int = 5,
    earlier: tuple[int, ...] = (),
) -> Generation:
    """Continue ``text`` (followed by the ids ``earlier``) by up to ``max_new_tokens`` tokens.

    Raises:
        InputError: for an empty text, a bad temperature, or too many tokens.
    """
    total = len(earlier) + max_new_tokens
    if max_new_tokens < 1 or total > MAX_NEW_TOKENS:
        raise InputError(
            f"Write 1 to {MAX_NEW_TOKENS} new tokens in all ({len(earlier)} written so far)."
        )
    if temperature is not None:
        temperature = check_temperature(temperature)
    prompt = prompt_ids(lm, text, room=total)
    steps, stopped = _run(lm, prompt.ids + tuple(earlier), max_new_tokens, temperature, seed, k)
    return Generation(
        lm.name,
        prompt,
        tuple(earlier),
        tuple(steps),
        lm.tokenizer.decode([s.id for s in steps]),
        temperature,
        seed,
        stopped,
        prompt.cut_note(lm.window),
    )


def _run(
    lm: CausalLM, ids: tuple[int, ...], n: int, temperature: float | None, seed: int, k: int
) -> tuple[list[Step], str]:
    import torch

    stop_ids = _stop_ids(lm)
    steps: list[Step] = []
    with torch.inference_mode():
        out = lm.model(input_ids=torch.tensor([ids]), use_cache=True, logits_to_keep=1)
        for i in range(n):
            logits = out.logits[0, -1].float().numpy()  # (vocab,)
            choice = pick(logits, temperature, seed, len(ids) + i)
            probs = softmax(logits, temperature or 1.0)
            token = decode_each(lm, [choice])[0]
            top = top_guesses(lm, probs, k)
            steps.append(Step(token, choice, float(probs[choice]), top, entropy_bits(probs)))
            if choice in stop_ids:
                return steps, "end of text"
            if i + 1 < n:
                step_ids = torch.tensor([[choice]])
                out = lm.model(input_ids=step_ids, cache=out.cache, use_cache=True)
    return steps, "length"


def _stop_ids(lm: CausalLM) -> set[int]:
    eos = getattr(lm.model.generation_config, "eos_token_id", None)
    if eos is None:
        return set()
    return {int(e) for e in (eos if isinstance(eos, list | tuple) else [eos])}
