"""Drawing for the causal model's views: charts, tables and escaped HTML from core's results.

Pages call these with the values ``ui.resources`` returns (``NextToken``, ``Generation`` steps,
``CausalWalk``, ``TrainingDemo``, ``CausalWord``); nothing here runs a model. Token text is
model output and may hold anything: it is shown with ``repr`` in charts and tables and escaped
in HTML.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

STRIP_CSS = (
    "<style>.steps{display:flex;gap:4px;overflow-x:auto;padding-bottom:4px}"
    ".steps .step{border:1px solid #d0d7de;border-radius:6px;padding:3px 6px;min-width:7rem;"
    "font-size:.8rem;background:#f6f8fa}.steps .chosen{font-weight:600;background:#fff3bf;"
    "border-radius:3px;padding:0 2px}.steps .alt{color:#57606a;white-space:nowrap}"
    ".written{font-family:monospace;white-space:pre-wrap;border-left:3px solid #4c78a8;"
    "padding:.3rem .6rem;margin:.4rem 0}.written .new{background:#fff3bf}</style>"
)


def guesses_frame(top: Sequence[Any]) -> pd.DataFrame:
    """Top tokens as a table: the token (repr: spaces and newlines visible), id, probability."""
    return pd.DataFrame(
        {
            "token": [repr(g.token) for g in top],
            "id": [g.id for g in top],
            "probability": [g.prob for g in top],
        }
    )


def top_chart(top: Sequence[Any], title: str) -> alt.Chart:
    """Horizontal bars: the likeliest next tokens and their probabilities."""
    frame = guesses_frame(top)
    return (
        alt.Chart(frame, title=title)
        .mark_bar()
        .encode(
            y=alt.Y("token:N", sort=None, title=None),
            x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1])),
            tooltip=["token", "id", alt.Tooltip("probability:Q", format=".4f")],
        )
        .properties(height=alt.Step(20))
    )


def lens_frame(by_layer: Sequence[Any]) -> pd.DataFrame:
    """The logit lens as a table: per layer its top token and the final choice's rank."""
    return pd.DataFrame(
        {
            "layer": ["input vectors" if r.layer == 0 else f"layer {r.layer}" for r in by_layer],
            "its top token": [repr(r.top[0].token) for r in by_layer],
            "top probability": [r.top[0].prob for r in by_layer],
            "final choice's rank": [r.choice_rank for r in by_layer],
            "final choice's probability": [r.choice_prob for r in by_layer],
        }
    )


LENS_COLUMNS = {
    "top probability": st.column_config.NumberColumn(format="%.3f"),
    "final choice's probability": st.column_config.NumberColumn(format="scientific"),
}


def lens_chart(by_layer: Sequence[Any], choice: str) -> alt.Chart:
    """The final choice's rank by layer (log scale: 1 at the top)."""
    frame = pd.DataFrame(
        {"layer": [r.layer for r in by_layer], "rank": [r.choice_rank for r in by_layer]}
    )
    return (
        alt.Chart(frame, title=f"Rank of {choice!r} after each layer (1 = the model's pick)")
        .mark_line(point=True)
        .encode(
            x=alt.X("layer:Q", title="layer (0 = input vectors)"),
            y=alt.Y("rank:Q", scale=alt.Scale(type="log", reverse=True)),
            tooltip=["layer", "rank"],
        )
    )


def written_html(prompt: str, new: str) -> str:
    """The prompt and the written continuation (highlighted), escaped."""
    return (
        f'{STRIP_CSS}<div class="written">{html.escape(prompt)}'
        f'<span class="new">{html.escape(new)}</span></div>'
    )


def steps_html(steps: Sequence[Any]) -> str:
    """One box per step: the token chosen, then the other likely tokens, escaped."""
    boxes = []
    for number, step in enumerate(steps, 1):
        chosen = html.escape(repr(step.token))
        others = "".join(
            f'<div class="alt">{html.escape(repr(g.token))} {g.prob:.2f}</div>' for g in step.top
        )
        boxes.append(
            f'<div class="step"><div>{number}. <span class="chosen">{chosen}</span> '
            f"{step.prob:.2f}</div>{others}</div>"
        )
    return f'{STRIP_CSS}<div class="steps">{"".join(boxes)}</div>'


def attention_chart(matrix: np.ndarray, labels: Sequence[str], title: str) -> alt.Chart:
    """Attention weights; cells a causal token cannot see (later tokens) are grey and empty."""
    t = len(labels)
    rows = []
    for a in range(t):
        for b in range(t):
            weight = None if b > a else float(matrix[a, b])  # the causal mask
            rows.append({"looking": labels[a], "seen": labels[b], "weight": weight})
    frame = pd.DataFrame(rows)
    return (
        alt.Chart(frame, title=title)
        .mark_rect()
        .encode(
            x=alt.X("seen:N", sort=list(labels), title=None, axis=alt.Axis(labelAngle=-60)),
            y=alt.Y("looking:N", sort=list(labels), title=None, axis=alt.Axis(labelOverlap=False)),
            color=alt.condition(
                "datum.weight === null",
                alt.value("#e9ecef"),
                alt.Color("weight:Q", scale=alt.Scale(scheme="blues")),
            ),
            tooltip=["looking", "seen", alt.Tooltip("weight:Q", format=".3f")],
        )
        .properties(height=alt.Step(18))
    )


def update_chart(updates: np.ndarray, labels: Sequence[str], title: str) -> alt.Chart:
    """Per layer and token, the length of what a sub-layer adds (log colour scale)."""
    frame = pd.DataFrame(
        [
            {"layer": f"layer {i + 1}", "token": labels[t], "length": float(updates[i, t])}
            for i in range(updates.shape[0])
            for t in range(updates.shape[1])
        ]
    )
    layers = [f"layer {i + 1}" for i in range(updates.shape[0])]
    return (
        alt.Chart(frame, title=title)
        .mark_rect()
        .encode(
            x=alt.X("token:N", sort=list(labels), title=None, axis=alt.Axis(labelAngle=-60)),
            y=alt.Y("layer:N", sort=layers, title=None),
            color=alt.Color("length:Q", scale=alt.Scale(scheme="blues", type="log")),
            tooltip=["layer", "token", alt.Tooltip("length:Q", format=".2f")],
        )
        .properties(height=alt.Step(10))
    )


def vectors_frame(rows: dict[str, np.ndarray], dims: int = 8) -> pd.DataFrame:
    """First ``dims`` numbers of each vector and its length."""
    table = pd.DataFrame({name: vector[:dims] for name, vector in rows.items()}).T
    table.columns = [f"d{i}" for i in range(dims)]
    table["… length"] = [float(np.linalg.norm(v)) for v in rows.values()]
    return table


def contrast_frame(rows: Sequence[Any]) -> pd.DataFrame:
    """The encoder and the causal model, one aspect per row."""
    return pd.DataFrame(
        {
            "": [r.aspect for r in rows],
            "embedding model (all-MiniLM-L6-v2)": [r.encoder for r in rows],
            "LLM (SmolLM2-135M)": [r.causal for r in rows],
        }
    )


def loss_chart(losses: Sequence[float]) -> alt.Chart:
    """The training loss before each step and after the last."""
    frame = pd.DataFrame({"step": range(len(losses)), "loss": list(losses)})
    return (
        alt.Chart(frame, title="Loss (cross-entropy of the wanted tokens)")
        .mark_line(point=True)
        .encode(x=alt.X("step:Q", title="steps taken"), y="loss:Q", tooltip=["step", "loss"])
    )


def moved_frame(demo: Any) -> pd.DataFrame:
    """Other prompts' likeliest next tokens before and after the training."""

    def line(top: Sequence[Any]) -> str:
        return ", ".join(f"{g.token!r} {g.prob:.2f}" for g in top)

    return pd.DataFrame(
        {
            "prompt": [m.prompt for m in demo.others],
            "before": [line(m.before) for m in demo.others],
            "after": [line(m.after) for m in demo.others],
        }
    )


def word_similarity_chart(result: Any, labels: Sequence[str]) -> alt.Chart:
    """The causal model's word vector in each sentence vs the first sentence's, by layer."""
    sim = result.similarity
    frame = pd.DataFrame(
        [
            {"layer": layer, "sentence": labels[s], "cosine": float(sim[s, layer])}
            for s in range(1, sim.shape[0])
            for layer in range(sim.shape[1])
        ]
    )
    return (
        alt.Chart(frame, title="SmolLM2: the word vs sentence 1's, by layer")
        .mark_line(point=True)
        .encode(
            x=alt.X("layer:Q", title="layer (0 = input vector)"),
            y=alt.Y("cosine:Q", scale=alt.Scale(domain=[-0.2, 1])),
            color="sentence:N",
            tooltip=["sentence", "layer", alt.Tooltip("cosine:Q", format=".3f")],
        )
    )


def next_after_word_frame(result: Any, labels: Sequence[str]) -> pd.DataFrame:
    """Per sentence, the likeliest tokens right after the word."""
    return pd.DataFrame(
        {
            "sentence": list(labels),
            "the model reads": ["".join(seen) for seen in result.seen],
            "likeliest next tokens": [
                ", ".join(f"{g.token!r} {g.prob:.2f}" for g in top) for top in result.next
            ],
        }
    )
