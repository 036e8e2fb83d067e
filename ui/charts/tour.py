"""The guided tour's small pictures: one compact Altair chart per step, from ``core.explain.tour``.

Pure functions: the step's data in, ``alt.Chart`` out, each about ``HEIGHT`` pixels tall and as
wide as its column. Words and tokens reach the browser only as data, drawn by Vega as text.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

HEIGHT = 150
# Fit the column's width only: "fit" would squeeze the axes' labels into the height too.
FIT_WIDTH = alt.AutoSizeParams(type="fit-x", contains="padding")


def label_rows(xy: np.ndarray, width: float = 0.16, height: float = 0.1) -> list[float]:
    """A y for each point's label, moved up or down in steps until it overlaps no label
    placed before it (labels are about ``width`` x ``height`` of the points' spread)."""
    span = np.maximum(np.ptp(xy, axis=0), 1e-9)
    unit = (xy - xy.min(axis=0)) / span  # (n, 2) in 0..1
    placed: list[tuple[float, float]] = []
    rows = []
    for x, y in unit:
        for shift in (0, 1, -1, 2, -2, 3, -3):
            candidate = y + shift * height
            if all(abs(x - px) >= width or abs(candidate - py) >= height for px, py in placed):
                break
        placed.append((x, candidate))
        rows.append(float(xy.min(axis=0)[1] + candidate * span[1]))
    return rows


def word_points(words: Sequence[str], xy: np.ndarray, similar: int) -> alt.LayerChart:
    """Step 2: labelled dots, the similar words in one colour, the others in another; close
    words get their labels moved apart (:func:`label_rows`)."""
    frame = pd.DataFrame(
        {
            "word": list(words),
            "x": xy[:, 0],
            "y": xy[:, 1],
            "label_y": label_rows(xy),
            "group": ["similar" if i < similar else "other" for i in range(len(words))],
        }
    )
    colour = alt.Color(
        "group:N",
        legend=None,
        scale=alt.Scale(domain=["similar", "other"], range=["#4c78a8", "#9a9a9a"]),
    )
    x = alt.X("x:Q", axis=None, scale=alt.Scale(padding=30))
    y = alt.Y("y:Q", axis=None, scale=alt.Scale(padding=14))
    base = alt.Chart(frame).encode(x=x, color=colour, tooltip=["word:N"])
    dots = base.mark_circle(size=60, opacity=1).encode(y=y)
    labels = base.mark_text(align="left", dx=7).encode(y=alt.Y("label_y:Q"), text="word:N")
    return alt.layer(dots, labels).properties(height=HEIGHT, width="container", autosize=FIT_WIDTH)


def looks(rows: Sequence[tuple[int, str, float]]) -> alt.Chart:
    """Step 3: bars of attention share per context word, coloured by sentence.

    Args:
        rows: (sentence number, word, share), grouped by sentence.
    """
    frame = pd.DataFrame(rows, columns=["sentence", "word", "share"])
    frame["label"] = frame["sentence"].astype(str) + ": " + frame["word"]
    frame["sentence"] = "sentence " + frame["sentence"].astype(str)
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y("label:N", sort=None, title=None, axis=alt.Axis(labelOverlap=False)),
            x=alt.X("share:Q", title="share of the word's attention", axis=alt.Axis(format="%")),
            color=alt.Color("sentence:N", legend=None),
            tooltip=["sentence", "word", alt.Tooltip("share:Q", format=".1%")],
        )
        .properties(height=alt.Step(18), width="container", autosize=FIT_WIDTH)
    )


def updates(matrix: np.ndarray, labels: Sequence[str]) -> alt.Chart:
    """Step 4: feed-forward update length per layer (rows) and token (columns)."""
    layers = [str(i + 1) for i in range(matrix.shape[0])]
    frame = pd.DataFrame(
        [
            {"layer": layers[a], "token": labels[b], "length": float(matrix[a, b])}
            for a in range(matrix.shape[0])
            for b in range(matrix.shape[1])
        ]
    )
    return (
        alt.Chart(frame)
        .mark_rect()
        .encode(
            x=alt.X(
                "token:N",
                sort=list(labels),
                title=None,
                axis=alt.Axis(labelAngle=-60, labelOverlap=False, labelFontSize=10),
            ),
            y=alt.Y("layer:N", sort=layers, title="layer", axis=alt.Axis(labelOverlap=False)),
            color=alt.Color("length:Q", scale=alt.Scale(scheme="blues", type="log"), legend=None),
            tooltip=["layer", "token", alt.Tooltip("length:Q", format=".2f")],
        )
        .properties(height=alt.Step(14), width="container", autosize=FIT_WIDTH)
    )


def drift(cosines: np.ndarray) -> alt.Chart:
    """Step 5: cosine of the word's two vectors, lookup first, then each layer."""
    steps = ["lookup", "input", *[f"layer {i}" for i in range(1, len(cosines) - 1)]]
    frame = pd.DataFrame({"step": steps, "cosine": [float(c) for c in cosines]})
    return (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("step:N", sort=steps, title=None, axis=alt.Axis(labelAngle=-45)),
            y=alt.Y("cosine:Q", scale=alt.Scale(domain=[0, 1])),
            tooltip=["step", alt.Tooltip("cosine:Q", format=".3f")],
        )
        .properties(height=HEIGHT - 60, width="container", autosize=FIT_WIDTH)
    )


def bars(names: Sequence[str], values: Sequence[float], title: str, domain: float = 1.0):
    """Steps 6 and 7: horizontal bars with their names (``repr`` of tokens, or labels)."""
    frame = pd.DataFrame({"name": list(names), "value": [float(v) for v in values]})
    base = alt.Chart(frame).encode(
        y=alt.Y("name:N", sort=None, title=None, axis=alt.Axis(labelLimit=220, labelOverlap=False)),
        x=alt.X("value:Q", title=title, scale=alt.Scale(domain=[0, domain])),
        tooltip=["name", alt.Tooltip("value:Q", format=".3f")],
    )
    text = base.mark_text(align="left", dx=3).encode(text=alt.Text("value:Q", format=".2f"))
    return alt.layer(base.mark_bar(), text).properties(
        height=alt.Step(20), width="container", autosize=FIT_WIDTH
    )
