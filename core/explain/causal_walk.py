"""One text through the causal model step by step, and the same text beside the encoder.

Data flow: text -> tokens and ids -> input vectors (rows of the input table; no position
vector is added: SmolLM2 rotates queries and keys by position inside attention) -> per layer,
attention with the causal mask (a token sees itself and earlier tokens only) and feed-forward,
each adding an update to every token's vector -> the last token's vector -> logits -> softmax
(:func:`core.explain.causal.next_token`). :func:`compare_models` sets this walk beside the
encoder's (:mod:`core.explain.walkthrough`), naming the same steps the same way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from core.explain.causal import NextToken, Prompt, distribution, prompt_ids
from core.explain.walkthrough import Walkthrough
from core.model.causal_lm import CausalLM

log = logging.getLogger(__name__)

WALK_WINDOW = 64  # tokens kept for the step-by-step view (all layers' attention is kept)


@dataclass(frozen=True)
class CausalWalk:
    """A text through the causal model, every step kept.

    Attributes:
        model: the model's name.
        prompt: the tokens as read (at most WALK_WINDOW; the start cut past that).
        inputs: (T, D) the input vectors: rows of the input table.
        attention: (layers, heads, T, T) weights; row = token looking, column = token seen.
        attn_update: (layers, T) length of what attention adds to each token's vector.
        ffn_update: (layers, T) length of what the feed-forward network adds.
        hidden: (layers + 1, T, D) every token's vector after each layer (input first).
        next: the next-token distribution and logit lens after the text.
        facts: the model's sizes.
        cut_note: a sentence stating a cut, or ''.
    """

    model: str
    prompt: Prompt
    inputs: np.ndarray
    attention: np.ndarray
    attn_update: np.ndarray
    ffn_update: np.ndarray
    hidden: np.ndarray
    next: NextToken
    facts: dict[str, int]
    cut_note: str


def causal_walk(lm: CausalLM, text: str, k: int = 10, temperature: float = 1.0) -> CausalWalk:
    """Run ``text`` through the causal model, keeping every step.

    Raises:
        InputError: for an empty or unreadable text, or a bad temperature.
    """
    prompt = prompt_ids(lm, text, window=WALK_WINDOW)
    attention, attn_update, ffn_update, hidden = _trace(lm, prompt.ids)
    inputs = lm.input_table.detach()[list(prompt.ids)].float().numpy()  # (T, D)
    following = distribution(lm, prompt, k, temperature, "", text)
    return CausalWalk(
        lm.name,
        prompt,
        inputs,
        attention,
        attn_update,
        ffn_update,
        hidden,
        following,
        lm.facts(),
        prompt.cut_note(WALK_WINDOW),
    )


def _trace(lm: CausalLM, ids: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """(attention, attention update lengths, feed-forward update lengths, hidden states)."""
    import torch

    updates: dict[str, list[np.ndarray]] = {"attn": [], "mlp": []}

    def keep(kind: str):
        def hook(_module, _inputs, output) -> None:
            out = output[0] if isinstance(output, tuple) else output  # (1, T, D)
            updates[kind].append(out[0].float().norm(dim=-1).numpy())  # (T,)

        return hook

    handles = []
    for block in lm.blocks:
        attn = block.self_attn if hasattr(block, "self_attn") else block.attn
        handles.append(attn.register_forward_hook(keep("attn")))
        handles.append(block.mlp.register_forward_hook(keep("mlp")))
    try:
        with torch.inference_mode():
            out = lm.model(
                input_ids=torch.tensor([ids]), output_attentions=True, output_hidden_states=True
            )
    finally:
        for handle in handles:
            handle.remove()
    attention = torch.stack(out.attentions)[:, 0].float().numpy()  # (L, H, T, T)
    hidden = torch.stack(out.hidden_states)[:, 0].float().numpy()  # (L+1, T, D)
    return attention, np.stack(updates["attn"]), np.stack(updates["mlp"]), hidden


@dataclass(frozen=True)
class Contrast:
    """One aspect of the two models, side by side."""

    aspect: str
    encoder: str
    causal: str


def later_share(attention: np.ndarray) -> float:
    """The mean share of a token's attention that goes to tokens after it (0 when causal)."""
    t = attention.shape[-1]
    if t < 2:
        return 0.0
    later = np.triu(np.ones((t, t), dtype=bool), 1)  # (T, T) above the diagonal
    return float(attention[..., later].sum(axis=-1).mean() / t)  # mean over the T rows


def compare_models(encoder: Walkthrough, causal: CausalWalk) -> tuple[Contrast, ...]:
    """The same steps named the same way for the encoder (search) and the causal model (GPT)."""
    e, c = encoder.facts, causal.facts
    enc_later = later_share(encoder.run.attention)
    top = causal.next.top[0]
    return (
        Contrast("made for", "search: one vector per text", "writing: one next token at a time"),
        Contrast(
            "text → tokens",
            f"{len(encoder.tokens.ids)} word pieces, vocabulary {e['vocabulary']:,}",
            f"{len(causal.prompt.ids)} tokens, vocabulary {c['vocabulary']:,}",
        ),
        Contrast(
            "input vectors",
            "piece + position + segment vectors, added",
            "the token's row only; position enters attention (rotary)",
        ),
        Contrast(
            "attention: who sees whom",
            f"full: every token sees every token ({enc_later:.0%} of a token's attention "
            "goes to tokens after it here)",
            "causal: each token sees itself and earlier tokens only (0% after it)",
        ),
        Contrast(
            "layers × heads, width",
            f"{e['layers']} × {e['heads']}, {e['dimensions']} numbers",
            f"{c['layers']} × {c['heads']}, {c['dimensions']} numbers",
        ),
        Contrast(
            "the single vector",
            "the mean of all token vectors, scaled to length 1",
            "the last token's vector (it has seen the whole text)",
        ),
        Contrast(
            "output",
            f"{e['dimensions']} numbers, compared by cosine",
            f"{c['vocabulary']:,} probabilities; here {top.token!r} {top.prob:.2f}",
        ),
        Contrast(
            "parameters",
            f"{e['parameters'] / 1e6:.1f} M",
            f"{c['parameters'] / 1e6:.1f} M",
        ),
    )
