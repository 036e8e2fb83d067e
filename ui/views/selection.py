"""Selections on the Explore map: what is selected (the chart, a whole cluster, or the URL),
and what can be done with it (summary, downloads, search within, save as a collection)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core import config
from core.errors import LabError
from core.explain import selection
from core.storage.collection import Collection
from ui import charts, components, resources
from ui.views import search_within

URL_KEYS = ("box", "pick", "cluster")
# The map a URL selection belongs to, with the page's defaults.
MAP_KEYS = {"collection": config.DEMO_COLLECTION, "method": "pca", "seed": "0"}
SAVED = "explore_url_selection"  # the selection the page was opened with, until another
DRAWN = "explore_url_selection_drawn"  # the same, drawn on the map for the whole session
SCORE = {"score": "{:.3f}"}
BACKGROUND = 5_000  # map points the selection's words are compared with, at most


def keep_url() -> None:
    """Remember the selection named in the URL (call before the page rewrites the URL)."""
    params = st.query_params
    st.session_state.setdefault(SAVED, {k: params[k] for k in URL_KEYS if k in params})
    opened_on = tuple(params.get(k, d) for k, d in MAP_KEYS.items())
    st.session_state.setdefault(DRAWN, (opened_on, _parse(st.session_state[SAVED])))


def drawn(name: str, method: str, seed: int) -> dict:
    """The box or clicked points the page was opened with, for the map to draw: only on the
    map the link named (its collection, method and seed; their coordinates mean nothing on
    another)."""
    opened_on, selection = st.session_state.get(DRAWN, ((), {}))
    here = (name, method, str(seed))
    return selection if opened_on == here else {}


def _parse(saved: dict) -> dict:
    """The chart-selection form of a URL selection (bad values are ignored)."""
    out: dict = {}
    try:
        if "box" in saved:
            x0, x1, y0, y1 = (float(v) for v in saved["box"].split(","))
            out["box"] = {"x": [x0, x1], "y": [y0, y1]}
        if "pick" in saved:
            out["pick"] = [{"chunk_id": int(v)} for v in saved["pick"].split(",")[:200]]
    except ValueError:
        return {}
    return out


def chosen(table: pd.DataFrame, event) -> tuple[pd.DataFrame, dict[str, str]]:
    """The selected rows and the URL parameters that name them.

    A whole cluster (when the map is coloured by clusters) wins over the chart's selection,
    which wins over the one the page was opened with.
    """
    saved = st.session_state.get(SAVED, {})
    if "cluster" in table:
        names = ["(none)", *sorted(table["cluster"].unique())]
        if "explore_pick_cluster" not in st.session_state:
            wanted = saved.get("cluster")
            st.session_state["explore_pick_cluster"] = wanted if wanted in names else "(none)"
        cluster = st.selectbox("Select a whole cluster", names, key="explore_pick_cluster")
        if cluster != "(none)":
            return table[table["cluster"] == cluster], {"cluster": cluster}
    live = dict(event.selection) if event else {}
    if live.get("pick") or live.get("box"):
        st.session_state[SAVED] = {}
    else:
        live = _parse(saved)
    rows = charts.selected_points(table, live)
    params = {}
    if (live.get("box") or {}).get("x"):
        (x0, x1), (y0, y1) = live["box"]["x"], live["box"]["y"]
        params["box"] = ",".join(f"{v:.6g}" for v in (x0, x1, y0, y1))
    picks = [str(int(p["chunk_id"])) for p in live.get("pick") or [] if "chunk_id" in p]
    if picks:
        params["pick"] = ",".join(picks[:200])
    return rows, params


def actions(collection: Collection, name: str, table: pd.DataFrame, rows: pd.DataFrame) -> None:
    """Summary, CSV/JSONL downloads, search within and save-as for the selected rows."""
    if rows.empty:
        return
    ids = rows["chunk_id"].to_numpy(dtype=np.int64)
    background = charts.draw_sample(table, BACKGROUND)["chunk_id"].to_numpy(dtype=np.int64)
    generation = collection.store.generation
    try:
        summary = resources.selection_summary(
            name, generation, tuple(ids.tolist()), tuple(background.tolist())
        )
    except LabError as exc:
        components.show_error(exc)
        return
    st.subheader(f"The selection: {summary.chunks:,} chunks from {summary.documents:,} documents")
    words = ", ".join(summary.words) or "none stand out"
    st.markdown(f"**Most distinctive words** (against the rest of the map): {words}")
    st.markdown("**Documents nearest its centre**")
    central = pd.DataFrame({"rank": [h.rank for h in summary.central]})
    central["score"] = [h.score for h in summary.central]
    central["title"] = [h.title or h.doc_id for h in summary.central]
    components.show_table(central, SCORE)
    _downloads(collection, name, ids)
    _search_within(collection, name, ids)
    _save(collection, ids)


def _downloads(collection: Collection, name: str, ids: np.ndarray) -> None:
    d1, d2 = st.columns(2)
    d1.download_button(
        "Selection (CSV)",
        data=lambda: selection.to_csv(selection.records(collection, ids)),
        file_name=f"{name}-selection.csv",
        mime="text/csv",
        on_click="ignore",
        key="explore_sel_csv",
    )
    d2.download_button(
        "Selection (JSONL)",
        data=lambda: selection.to_jsonl(selection.records(collection, ids)),
        file_name=f"{name}-selection.jsonl",
        mime="application/jsonl",
        on_click="ignore",
        key="explore_sel_jsonl",
    )


def _search_within(collection: Collection, name: str, ids: np.ndarray) -> None:
    query = st.text_input("Search within the selection", key="explore_within_q")
    search_within.link(collection, name, ids, query)
    if not query.strip():
        return
    try:
        hits = selection.search_within(collection, resources.embedder(), query, ids, 10)
    except LabError as exc:
        components.show_error(exc)
        return
    found = pd.DataFrame({"rank": [h.rank for h in hits], "score": [h.score for h in hits]})
    found["title"] = [h.title or h.doc_id for h in hits]
    components.show_table(found, SCORE)


def _save(collection: Collection, ids: np.ndarray) -> None:
    with st.form("explore_save_selection"):
        new = st.text_input("Save as a new collection named", key="explore_save_name")
        if not st.form_submit_button("Save (the stored vectors are copied)"):
            return
    try:
        with st.spinner(f"Copying the documents of {len(ids):,} chunks with their vectors…"):
            copied = selection.save_as_collection(collection, ids, new)
    except LabError as exc:
        components.show_error(exc)
        return
    components.say(
        "success",
        f"Saved {copied:,} documents as '{new.strip()}' (each whole: every chunk with its "
        "stored vector, none recomputed); open it on any page.",
    )
