"""The Explore page's sections: the query's marks on the map, the selected points, and the
query's true neighbours.

Each function takes what core.explain.explore computed (a ``QueryView``, hits) and only
draws it; titles and snippets from documents go into escaped tables and Vega data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from core.storage import export
from ui import components

SCORE = {"score": "{:.3f}"}


def query_marks(view: Any, query: str) -> tuple[dict | None, pd.DataFrame | None]:
    """The query's place and its true neighbours, as ``charts.map_chart`` draws them."""
    if view is None:
        return None, None
    marker = {"x": float(view.xy[0]), "y": float(view.xy[1]), "label": query[:40]}
    lines = pd.DataFrame(
        {
            "x": view.neighbour_xy[:, 0],
            "y": view.neighbour_xy[:, 1],
            "rank": [h.rank for h in view.hits],
            "title": [h.title or h.doc_id for h in view.hits],
            "snippet": [export.snippet(h.text) for h in view.hits],
        }
    )
    return marker, lines


def selected(points: pd.DataFrame, nearest: Sequence[Any] | None) -> None:
    """The points picked on the map; for a single one, its nearest documents in full."""
    st.markdown(f"**Selected: {len(points):,}**")
    if points.empty:
        st.caption("Click a point, or shift+drag a box, to list documents here.")
        return
    st.dataframe(
        points[["title", "doc_id", "snippet"]],
        hide_index=True,
        height=min(360, 38 + 35 * len(points)),
        key="explore_selected",
    )
    if nearest is not None:
        st.markdown("**Its nearest documents in the full space**")
        near = pd.DataFrame(
            {"rank": [h.rank for h in nearest], "score": [h.score for h in nearest]}
        )
        near["title"] = [h.title or h.doc_id for h in nearest]
        components.show_table(near, SCORE)


def neighbours(view: Any, query: str, name: str) -> None:
    """How faithful the map is to the query's true neighbours, and the neighbours."""
    faith = view.faithfulness
    st.subheader("The query's true neighbours")
    st.caption(f"Query placed by {view.placement}. Search took {view.latency_ms:.0f} ms.")
    m1, m2 = st.columns(2)
    m1.metric(f"Overlap@{faith.k} (map vs full space)", f"{faith.overlap:.0%}")
    m2.metric("Mean rank on the map", f"{faith.mean_rank:.1f}", help="Perfect: (k + 1) / 2")
    st.markdown(f"This map is **{faith.verdict}**.")
    st.page_link(
        "pages/1_Search.py",
        label="Search for this question",
        query_params={"q": query, "collection": name},
    )
    table = pd.DataFrame(
        {
            "rank": [h.rank for h in view.hits],
            "rank on the map": list(faith.map_ranks),
            "score": [round(h.score, 3) for h in view.hits],
            "title": [h.title or h.doc_id for h in view.hits],
            "document": [h.doc_id for h in view.hits],
        }
    )
    components.show_table(table, SCORE)
    if not all(view.on_map):
        st.caption("Neighbours outside the sample were placed on the map like the query.")
