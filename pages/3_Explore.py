"""Explore: a collection's vectors on a 2D map, with a query placed among its true neighbours."""

import pandas as pd
import streamlit as st

from core.errors import LabError
from core.explain.explore import neighbours_of, query_view
from core.explain.projection import LABELS, METHODS, Params, plan
from core.storage import export
from ui import charts, components, resources

AUTO_SECONDS = 8  # longer layouts wait for a click, after showing their estimate
COLOURS = ["(none)", "clusters"]
SCORE = {"score": "{:.3f}"}

components.page_setup("Explore")
st.title("Explore the space")
st.caption(
    "Every chunk of a collection is a 384-number vector. A projection squeezes them onto a "
    "2D map: PCA keeps the two directions of greatest spread (exact, instant); UMAP and t-SNE "
    "keep local neighbourhoods (slower, and distances between far-apart groups mean little)."
)
resources.ensure_demo()


def from_url(key: str, param: str, default, allowed=None, cast=str) -> None:
    """Start a widget at the URL's value (a copied link opens the same view)."""
    if key in st.session_state:
        return
    try:
        value = cast(st.query_params.get(param, default))
    except ValueError:
        value = default
    st.session_state[key] = value if allowed is None or value in allowed else default


from_url("explore_method", "method", "pca", METHODS)
from_url("explore_seed", "seed", 0, range(2**31), int)
from_url("explore_query", "q", "")
cols = st.columns([2, 2, 1, 2, 1])
with cols[0]:
    name = components.pick_collection("explore_collection")
with cols[1]:
    method = st.radio(
        "Method", METHODS, format_func=LABELS.get, key="explore_method", horizontal=True
    )
with cols[2]:
    seed = int(st.number_input("Seed", 0, 2**31 - 1, step=1, key="explore_seed"))
with cols[4]:
    k = st.slider("Neighbours", 1, 20, 8, key="explore_k")
if name is None:
    st.stop()

try:
    collection = resources.collection(name)
    generation = collection.store.generation
    todo = plan(collection, Params(method=method, seed=seed))
except LabError as exc:
    components.show_error(exc)
    st.stop()
if todo.total == 0:
    st.info(f"Collection '{name}' has no documents yet: add some on the Collections page.")
    st.stop()

estimate = f"about {todo.seconds:.0f} s" if todo.seconds >= 1 else "under a second"
where = "read from the cache" if todo.cached else f"{estimate} to compute"
st.caption(
    f"{LABELS[method]} of {todo.points:,} points (of {todo.total:,} chunks), seed {seed}: {where}."
)
if not todo.cached and todo.seconds > AUTO_SECONDS:
    ask = st.empty()
    with ask.container():
        st.info(f"{LABELS[method]} will take {estimate} on this machine. The result is cached.")
        if not st.button(f"Compute the {LABELS[method]} map", key="explore_run", type="primary"):
            st.stop()
    ask.empty()
try:
    with st.spinner(f"Laying out {todo.points:,} points with {LABELS[method]}…", show_time=True):
        projection = resources.projection(name, generation, method, seed)
        table = resources.map_points(name, generation, method, seed)
except LabError as exc:
    components.show_error(exc)
    st.stop()

from_url("explore_colour", "colour", "(none)", [*COLOURS, *charts.colour_fields(table)])
with cols[3]:
    options = [*COLOURS, *charts.colour_fields(table)]
    colour = st.selectbox("Colour by", options, key="explore_colour")
colour_field = None
if colour == "clusters":
    with cols[3]:
        clusters_k = st.slider("Clusters", 2, 20, 6, key="explore_clusters")
    found = resources.map_clusters(name, generation, method, seed, clusters_k)
    table = table.assign(cluster=[found.names[i] for i in found.labels])
    colour_field = "cluster"
elif colour != "(none)":
    colour_field = colour

query = st.text_input(
    "Query", key="explore_query", placeholder="Place a question on the map, e.g. how do bats fly?"
)
view = None
if query.strip():
    try:
        view = query_view(collection, resources.embedder(), projection, query, k)
    except LabError as exc:
        components.show_error(exc)
state = {"collection": name, "method": method, "seed": str(seed), "colour": colour}
st.query_params.from_dict({**state, **({"q": query} if query.strip() else {})})

for note in projection.fit.notes:
    st.info(note)
if projection.fit.explained is not None and len(table) > 2:
    st.caption(
        f"The two PCA axes keep {projection.fit.explained:.0%} of the variance; the rest lives "
        "in the other dimensions, so points close here may be far apart in full."
    )

points = charts.draw_sample(table, seed=seed)
cells = charts.density(projection.coords) if len(points) < len(table) else None
if cells is not None:
    st.caption(
        f"Drawing a seeded sample of {len(points):,} of {len(table):,} points over a density "
        "of all of them; select a box to list every point inside it."
    )
marker, lines = None, None
if view is not None:
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
chart = charts.map_chart(points, colour_field, marker, lines, cells)
left, right = st.columns([5, 2])
with left:
    event = st.altair_chart(
        chart, on_select="rerun", selection_mode=["pick", "box"], key="explore_chart"
    )
    st.caption(charts.HELP)
selected = charts.selected_points(table, event.selection if event else {})
with right:
    st.markdown(f"**Selected: {len(selected):,}**")
    if selected.empty:
        st.caption("Click a point, or shift+drag a box, to list documents here.")
    else:
        st.dataframe(
            selected[["title", "doc_id", "snippet"]],
            hide_index=True,
            height=min(360, 38 + 35 * len(selected)),
            key="explore_selected",
        )
    if len(selected) == 1:
        row = selected.iloc[0]
        st.markdown("**Its nearest documents in the full space**")
        hits = neighbours_of(collection, int(row.chunk_id), k)
        near = pd.DataFrame({"rank": [h.rank for h in hits], "score": [h.score for h in hits]})
        near["title"] = [h.title or h.doc_id for h in hits]
        components.show_table(near, SCORE)

if view is not None:
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
    neighbours = pd.DataFrame(
        {
            "rank": [h.rank for h in view.hits],
            "rank on the map": list(faith.map_ranks),
            "score": [round(h.score, 3) for h in view.hits],
            "title": [h.title or h.doc_id for h in view.hits],
            "document": [h.doc_id for h in view.hits],
        }
    )
    components.show_table(neighbours, SCORE)
    if not all(view.on_map):
        st.caption("Neighbours outside the sample were placed on the map like the query.")

st.subheader("Export")
e1, e2 = st.columns(2)
e1.download_button(
    "Coordinates and metadata (CSV)",
    data=lambda: export.coordinates_csv(table),
    file_name=f"{name}-{method}-seed{seed}.csv",
    mime="text/csv",
    on_click="ignore",
    key="explore_csv",
)
e2.download_button(
    "TensorFlow Embedding Projector (vectors.tsv + metadata.tsv, zip)",
    data=lambda: export.projector_zip(collection, projection.chunk_ids),
    file_name=f"{name}-projector.zip",
    mime="application/zip",
    on_click="ignore",
    key="explore_projector",
)
