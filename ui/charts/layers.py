"""The model's insides -> Altair charts: attention and update heat maps, a word's drift and
path through the layers, sub-layer bars, the removal test, senses, next-token guesses.

Pure functions: arrays from core.explain in, ``alt.Chart`` out. Text (word pieces, sentences)
reaches the browser only as data, drawn by Vega as text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt
import numpy as np
import pandas as pd


def heat(
    matrix: np.ndarray,
    rows: Sequence[str],
    columns: Sequence[str],
    title: str,
    row_title: str | None = None,
    value: str = "weight",
    scale: str = "linear",
) -> alt.Chart:
    """A (rows, columns) matrix as coloured cells, one column per token.

    Args:
        matrix: (len(rows), len(columns)) values, e.g. attention weights.
        rows: row labels, top to bottom (layers, heads or tokens).
        columns: token labels, left to right.
        title: the chart's title.
        row_title: the rows' axis title (None for none).
        value: what a cell holds, for the legend and tooltip.
        scale: the colour scale type ("linear" or "log").
    """
    frame = pd.DataFrame(
        [
            {"row": r, "token": t, value: float(matrix[a, b])}
            for a, r in enumerate(rows)
            for b, t in enumerate(columns)
        ]
    )
    return (
        alt.Chart(frame, title=title)
        .mark_rect()
        .encode(
            x=alt.X("token:N", sort=list(columns), title=None, axis=alt.Axis(labelAngle=-60)),
            y=alt.Y("row:N", sort=list(rows), title=row_title, axis=alt.Axis(labelOverlap=False)),
            color=alt.Color(f"{value}:Q", scale=alt.Scale(scheme="blues", type=scale)),
            tooltip=[
                alt.Tooltip("row:N", title=row_title or "row"),
                "token:N",
                alt.Tooltip(f"{value}:Q", format=".3f"),
            ],
        )
        .properties(height=alt.Step(22))
    )


def drift_chart(similarity: np.ndarray, steps: Sequence[str]) -> alt.Chart:
    """Cosine of the word between each pair of sentences at each step.

    Args:
        similarity: (steps, S, S) cosines (``ContextResult.similarity``).
        steps: names of the steps ("embeddings", "layer 1", ...).
    """
    count = similarity.shape[1]
    rows = [
        {"pair": f"{i + 1} vs {j + 1}", "step": steps[n], "cosine": float(c)}
        for i in range(count)
        for j in range(i + 1, count)
        for n, c in enumerate(similarity[:, i, j])
    ]
    return (
        alt.Chart(pd.DataFrame(rows), title="Cosine of the word's two vectors at each layer")
        .mark_line(point=True)
        .encode(
            x=alt.X("step:N", sort=list(steps), title=None),
            y=alt.Y("cosine:Q", scale=alt.Scale(zero=False)),
            color=alt.Color("pair:N", title="sentences"),
            tooltip=["pair", "step", alt.Tooltip("cosine:Q", format=".3f")],
        )
    )


def path_chart(points: np.ndarray, steps: Sequence[str]) -> alt.LayerChart:
    """Each sentence's word vector through the steps, in one shared 2D projection.

    Args:
        points: (S, steps, 2) coordinates (``walkthrough.trajectory``).
        steps: names of the steps.
    """
    path = pd.DataFrame(
        [
            {"sentence": str(s + 1), "step": steps[n], "order": n, "x": x, "y": y}
            for s in range(points.shape[0])
            for n, (x, y) in enumerate(points[s])
        ]
    )
    base = alt.Chart(path, title="Each sentence's word vector through the layers (one shared PCA)")
    lines = base.mark_line(point=True).encode(
        x=alt.X("x:Q", title="PC 1"),
        y=alt.Y("y:Q", title="PC 2"),
        order="order:Q",
        color=alt.Color("sentence:N"),
        tooltip=["sentence", "step"],
    )
    labels = base.mark_text(dx=8, dy=-6, fontSize=10).encode(x="x:Q", y="y:Q", text="step:N")
    return lines + labels


def layer_bars(values: Mapping[str, np.ndarray], steps: Sequence[str], title: str) -> alt.Chart:
    """Side-by-side bars of vector lengths per layer, one colour per part.

    Args:
        values: part name -> (layers,) lengths.
        steps: layer names.
        title: the chart's title.
    """
    frame = pd.DataFrame(
        [
            {"layer": steps[n], "part": part, "norm": float(v)}
            for part, series in values.items()
            for n, v in enumerate(series)
        ]
    )
    legend = alt.Legend(orient="bottom", direction="vertical", labelLimit=400)
    return (
        alt.Chart(frame, title=title)
        .mark_bar()
        .encode(
            x=alt.X("layer:N", sort=list(steps), title=None),
            xOffset="part:N",
            y=alt.Y("norm:Q", title="vector length"),
            color=alt.Color("part:N", title=None, legend=legend),
            tooltip=["layer", "part", alt.Tooltip("norm:Q", format=".2f")],
        )
    )


def removal_chart(removals: Sequence[tuple[str, float]], title: str) -> alt.Chart:
    """How much the word's final vector changes when each other word is removed."""
    frame = pd.DataFrame(
        [{"word": f"{i + 1}. {w}", "change": c} for i, (w, c) in enumerate(removals)]
    )
    axis = alt.Axis(labelOverlap=False)
    return (
        alt.Chart(frame, title=title)
        .mark_bar()
        .encode(
            y=alt.Y("word:N", sort=list(frame["word"]), title=None, axis=axis),
            x=alt.X("change:Q", title="1 − cosine(final vector, final vector without the word)"),
            tooltip=["word", alt.Tooltip("change:Q", format=".4f")],
        )
        .properties(height=alt.Step(20))
    )


def senses_chart(
    points: np.ndarray, labels: Sequence[int], sentences: Sequence[str], title: str
) -> alt.Chart:
    """Occurrences of a word as points (PCA), coloured by group, the sentence on hover."""
    frame = pd.DataFrame(
        {
            "x": points[:, 0],
            "y": points[:, 1],
            "group": [str(g + 1) for g in labels],
            "sentence": list(sentences),
        }
    )
    return (
        alt.Chart(frame, title=title)
        .mark_circle(size=70)
        .encode(
            x=alt.X("x:Q", title="PC 1"),
            y=alt.Y("y:Q", title="PC 2"),
            color="group:N",
            tooltip=["group", "sentence"],
        )
    )


def pair_chart(matrix: np.ndarray, rows: Sequence[str], columns: Sequence[str]) -> alt.Chart:
    """Query words (rows) against document words (columns): each cell's share of the cosine.

    Green cells add to the score, purple ones take from it (as in the per-piece view); labels
    carry their position, so a word that occurs twice keeps two rows.
    """
    row_labels = [f"{i}·{t}" for i, t in enumerate(rows)]
    col_labels = [f"{j}·{t}" for j, t in enumerate(columns)]
    frame = pd.DataFrame(
        [
            {"query": r, "document": c, "share": float(matrix[a, b])}
            for a, r in enumerate(row_labels)
            for b, c in enumerate(col_labels)
        ]
    )
    limit = float(np.abs(matrix).max()) or 1.0
    scale = alt.Scale(scheme="purplegreen", domain=[-limit, limit])
    return (
        alt.Chart(frame, title="Which query word matched which document word")
        .mark_rect()
        .encode(
            x=alt.X(
                "document:N",
                sort=col_labels,
                title=None,
                axis=alt.Axis(labelAngle=-60, labelOverlap=False, labelFontSize=10),
            ),
            y=alt.Y("query:N", sort=row_labels, title=None, axis=alt.Axis(labelOverlap=False)),
            color=alt.Color("share:Q", scale=scale, title="share of the cosine"),
            tooltip=["query:N", "document:N", alt.Tooltip("share:Q", format=".4f")],
        )
        .properties(height=alt.Step(18), width=alt.Step(16))
    )
