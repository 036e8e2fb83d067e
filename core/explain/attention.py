"""Inside the transformer: hidden states, attention weights and sub-layer updates.

The Embedder's BERT runs with PyTorch's fused attention kernel, which returns no attention
weights. This module keeps, once per process and per Embedder, a copy of the same weights
switched to ``attn_implementation="eager"`` and reads from it, for a batch of token id
sequences:

- the hidden state of every token after the embedding layer and after each of the layers;
- every head's attention weights (each row a probability distribution over the tokens);
- the two updates each (post-LayerNorm) BERT layer writes into the residual stream:
  ``mid = LayerNorm1(x + attn(x))`` and ``out = LayerNorm2(mid + ffn(mid))``. Forward hooks
  capture ``attn(x)`` and ``ffn(mid)`` before the residual add, and ``mid`` itself.

Everything returned is numpy; nothing here knows about words or sentences.
"""

from __future__ import annotations

import copy
import logging
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.model.embedder import Embedder

log = logging.getLogger(__name__)

_EAGER: weakref.WeakKeyDictionary[Embedder, Any] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()  # hooks are per module, so one traced forward pass at a time


@dataclass(frozen=True)
class Trace:
    """Everything one forward pass computed for one sequence of ``T`` tokens.

    Attributes:
        hidden: (layers + 1, T, D) hidden states; index 0 is the embedding layer's output.
        attention: (layers, heads, T, T) attention weights; row i = where token i looks.
        attn_update: (layers, T, D) attention sub-layer output (after its output projection),
            before it is added to the residual stream.
        ffn_update: (layers, T, D) feed-forward sub-layer output, before its residual add.
        mid: (layers, T, D) the stream between the two sub-layers, ``LayerNorm1(x + attn)``.
    """

    hidden: np.ndarray
    attention: np.ndarray
    attn_update: np.ndarray
    ffn_update: np.ndarray
    mid: np.ndarray


def encoder(embedder: Embedder) -> Any:
    """The Embedder's own transformer (a ``BertModel``), shared, fused attention."""
    return embedder.model[0].auto_model


def eager_model(embedder: Embedder) -> Any:
    """A copy of the Embedder's transformer that returns attention weights; one per process."""
    with _LOCK:
        model = _EAGER.get(embedder)
        if model is None:
            model = copy.deepcopy(encoder(embedder))
            model.set_attn_implementation("eager")
            model.eval()
            _EAGER[embedder] = model
            log.info("eager attention copy of %s ready", embedder.name)
        return model


def max_length(embedder: Embedder) -> int:
    """Tokens per sequence the model accepts, [CLS] and [SEP] included."""
    return int(embedder.model.max_seq_length)


def _batch(embedder: Embedder, ids: Sequence[Sequence[int]]) -> dict[str, Any]:
    import torch

    width = max(len(row) for row in ids)
    pad = embedder.tokenizer.pad_token_id or 0
    input_ids = torch.full((len(ids), width), pad, dtype=torch.long)  # (B, T)
    mask = torch.zeros((len(ids), width), dtype=torch.long)  # (B, T)
    for row, seq in enumerate(ids):
        input_ids[row, : len(seq)] = torch.tensor(list(seq), dtype=torch.long)
        mask[row, : len(seq)] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": 0 * mask}


def hidden_states(
    embedder: Embedder, ids: Sequence[Sequence[int]], last_only: bool = False
) -> np.ndarray:
    """Hidden states for a padded batch -> (layers + 1, B, T, D) float32 (padding included).

    With ``last_only`` only the last layer comes back, as (1, B, T, D).
    """
    import torch

    with torch.inference_mode():
        out = encoder(embedder)(**_batch(embedder, ids), output_hidden_states=not last_only)
        if last_only:
            return out.last_hidden_state[None].float().numpy()  # (1, B, T, D)
    return torch.stack(out.hidden_states).float().numpy()  # (L+1, B, T, D)


def trace(embedder: Embedder, ids: Sequence[Sequence[int]]) -> list[Trace]:
    """Run the eager copy once over a batch and return one :class:`Trace` per sequence."""
    import torch

    model = eager_model(embedder)
    captured: dict[str, list[Any]] = {"attn": [], "ffn": [], "mid": []}

    def keep(name: str):
        return lambda _module, _args, output: captured[name].append(output.detach())

    with _LOCK, torch.inference_mode():
        handles = []
        for layer in model.encoder.layer:
            handles.append(layer.attention.output.dense.register_forward_hook(keep("attn")))
            handles.append(layer.attention.output.register_forward_hook(keep("mid")))
            handles.append(layer.output.dense.register_forward_hook(keep("ffn")))
        try:
            out = model(**_batch(embedder, ids), output_hidden_states=True, output_attentions=True)
        finally:
            for handle in handles:
                handle.remove()
    hidden = torch.stack(out.hidden_states).numpy()  # (L+1, B, T, D)
    attention = torch.stack(out.attentions).numpy()  # (L, B, H, T, T)
    parts = {k: torch.stack(v).numpy() for k, v in captured.items()}  # (L, B, T, D)
    return [
        Trace(
            hidden=hidden[:, b, : len(seq)],
            attention=attention[:, b, :, : len(seq), : len(seq)],
            attn_update=parts["attn"][:, b, : len(seq)],
            ffn_update=parts["ffn"][:, b, : len(seq)],
            mid=parts["mid"][:, b, : len(seq)],
        )
        for b, seq in enumerate(ids)
    ]


def layer_norms(embedder: Embedder) -> list[Any]:
    """The two LayerNorm modules of each layer, in order (to check the decomposition)."""
    model = eager_model(embedder)
    return [
        (layer.attention.output.LayerNorm, layer.output.LayerNorm) for layer in model.encoder.layer
    ]


def static_vectors(embedder: Embedder, ids: Sequence[int]) -> np.ndarray:
    """The word-piece lookup vectors alone (no position, no segment, no LayerNorm) -> (n, D)."""
    return embedding_parts(embedder, ids)[0]


def embedding_parts(embedder: Embedder, ids: Sequence[int]) -> tuple[np.ndarray, ...]:
    """The three vectors the embedding layer adds up for each token, each (T, D).

    (word piece, position, segment); the embedding layer's output is
    ``LayerNorm(word piece + position + segment)``.
    """
    import torch

    emb = encoder(embedder).embeddings
    index = torch.tensor(list(ids), dtype=torch.long)  # (T,)
    with torch.inference_mode():
        word = emb.word_embeddings(index)  # (T, D)
        position = emb.position_embeddings(torch.arange(len(index)))  # (T, D)
        segment = emb.token_type_embeddings(torch.zeros_like(index))  # (T, D)
    return word.numpy(), position.numpy(), segment.numpy()


@dataclass(frozen=True)
class WordTrace:
    """What the model did to one word (the mean of its pieces) in one sentence.

    Attributes:
        vectors: (layers + 1, D) the word after the embedding layer and after each layer.
        attention: (layers, heads, T) attention from the word to every token; rows sum to 1.
        attn_update: (layers,) norm of the attention sub-layer's output, before it is added.
        ffn_update: (layers,) norm of the feed-forward sub-layer's output, before it is added.
        stream: (layers,) norm of the word's vector entering each layer (what they are added to).
        attn_moved: (layers,) how far the word moved across the attention half of each layer,
            after LayerNorm: ``||LayerNorm1(x + attn) - x||``.
        ffn_moved: (layers,) the same for the feed-forward half:
            ``||LayerNorm2(mid + ffn) - mid||``.
    """

    vectors: np.ndarray
    attention: np.ndarray
    attn_update: np.ndarray
    ffn_update: np.ndarray
    stream: np.ndarray
    attn_moved: np.ndarray
    ffn_moved: np.ndarray


def word_trace(run: Trace, positions: Sequence[int]) -> WordTrace:
    """Reduce a sequence's :class:`Trace` to one word (mean over its piece ``positions``)."""
    pos = list(positions)
    hidden = run.hidden[:, pos].mean(axis=1)  # (L+1, D)
    mid = run.mid[:, pos].mean(axis=1)  # (L, D)
    norm = np.linalg.norm
    return WordTrace(
        vectors=hidden,
        attention=run.attention[:, :, pos].mean(axis=2),  # (L, H, T)
        attn_update=norm(run.attn_update[:, pos].mean(axis=1), axis=-1),
        ffn_update=norm(run.ffn_update[:, pos].mean(axis=1), axis=-1),
        stream=norm(hidden[:-1], axis=-1),
        attn_moved=norm(mid - hidden[:-1], axis=-1),
        ffn_moved=norm(hidden[1:] - mid, axis=-1),
    )


def without_word(
    ids: Sequence[int], words: Sequence[int | None], drop: int, positions: Sequence[int]
) -> tuple[list[int], list[int]]:
    """``ids`` with every piece of word ``drop`` removed, and where ``positions`` moved to."""
    keep = [i for i, w in enumerate(words) if w != drop]
    where = {old: new for new, old in enumerate(keep)}
    return [ids[i] for i in keep], [where[p] for p in positions]


def ablation_shifts(
    embedder: Embedder,
    variants: Sequence[Sequence[int]],
    positions: Sequence[Sequence[int]],
    reference: np.ndarray,
    max_tokens: int = 16_384,
) -> np.ndarray:
    """1 - cosine between ``reference[i]`` and the word's final vector in variant ``i``.

    Args:
        embedder: the model.
        variants: token ids of each variant (a sentence with one word removed).
        positions: where the word's pieces sit in each variant.
        reference: (N, D) the word's final vector in the full sentence, per variant.
        max_tokens: padded tokens per forward pass.

    All variants go through the model together (split only when they exceed ``max_tokens``
    padded tokens), length-sorted.
    """
    order = np.argsort([len(v) for v in variants], kind="stable")
    shifts = np.empty(len(variants), np.float32)
    start = 0
    while start < len(order):
        stop = start + 1
        while stop < len(order) and (stop - start + 1) * len(variants[order[stop]]) <= max_tokens:
            stop += 1
        part = order[start:stop]
        states = hidden_states(embedder, [variants[i] for i in part], last_only=True)[0]
        for row, i in enumerate(part):
            vector = states[row, list(positions[i])].mean(axis=0)  # (D,)
            ref = reference[i]
            cos = vector @ ref / (np.linalg.norm(vector) * np.linalg.norm(ref))
            shifts[i] = 1.0 - float(cos)
        start = stop
    return shifts


def piece_layer_vectors(
    embedder: Embedder,
    ids: Sequence[Sequence[int]],
    positions: Sequence[Sequence[int]],
    batch: int = 64,
) -> tuple[np.ndarray, np.ndarray]:
    """A word's vector (mean of its pieces) and its sequence's mean vector, at every layer.

    Sequences are length-sorted and run in batches of ``batch``.

    Returns:
        (words, sentences): both (N, layers + 1, D); ``sentences`` is the mean over all tokens,
        [CLS] and [SEP] included (the Embedder's mean pooling, before normalisation).
    """
    config = encoder(embedder).config
    shape = (len(ids), config.num_hidden_layers + 1, config.hidden_size)
    words, means = np.empty(shape, np.float32), np.empty(shape, np.float32)
    order = np.argsort([len(seq) for seq in ids], kind="stable")
    for start in range(0, len(order), batch):
        part = order[start : start + batch]
        states = hidden_states(embedder, [ids[i] for i in part])  # (L+1, B, T, D)
        for row, i in enumerate(part):
            seq = states[:, row, : len(ids[i])]  # (L+1, T, D)
            words[i] = seq[:, list(positions[i])].mean(axis=1)
            means[i] = seq.mean(axis=1)
    return words, means
