"""Explore: a collection's vectors on a 2D map, with a query placed among its true neighbours."""

import streamlit as st

from core.errors import LabError
from core.explain.explore import neighbours_of, query_view
from core.explain.projection import LABELS, METHODS, Params, plan
from core.storage import export
from ui import charts, components, resources
from ui.views import explore as sections
from ui.views import map_trust as trust_view
from ui.views import selection as selection_view

AUTO_SECONDS = 8  # longer layouts wait for a click, after showing their estimate
COLOURS = ["(none)", "clusters", trust_view.OPTION]

components.page_setup("Explore")
st.title("Explore the space")
st.caption(
    "Every chunk of a collection is a 384-number vector. A projection squeezes them onto a "
    "2D map: PCA keeps the two directions of greatest spread (exact, instant); UMAP and t-SNE "
    "keep local neighbourhoods (slower, and distances between far-apart groups mean little)."
)
resources.ensure_demo()


components.from_url("explore_method", "method", "pca", METHODS)
components.from_url("explore_seed", "seed", 0, range(2**31), int)
components.from_url("explore_query", "q", "")
selection_view.keep_url()
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
    k = st.slider(
        "Question's neighbours",
        1,
        20,
        8,
        key="explore_k",
        help="How many true nearest neighbours (by cosine) of your question the map marks.",
    )
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
    components.say(
        "info", f"Collection '{name}' has no documents yet: add some on the Collections page."
    )
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
trust = trust_view.measure(name, generation, method, seed)

components.from_url("explore_colour", "colour", "(none)", [*COLOURS, *charts.colour_fields(table)])
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
elif colour == trust_view.OPTION:
    table, colour_field = trust_view.shade(table, trust), charts.RECALL
elif colour != "(none)":
    colour_field = colour

query = st.text_input(
    "Query", key="explore_query", placeholder="Place a question on the map, e.g. how do bats fly?"
)
view = None
if query.strip():
    try:
        view = query_view(collection, resources.collection_embedder(name), projection, query, k)
    except LabError as exc:
        components.show_error(exc)
state = {"collection": name, "method": method, "seed": str(seed), "colour": colour}
st.query_params.from_dict({**state, **({"q": query} if query.strip() else {})})

for note in projection.fit.notes:
    components.say("info", note)
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
marker, lines = sections.query_marks(view, query)
opened = selection_view.drawn(name, method, seed)  # the selection a link named, drawn
chart = charts.map_chart(points, colour_field, marker, lines, cells, initial=opened)
left, right = st.columns([5, 2])
with left:
    event = st.altair_chart(
        chart, on_select="rerun", selection_mode=["pick", "box"], key="explore_chart"
    )
    st.caption(charts.HELP)
selected, picked = selection_view.chosen(table, event)
st.query_params.update(picked)
nearest = None
if len(selected) == 1:
    nearest = neighbours_of(collection, int(selected.iloc[0].chunk_id), k)
with right:
    trust_view.show(trust)
    sections.selected(selected, nearest)
selection_view.actions(collection, name, table, selected)
if view is not None:
    sections.neighbours(view, query, name)

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
