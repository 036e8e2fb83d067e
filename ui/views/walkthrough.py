"""The How it works page's sections: one sentence through the model, step by step.

Each function takes what core.explain.walkthrough computed (a ``Walkthrough``) or what the
causal model guessed, and only draws it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from ui import charts, components, markup

DIMS = 8  # numbers of each vector shown


def vectors_table(rows: dict[str, np.ndarray]) -> pd.DataFrame:
    """First ``DIMS`` numbers of each vector, plus its length."""
    table = pd.DataFrame({name: vector[:DIMS] for name, vector in rows.items()}).T
    table.columns = [f"d{i}" for i in range(DIMS)]
    table["… length"] = [float(np.linalg.norm(v)) for v in rows.values()]
    return table


def labels_of(walk: Any) -> list[str]:
    """ "position:piece" for each token of the sentence."""
    return [f"{i}:{p}" for i, p in enumerate(walk.tokens.pieces)]


def facts(walk: Any) -> None:
    """The model's sizes, one metric each."""
    columns = st.columns(len(walk.facts))
    for column, (name, value) in zip(columns, walk.facts.items(), strict=True):
        column.metric(name, f"{value / 1e6:.1f} M" if value >= 1e6 else f"{value:,}")


def pieces(walk: Any) -> None:
    """Text -> word pieces -> ids."""
    st.markdown(
        f"The tokenizer lower-cases the text and cuts it into **{len(walk.tokens.pieces)}** "
        f"pieces from a vocabulary of {walk.facts['vocabulary']:,}; rare words become several "
        "pieces (`##` marks a continuation). [CLS] and [SEP] mark the start and end. Each piece "
        "has an id: its row in the model's table of input vectors."
    )
    components.show_html(markup.pieces_html(walk.tokens.pieces, walk.tokens.ids))


def inputs(walk: Any, token: int) -> None:
    """The three looked-up vectors of one token, their sum, and the input to layer 1."""
    word, position, segment = (part[token] for part in walk.parts)
    st.markdown(
        "Three vectors are looked up and added: the piece's own vector (the same in every "
        "sentence), a vector for its position, and a segment vector; LayerNorm then rescales "
        f"the sum. Every token becomes {walk.facts['dimensions']} numbers; the first {DIMS} are "
        "shown."
    )
    piece = walk.tokens.pieces[token]
    rows = {
        f"piece '{piece}' (id {walk.tokens.ids[token]})": word,
        f"position {token}": position,
        "segment": segment,
        "sum": word + position + segment,
        "after LayerNorm: input to layer 1": walk.run.hidden[0, token],
    }
    st.dataframe(vectors_table(rows).style.format("{:+.3f}"), key="hiw_inputs")


def attention(walk: Any, layer: int, head: int) -> None:
    """One head's attention weights, every token to every token."""
    heads, dims = walk.facts["heads"], walk.facts["dimensions"]
    st.markdown(
        f"In each layer, {heads} heads each score every pair of tokens (query · key), turn each "
        "row of scores into weights that sum to 1 (softmax), and mix the tokens' value vectors "
        f"with those weights. The heads' outputs are joined and projected back to {dims} "
        "numbers, then **added** to each token's vector and normalised."
    )
    labels = labels_of(walk)
    title = f"Layer {layer}, head {head}: row = the token looking, column = the token looked at"
    weights = walk.run.attention[layer - 1, head - 1]
    st.altair_chart(charts.heat(weights, labels, labels, title), key="hiw_attention")


def feed_forward(walk: Any) -> None:
    """How large each sub-layer's update is, per token and layer."""
    f = walk.facts
    st.markdown(
        f"After attention, every token's vector goes through the same small network: "
        f"{f['dimensions']} → {f['intermediate size']} numbers, a GELU bend, back to "
        f"{f['dimensions']}; the result is again **added** and normalised. Below: how large "
        "each sub-layer's update is, per token and layer (the vector length of what is added)."
    )
    labels = labels_of(walk)
    layers = [f"layer {i}" for i in range(1, walk.run.attention.shape[0] + 1)]
    attn = np.linalg.norm(walk.run.attn_update, axis=-1)  # (layers, T)
    ffn = np.linalg.norm(walk.run.ffn_update, axis=-1)  # (layers, T)
    left, right = st.columns(2)
    title = "Attention updates (log colour scale)"
    chart = charts.heat(attn, layers, labels, title, value="length", scale="log")
    left.altair_chart(chart, key="hiw_upd_a")
    title = "Feed-forward updates (log colour scale)"
    chart = charts.heat(ffn, layers, labels, title, value="length", scale="log")
    right.altair_chart(chart, key="hiw_upd_f")


def journey(walk: Any, token: int) -> None:
    """One token's vector after each layer, and its cosine to where it started."""
    hidden = walk.run.hidden  # (layers + 1, T, D)
    steps = {"input (after LayerNorm)": hidden[0, token]}
    steps.update({f"after layer {i}": hidden[i, token] for i in range(1, len(hidden))})
    table = vectors_table(steps)
    start = hidden[0, token]
    table["cosine to input"] = [
        float(v @ start / (np.linalg.norm(v) * np.linalg.norm(start))) for v in steps.values()
    ]
    label = labels_of(walk)[token]
    st.markdown(f"The vector of **{markup.plain(label)}** after each layer:")
    st.dataframe(table.style.format("{:+.3f}"), key="hiw_journey")


def pooling(walk: Any) -> None:
    """The mean of the final token vectors, scaled to length 1: the search vector."""
    st.markdown(
        f"The {len(walk.tokens.pieces)} final token vectors are averaged ([CLS] and [SEP] "
        "included), and the mean is scaled to length 1. That single vector is what search "
        "compares, by cosine, with the vectors of every passage in a collection."
    )
    rows = {"mean of the tokens": walk.pooled, "scaled to length 1": walk.final}
    st.dataframe(vectors_table(rows).style.format("{:+.3f}"), key="hiw_final")
    shapes = pd.DataFrame(walk.shapes(), columns=["step", "shape"])
    st.dataframe(shapes, hide_index=True, key="hiw_shapes")
