"""The Context page's sections: a word followed through the model in several sentences.

Each function takes what core.explain.walkthrough computed (``ContextResult``, ``WordView``,
verdicts, ``Senses``) and only draws it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from core.explain.walkthrough import MAX_ABLATED, trajectory
from ui import charts, components, markup


def steps_of(result: Any) -> list[str]:
    """Names of the model's steps: "embeddings", then "layer 1" ... "layer N"."""
    return ["embeddings"] + [f"layer {i}" for i in range(1, result.similarity.shape[0])]


def overview(result: Any) -> None:
    """The analysis's notes, its time, and each sentence as word pieces (in an expander)."""
    for note in result.notes:
        components.say("warning", note)
    count = len(result.views)
    st.caption(f"One model run for all {count} sentences: {result.seconds * 1000:.0f} ms.")
    with st.expander("How the model splits each sentence (word pieces and their ids)"):
        for number, view in enumerate(result.views, 1):
            pieces = len(view.word.positions)
            st.markdown(
                f"**Sentence {number}** · following *{markup.plain(view.word.text)}* "
                f"({pieces} piece{'s' if pieces > 1 else ''})"
            )
            components.show_html(
                markup.pieces_html(view.tokens.pieces, view.tokens.ids, view.word.positions)
            )


def drift(result: Any) -> None:
    """The word's cosine between sentences at every layer, and its path in 2D."""
    steps = steps_of(result)
    left, right = st.columns(2)
    left.altair_chart(charts.drift_chart(result.similarity, steps), key="ctx_drift")
    right.altair_chart(charts.path_chart(trajectory(result), steps), key="ctx_paths")
    same_piece = result.static_similarity[0, 1]
    st.caption(
        "Layer 0 ('embeddings') is the word piece's lookup vector plus a position vector and a "
        "segment vector, normalised: the same word at different positions differs slightly "
        f"there. The lookup vectors alone have cosine {same_piece:.3f} between sentences 1 and 2"
        + (" (identical pieces)." if same_piece > 0.9999 else " (different pieces).")
    )


def verdicts(found: Sequence[tuple[int, int, Any]], summary: dict) -> None:
    """Same sense or not for the first pairs, the evidence, and how well the verdict does."""
    for i, j, verdict in found[:6]:
        same = "the **same sense**" if verdict.same_sense else "**different senses**"
        st.markdown(
            f"Sentences {i + 1} and {j + 1}: {same} (P(same) = **{verdict.score:.2f}**, "
            f"threshold {verdict.threshold:.2f})"
        )
        evidence = pd.DataFrame(verdict.evidence, columns=["similarity", "value", "push"])
        evidence["push"] = [
            ("towards same " if p > 0 else "towards different ") + f"{p:+.2f}"
            for p in evidence["push"]
        ]
        st.dataframe(
            evidence.style.format({"value": "{:.3f}"}),
            hide_index=True,
            key=f"ctx_evidence_{i}_{j}",
        )
    if not found:
        return
    accuracy = summary.get("dev_accuracy") or 0.0
    baseline = summary.get("baseline_last_layer_cosine", {}).get("dev_accuracy") or 0.0
    st.caption(
        "How the verdict works: at every layer it compares the two word vectors (raw, and after "
        "removing the direction all vectors of that layer share) and the two whole sentences; "
        "a logistic regression fitted on the WiC training pairs weighs these 28 numbers. "
        f"On WiC dev it is right {accuracy:.1%} of the time "
        f"(last-layer cosine alone: {baseline:.1%}; people: about 80%)."
    )


def attention(view: Any, layer: int) -> None:
    """Where the word looks: every layer (mean of the heads), then each head of ``layer``."""
    trace = view.trace
    n_layers, n_heads = trace.attention.shape[:2]
    tokens = [f"{i}:{p}" for i, p in enumerate(view.tokens.pieces)]
    layers = [f"layer {i}" for i in range(1, n_layers + 1)]
    heads = [f"head {h}" for h in range(1, n_heads + 1)]
    title = f"From '{view.word.text}' to every token, each layer (mean of {n_heads} heads)"
    mean = trace.attention.mean(axis=1)
    st.altair_chart(charts.heat(mean, layers, tokens, title, "layer"), key="ctx_att_layers")
    title = f"Layer {layer}, each head separately"
    one = trace.attention[layer - 1]
    st.altair_chart(charts.heat(one, heads, tokens, title, "head"), key="ctx_att_heads")
    row_sum = trace.attention.sum(axis=-1)
    st.caption(
        f"Each row is a probability distribution: it sums to 1 (here between {row_sum.min():.4f}"
        f" and {row_sum.max():.4f}). Much attention goes to [CLS], [SEP] and punctuation: heads "
        "often park there when nothing else is relevant, so high weight is not the same as "
        "high influence. The removal test below measures influence directly."
    )


def updates(view: Any, number: int) -> None:
    """What each sub-layer added to the word's vector, and how far the vector moved."""
    trace = view.trace
    steps = [f"layer {i}" for i in range(1, trace.attention.shape[0] + 1)]
    added = {
        "attention output": trace.attn_update,
        "feed-forward output": trace.ffn_update,
        "word vector entering the layer": trace.stream,
    }
    moved = {"across attention": trace.attn_moved, "across feed-forward": trace.ffn_moved}
    title = f"Sub-layer updates to '{view.word.text}' (sentence {number}), before adding"
    left, right = st.columns(2)
    left.altair_chart(charts.layer_bars(added, steps, title), key="ctx_updates")
    title = "How far the vector actually moved (after LayerNorm)"
    right.altair_chart(charts.layer_bars(moved, steps, title), key="ctx_moved")
    st.caption(
        "Each layer adds the attention sub-layer's output to the word's vector, then normalises "
        "(LayerNorm), then does the same with the feed-forward sub-layer: "
        "mid = LayerNorm(x + attention(x)), out = LayerNorm(mid + feed_forward(mid)). The left "
        "chart shows the length of what each sub-layer adds, next to the vector it is added to; "
        "because LayerNorm then rescales the sum, the right chart shows how far the normalised "
        "vector really moved at each step."
    )


def removals(found: Sequence[tuple[str, float]], number: int, word: str) -> None:
    """The removal test: the change in the word's final vector without each other word."""
    if not found:
        st.info(f"Sentence {number} has no other words to remove.")
        return
    title = f"Sentence {number}: change in '{word}' when a word is removed"
    st.altair_chart(charts.removal_chart(found, title), key="ctx_ablation")
    st.caption(
        "Removal test: the sentence is run again without each other word in turn, and the "
        "word's final vector compared with the full-sentence one. Unlike attention weights, "
        "this measures how much a word actually matters to the result (up to the "
        f"{MAX_ABLATED} words nearest to it)."
    )


def senses(found: Any) -> None:
    """A word's uses in a collection: a map coloured by group, and each group's examples.

    The sentences come from documents: they are shown as escaped HTML, never as Markdown.
    """
    sentences = [s for s, _, _ in found.sentences]
    title = f"{len(sentences)} uses of '{found.word}' (PCA)"
    chart = charts.senses_chart(found.points, found.labels, sentences, title)
    left, right = st.columns([1, 1])
    left.altair_chart(chart, key="ctx_senses_map")
    with right:
        for group, members in enumerate(found.examples):
            size = int(np.sum(found.labels == group))
            items = [markup.marked_html(*found.sentences[i]) for i in members]
            components.show_html(markup.list_html(f"Group {group + 1} · {size} uses", items))
