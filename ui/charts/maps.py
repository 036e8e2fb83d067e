"""Maps -> Altair charts: a collection's map (Explore) and a few words' maps (Words).

Pure functions returning ``alt.Chart`` objects.

Text reaches the browser only as data: Vega draws it as text and its tooltip handler escapes
HTML (its default ``sanitize``, which nothing here overrides).
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

DRAW_LIMIT = 10_000  # points drawn one by one; beyond this a seeded sample over a density
PALETTE = (  # Vega's tableau20 without its two greys; grey is kept for "other"
    "#4c78a8 #9ecae9 #f58518 #ffbf79 #54a24b #88d27a #b79a20 #f2cf5b #439894 #83bcb6 "
    "#e45756 #ff9d98 #d67195 #fcbfd2 #b279a2 #d6a5c9 #9e765f #d8b5a5"
).split()
MAX_COLOURS = len(PALETTE) + 1
OTHER = "other"
BASE_FIELDS = ("chunk_id", "doc_id", "title", "chunk", "source", "snippet", "x", "y")
PAN = "[pointerdown[!event.shiftKey], window:pointerup] > window:pointermove!"
BOX = "[pointerdown[event.shiftKey], window:pointerup] > window:pointermove!"
CHOSEN = (  # nothing selected yet, or picked by click or inside the box
    "(!length(data('pick_store')) && !length(data('box_store')))"
    " || vlSelectionTest('pick_store', datum) || vlSelectionTest('box_store', datum)"
)
RECALL = "_recall"  # column holding each point's neighbour recall (shaded, not categories)
HELP = (
    "Drag to pan, scroll to zoom, click a point, shift+drag to select a box, double-click to reset."
)


def colour_fields(table: pd.DataFrame, most: int = 200) -> list[str]:
    """Metadata columns worth colouring by: 2 to ``most`` distinct values."""
    fields = [c for c in table.columns if c not in BASE_FIELDS and not c.startswith("_")]
    return [c for c in fields if 2 <= table[c].astype(str).nunique() <= most]


def limit_categories(values: pd.Series, most: int = MAX_COLOURS) -> pd.Series:
    """The ``most - 1`` commonest values as text, every other value as "other"."""
    text = values.fillna("(none)").astype(str)
    keep = text.value_counts().index[: most - 1] if text.nunique() > most else text.unique()
    return text.where(text.isin(keep), OTHER)


def colour_channel(categories: pd.Series, title: str) -> alt.Color:
    """Distinct colours by frequency, "other" last and grey; the legend under the map."""
    named = [c for c in categories.value_counts().index if c != OTHER]
    domain = named + ([OTHER] if (categories == OTHER).any() else [])
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(named))]
    scale = alt.Scale(domain=domain, range=colours + ["#c8c8c8"] * (len(domain) - len(named)))
    legend = alt.Legend(orient="bottom", columns=4, symbolLimit=MAX_COLOURS, labelLimit=220)
    return alt.Color(f"{categories.name}:N", title=title, scale=scale, legend=legend)


def recall_channel() -> alt.Color:
    """Red (the map lost this point's neighbours) to green (it kept them), 0 to 1."""
    scale = alt.Scale(scheme="redyellowgreen", domain=[0, 1])
    legend = alt.Legend(orient="bottom", title="neighbour recall", format=".0%")
    return alt.Color(f"{RECALL}:Q", scale=scale, legend=legend)


def draw_sample(table: pd.DataFrame, limit: int = DRAW_LIMIT, seed: int = 0) -> pd.DataFrame:
    """The table itself, or a seeded sample of ``limit`` rows (the rest drawn as density)."""
    return table if len(table) <= limit else table.sample(limit, random_state=seed)


def density(coords: np.ndarray, bins: int = 64) -> pd.DataFrame:
    """Non-empty cells of a 2D histogram: x, x2, y, y2, points."""
    counts, xs, ys = np.histogram2d(coords[:, 0], coords[:, 1], bins=bins)
    i, j = np.nonzero(counts)
    return pd.DataFrame(
        {"x": xs[i], "x2": xs[i + 1], "y": ys[j], "y2": ys[j + 1], "points": counts[i, j]}
    )


def map_chart(
    points: pd.DataFrame,
    colour: str | None = None,
    query: dict | None = None,
    neighbours: pd.DataFrame | None = None,
    cells: pd.DataFrame | None = None,
    height: int = 560,
    initial: dict | None = None,
) -> alt.LayerChart:
    """The interactive map: points with tooltips, zoom/pan, click and box selection.

    Args:
        points: columns x, y, chunk_id, doc_id, title, snippet (and ``colour``).
        colour: a column to colour by (its values shown as categories).
        query: ``{"x": .., "y": .., "label": ..}`` for the query's place on the map.
        neighbours: x, y, rank, title (and snippet) of the query's true neighbours.
        cells: a :func:`density` grid drawn under the points (for sampled views).
        height: pixels.
        initial: a selection to draw at first, in the form of Streamlit's ``event.selection``
            (``{"box": {"x": [x0, x1], "y": [y0, y1]}, "pick": [{"chunk_id": 3}]}``): the one
            a link was opened with.
    """
    initial = initial or {}
    zoom = alt.selection_interval(name="zoom", bind="scales", translate=PAN, zoom="wheel!")
    picked = initial.get("pick") or alt.Undefined
    pick = alt.selection_point(name="pick", fields=["chunk_id"], on="click", value=picked)
    box = alt.selection_interval(
        name="box",
        on=BOX,
        translate=False,
        zoom=False,
        clear=False,
        value=initial.get("box") or alt.Undefined,
    )
    tooltip: list = ["title:N", "doc_id:N", "chunk:N", "snippet:N"]
    colour_enc: alt.Color | alt.ColorValue = alt.value("#4c78a8")
    if colour == RECALL:
        colour_enc = recall_channel()
        tooltip.insert(0, alt.Tooltip(f"{RECALL}:Q", title="neighbour recall", format=".0%"))
    elif colour:
        # Copies under fixed names: a field name from a document (a CSV header such as
        # "a:b" or "a.b") would be read by Altair and Vega-Lite as a type or a nested path.
        values = points[colour].map(lambda v: v if isinstance(v, str) else str(v))
        points = points.assign(_colour=limit_categories(points[colour]), _colour_value=values)
        colour_enc = colour_channel(points["_colour"], colour)
        tooltip.insert(0, alt.Tooltip("_colour_value:N", title=colour))
    base = alt.Chart(points).encode(x=_axis("x"), y=_axis("y"))
    dots = base.mark_circle(size=36).encode(
        color=colour_enc,
        opacity=alt.condition(CHOSEN, alt.value(0.8), alt.value(0.15)),
        tooltip=tooltip,
    )
    layers = [dots.add_params(zoom, pick, box)]
    if cells is not None and len(cells):
        layers.insert(0, density_layer(cells))
    if query is not None:
        layers += query_layers(query, neighbours)
    return alt.layer(*layers).properties(height=height, width="container")


def _axis(field: str, padding: int = 12) -> alt.X | alt.Y:
    """A bare position channel: map coordinates have no units, and zero means nothing."""
    channel = alt.X if field == "x" else alt.Y
    axis = alt.Axis(title=None, labels=False, ticks=False)
    return channel(f"{field}:Q", axis=axis, scale=alt.Scale(zero=False, padding=padding))


def density_layer(cells: pd.DataFrame) -> alt.Chart:
    """Grey cells: how many points fall in each part of the map."""
    return (
        alt.Chart(cells)
        .mark_rect(opacity=0.5)
        .encode(
            x="x:Q",
            x2="x2",
            y="y:Q",
            y2="y2",
            color=alt.Color("points:Q", scale=alt.Scale(scheme="greys"), legend=None),
            tooltip=[alt.Tooltip("points:Q", title="points in this cell")],
        )
    )


def query_layers(query: dict, neighbours: pd.DataFrame | None) -> list[alt.Chart]:
    """A star for the query, lines and numbered rings for its true neighbours."""
    star = pd.DataFrame([{"x": query["x"], "y": query["y"], "label": query.get("label", "query")}])
    layers = []
    if neighbours is not None and len(neighbours):
        lines = neighbours.assign(qx=query["x"], qy=query["y"])
        link = alt.Chart(lines).mark_rule(color="#e45756", opacity=0.6, strokeWidth=1.5)
        layers.append(link.encode(x="qx:Q", y="qy:Q", x2="x", y2="y"))
        ring = alt.Chart(neighbours).mark_point(size=160, color="#e45756", strokeWidth=2)
        tips = [c for c in ("rank:Q", "title:N", "snippet:N") if c[:-2] in neighbours]
        layers.append(ring.encode(x="x:Q", y="y:Q", tooltip=tips))
        ranks = alt.Chart(neighbours).mark_text(dx=9, dy=-9, color="#b03030", fontWeight="bold")
        layers.append(ranks.encode(x="x:Q", y="y:Q", text="rank:Q"))
    mark = alt.Chart(star).mark_point(shape="diamond", size=320, filled=True, color="black")
    layers.append(mark.encode(x="x:Q", y="y:Q", tooltip=[alt.Tooltip("label:N", title="query")]))
    text = alt.Chart(star).mark_text(dy=-16, fontWeight="bold")
    layers.append(text.encode(x="x:Q", y="y:Q", text="label:N"))
    return layers


def words_map(table: pd.DataFrame, title: str, height: int = 360) -> alt.LayerChart:
    """Labelled points for a few words (columns x, y, word, pieces)."""
    base = alt.Chart(table).encode(
        x=_axis("x", padding=48), y=_axis("y", padding=24), tooltip=["word:N", "pieces:N"]
    )
    dots = base.mark_circle(size=70, color="#4c78a8")
    labels = base.mark_text(align="left", dx=7, fontSize=13).encode(text="word:N")
    zoom = alt.selection_interval(bind="scales")
    chart = alt.layer(dots.add_params(zoom), labels)
    return chart.properties(title=title, height=height, width="container")


def heatmap(words: Sequence[str], matrix: np.ndarray, title: str) -> alt.LayerChart:
    """Cosine similarity between words as coloured cells with their values written in."""
    n = len(words)
    cells = pd.DataFrame(
        {
            "a": np.repeat(list(words), n),
            "b": np.tile(list(words), n),
            "cosine": np.asarray(matrix, dtype=float).reshape(-1).round(3),
        }
    )
    order = list(words)
    base = alt.Chart(cells).encode(
        x=alt.X("b:N", sort=order, title=None, axis=alt.Axis(labelAngle=-45, labelOverlap=False)),
        y=alt.Y("a:N", sort=order, title=None, axis=alt.Axis(labelOverlap=False)),
    )
    rect = base.mark_rect().encode(
        color=alt.Color("cosine:Q", scale=alt.Scale(scheme="blues", domain=[0, 1], clamp=True)),
        tooltip=["a:N", "b:N", alt.Tooltip("cosine:Q", format=".3f")],
    )
    text = base.mark_text(fontSize=10 if n <= 12 else 0).encode(
        text=alt.Text("cosine:Q", format=".2f"),
        color=alt.condition("datum.cosine > 0.6", alt.value("white"), alt.value("black")),
    )
    size = max(300, min(80 + 30 * n, 1200))  # title and rotated labels take about 80 px
    return alt.layer(rect, text).properties(title=title, height=size, width="container")


def selected_points(table: pd.DataFrame, selection: dict) -> pd.DataFrame:
    """Rows of ``table`` picked by click (``pick``) or inside the box (``box``).

    Args:
        table: the map's points (x, y, chunk_id, ...).
        selection: Streamlit's ``event.selection`` for :func:`map_chart`'s parameters.
    """
    picked = {int(p["chunk_id"]) for p in selection.get("pick") or [] if "chunk_id" in p}
    mask = table["chunk_id"].isin(picked)
    box = selection.get("box") or {}
    if box.get("x") and box.get("y"):
        (x0, x1), (y0, y1) = sorted(box["x"]), sorted(box["y"])
        mask |= table["x"].between(x0, x1) & table["y"].between(y0, y1)
    return table[mask]
