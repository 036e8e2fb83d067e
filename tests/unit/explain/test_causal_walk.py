"""A text step by step through a tiny causal model, the encoder beside it, and a word followed
through the causal model: the causal mask, the updates, and what only earlier words can move."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import InputError
from core.explain import causal_context, causal_walk, walkthrough
from core.explain.causal import next_token


def test_attention_is_causal_and_rows_sum_to_one(tiny_llama) -> None:
    walk = causal_walk.causal_walk(tiny_llama, "the cat and the sand")
    layers, heads, t, _ = walk.attention.shape
    assert (layers, heads) == (2, 4) and t == len(walk.prompt.ids)
    later = np.triu(np.ones((t, t), dtype=bool), 1)
    assert np.all(walk.attention[..., later] == 0)  # no token sees a later one
    assert np.allclose(walk.attention.sum(-1), 1, atol=1e-5)
    assert causal_walk.later_share(walk.attention) == 0.0
    assert walk.hidden.shape == (3, t, 16) and walk.attn_update.shape == (2, t)


def test_updates_are_what_each_sub_layer_adds(tiny_llama) -> None:
    walk = causal_walk.causal_walk(tiny_llama, "the cat")
    # residual stream: input + attention update + feed-forward update = the next layer's input
    block = tiny_llama.blocks[0]
    with torch.no_grad():
        start = torch.tensor(walk.hidden[0])[None]
        positions = torch.arange(start.shape[1])[None]
        rotary = tiny_llama.model.model.rotary_emb(start, positions)
        t = start.shape[1]
        mask = torch.full((t, t), float("-inf")).triu(1)[None, None]
        attn = block.self_attn(
            block.input_layernorm(start), attention_mask=mask, position_embeddings=rotary
        )[0]
        ffn = block.mlp(block.post_attention_layernorm(start + attn))
    assert np.allclose(walk.attn_update[0], attn[0].norm(dim=-1).numpy(), atol=1e-4)
    assert np.allclose(walk.ffn_update[0], ffn[0].norm(dim=-1).numpy(), atol=1e-4)
    assert np.allclose(walk.hidden[1], (start + attn + ffn)[0].numpy(), atol=1e-4)


def test_walk_ends_in_the_next_token_distribution(tiny_llama) -> None:
    walk = causal_walk.causal_walk(tiny_llama, "the cat and", k=3)
    assert walk.next.top == next_token(tiny_llama, "the cat and", k=3).top
    embedding = tiny_llama.input_table.detach()[list(walk.prompt.ids)].numpy()
    assert np.array_equal(walk.inputs, embedding)


def test_side_by_side_names_both_models(tiny_llama, tiny_embedder) -> None:
    rows = causal_walk.compare_models(
        walkthrough.walk_through(tiny_embedder, "the cat and the sand"),
        causal_walk.causal_walk(tiny_llama, "the cat and the sand"),
    )
    aspects = [r.aspect for r in rows]
    assert aspects[:4] == ["made for", "text → tokens", "input vectors", "attention: who sees whom"]
    assert "0% after it" in rows[3].causal and "full" in rows[3].encoder
    assert "71 probabilities" in rows[6].causal


def test_later_share_of_full_attention() -> None:
    uniform = np.full((1, 1, 4, 4), 0.25)  # each token spreads its attention evenly
    assert causal_walk.later_share(uniform) == pytest.approx((0.75 + 0.5 + 0.25 + 0) / 4)


def test_a_words_vector_depends_only_on_earlier_words(tiny_llama) -> None:
    result = causal_context.follow_word(
        tiny_llama,
        ["the cat", "the cat and the sand", "sand and the cat"],
        ["cat", "cat", "cat"],
    )
    assert result.words == ("cat", "cat", "cat")
    assert np.allclose(result.similarity[1], 1, atol=1e-5)  # later words change nothing
    assert result.similarity[2, -1] < 0.999  # earlier words do
    alone = next_token(tiny_llama, "the cat", k=5).top
    assert [g.id for g in result.next[1]] == [g.id for g in alone]
    assert "".join(result.seen[2]) == "sand and the cat"


def test_a_missing_word_is_a_clear_message(tiny_llama) -> None:
    with pytest.raises(InputError, match="not a word of the sentence"):
        causal_context.follow_word(tiny_llama, ["the cat", "the sand"], ["cat", "cat"])
