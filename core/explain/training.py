"""Training vs inference: a few gradient steps on a private copy of the model's last block.

Data flow: prompt + wanted continuation -> token ids -> the shared model, frozen and without
gradients, computes the vectors that enter its last block -> a private copy of that block and
of the final norm (about 3.5 M of SmolLM2's 135 M weights) is trained with Adam to make the
wanted tokens likelier (cross-entropy, teacher forcing) -> the loss by step, the probability of
the whole continuation before and after, and other prompts' top tokens before and after read
through the same copy. The output head stays frozen: it is the same matrix as the table of
input vectors (tied weights), so changing it would change the input too.

The shared model is never changed. One demo runs at a time per process (others get a clear
"busy" message), bounded in steps, seconds and tokens; the copy is dropped when it ends.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from core.errors import BusyError, InputError, ModelNotFoundError
from core.explain.causal import Guess, check_text, decode_each, softmax, top_guesses
from core.model.causal_lm import CausalLM

log = logging.getLogger(__name__)

MAX_STEPS = 20
MAX_SECONDS = 30.0
MAX_PROMPT_TOKENS = 64
MAX_WANTED_TOKENS = 16
LEARNING_RATE = 3e-4
OTHER_PROMPTS = (
    "The capital of France is",
    "My favourite food is",
    "Once upon a time, there was a",
    "The opposite of hot is",
)
_BUSY = threading.Lock()


@dataclass(frozen=True)
class Moved:
    """Another prompt's likeliest next tokens before and after the training."""

    prompt: str
    before: tuple[Guess, ...]
    after: tuple[Guess, ...]


@dataclass(frozen=True)
class TrainingDemo:
    """What a few gradient steps did.

    Attributes:
        prompt: the prompt's tokens.
        wanted: the wanted continuation's tokens.
        losses: the loss before each step and after the last (steps + 1 values).
        prob_before: the probability of the whole wanted continuation before training.
        prob_after: the same after training.
        top_before: the likeliest next tokens after the prompt, before.
        top_after: the same after.
        others: other prompts' top tokens before and after.
        trained: what was trained, in words.
        parameters: how many weights the copy trains.
        seconds: how long the steps took.
        stopped_early: whether the time bound ended it before the steps asked for.
    """

    prompt: tuple[str, ...]
    wanted: tuple[str, ...]
    losses: tuple[float, ...]
    prob_before: float
    prob_after: float
    top_before: tuple[Guess, ...]
    top_after: tuple[Guess, ...]
    others: tuple[Moved, ...]
    trained: str
    parameters: int
    seconds: float
    stopped_early: bool


def train_demo(lm: CausalLM, prompt: str, wanted: str, steps: int = 10) -> TrainingDemo:
    """Train a private copy of the last block so ``wanted`` follows ``prompt``.

    Raises:
        InputError: for empty or too long texts, or steps outside 1-MAX_STEPS.
        BusyError: while another demo runs in this process.
        ModelNotFoundError: for a model that is not Llama-family.
    """
    prompt_ids, wanted_ids = _check(lm, prompt, wanted, steps)
    if not _BUSY.acquire(blocking=False):
        raise BusyError("Another training demo is running on this server; try again shortly.")
    try:
        return _train(lm, prompt_ids, wanted_ids, steps)
    finally:
        _BUSY.release()


def _check(lm: CausalLM, prompt: str, wanted: str, steps: int) -> tuple[list[int], list[int]]:
    if lm.family != "llama":
        raise ModelNotFoundError("The training demo needs a Llama-family model (SmolLM2).")
    if not 1 <= steps <= MAX_STEPS:
        raise InputError(f"Take 1 to {MAX_STEPS} training steps.")
    check_text(prompt, "prompt")
    check_text(wanted, "wanted continuation")
    if not wanted[0].isspace() and not prompt[-1].isspace() and wanted[0].isalnum():
        wanted = " " + wanted  # a new word after the prompt starts with a space
    prompt_ids = lm.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    wanted_ids = lm.tokenizer(wanted, add_special_tokens=False)["input_ids"]
    if len(prompt_ids) > MAX_PROMPT_TOKENS:
        raise InputError(
            f"The prompt has {len(prompt_ids)} tokens; the demo takes at most {MAX_PROMPT_TOKENS}."
        )
    if not 1 <= len(wanted_ids) <= MAX_WANTED_TOKENS:
        raise InputError(
            f"The wanted continuation has {len(wanted_ids)} tokens; the demo takes 1 to "
            f"{MAX_WANTED_TOKENS}."
        )
    return list(prompt_ids), list(wanted_ids)


class _Copy:
    """A trainable copy of the last block and final norm over the frozen model's vectors."""

    def __init__(self, lm: CausalLM) -> None:
        self.lm = lm
        self.block = copy.deepcopy(lm.blocks[-1]).requires_grad_(True)
        self.norm = copy.deepcopy(lm.final_norm).requires_grad_(True)
        self.head = lm.model.lm_head.weight.detach()  # frozen, shared, never written

    def parameters(self) -> list[Any]:
        return [*self.block.parameters(), *self.norm.parameters()]

    def entering(self, ids: list[int]) -> Any:
        """The vectors entering the last block, from the frozen model: (1, T, D)."""
        import torch

        with torch.no_grad():
            out = self.lm.model(input_ids=torch.tensor([ids]), output_hidden_states=True)
            return out.hidden_states[-2]

    def logits(self, hidden: Any) -> Any:
        """Run the copy: (1, T, D) vectors entering the last block -> (1, T, vocab) logits."""
        import torch

        length = hidden.shape[1]
        positions = torch.arange(length)[None]  # (1, T)
        rotary = self.lm.model.model.rotary_emb(hidden, positions)
        mask = torch.full((length, length), float("-inf")).triu(1)[None, None]  # (1,1,T,T)
        out = self.block(
            hidden, attention_mask=mask, position_ids=positions, position_embeddings=rotary
        )
        out = out[0] if isinstance(out, tuple) else out
        return torch.nn.functional.linear(self.norm(out), self.head)


def _train(lm: CausalLM, prompt_ids: list[int], wanted_ids: list[int], steps: int) -> TrainingDemo:
    import torch

    private = _Copy(lm)
    hidden = private.entering(prompt_ids + wanted_ids)
    others = [private.entering(lm.tokenizer(p)["input_ids"]) for p in OTHER_PROMPTS]
    before = _readings(lm, private, hidden, others, wanted_ids)
    optimiser = torch.optim.Adam(private.parameters(), lr=LEARNING_RATE)
    losses, start, early = [], time.perf_counter(), False
    for _ in range(steps):
        if time.perf_counter() - start > MAX_SECONDS:
            early = True
            break
        loss = _loss(private.logits(hidden), len(prompt_ids), wanted_ids)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    seconds = time.perf_counter() - start
    after = _readings(lm, private, hidden, others, wanted_ids)
    losses.append(after[0])
    return TrainingDemo(
        decode_each(lm, prompt_ids),
        decode_each(lm, wanted_ids),
        tuple(losses),
        before[1],
        after[1],
        before[2],
        after[2],
        tuple(Moved(p, b, a) for p, b, a in zip(OTHER_PROMPTS, before[3], after[3], strict=True)),
        "the last block (attention and feed-forward) and the final norm",
        sum(p.numel() for p in private.parameters()),
        seconds,
        early,
    )


def _loss(logits: Any, prompt_len: int, wanted_ids: list[int]) -> Any:
    """Mean cross-entropy of the wanted tokens, each predicted from what precedes it."""
    import torch

    end = prompt_len + len(wanted_ids) - 1
    predicting = logits[0, prompt_len - 1 : end]  # (W, vocab)
    return torch.nn.functional.cross_entropy(predicting, torch.tensor(wanted_ids))


def _readings(
    lm: CausalLM, private: _Copy, hidden: Any, others: list[Any], wanted_ids: list[int]
) -> tuple[float, float, tuple[Guess, ...], list[tuple[Guess, ...]]]:
    """(loss, probability of the continuation, top after the prompt, others' tops) now."""
    import math

    import torch

    prompt_len = hidden.shape[1] - len(wanted_ids)
    with torch.no_grad():
        logits = private.logits(hidden)
        loss = float(_loss(logits, prompt_len, wanted_ids))
        top = top_guesses(lm, softmax(logits[0, prompt_len - 1].numpy()), 5)
        tops = [top_guesses(lm, softmax(private.logits(h)[0, -1].numpy()), 3) for h in others]
    return loss, math.exp(-loss * len(wanted_ids)), top, tops
