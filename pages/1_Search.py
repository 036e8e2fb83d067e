"""Search: ask a question in plain words and get the best documents, explained."""

import streamlit as st

from core.errors import LabError
from core.search.fusion import DEFAULT_WEIGHT
from core.search.query import DEFAULT_MODE, MODES, search
from ui import components, markup, resources
from ui.views import search_within, tour, word_pairs

components.page_setup("Search")
st.title("Search by meaning")
st.caption(
    "Your question and every passage become vectors; passages whose vectors point the same "
    "way (cosine similarity) rank high, fused by default with a keyword ranking (BM25). One "
    "hit per document: its best-matching chunk."
)
tour.nav()

resources.ensure_demo()
search_within.adopt_url("search_collection")
left, right = st.columns([3, 1])
with right:
    name = components.pick_collection("search_collection")
    k = st.slider("Results", 1, 50, 10, key="search_k")
    why = st.toggle(
        "Explain matches",
        value=True,
        key="search_why",
        help="Split each score into its parts: a cosine into the words on both sides, a BM25 "
        "score into the query's words.",
    )
    mode = st.radio(
        "Ranking",
        MODES,
        index=MODES.index(DEFAULT_MODE),
        key="search_mode",
        horizontal=True,
        help="hybrid: meaning and keywords fused (each score scaled to 0-1 over the "
        "candidates, then a weighted sum); dense: meaning only (cosine of embeddings); "
        "keyword: BM25 over the words (SQLite FTS5).",
    )
    weight = st.slider(
        "Meaning ↔ keywords",
        0.0,
        1.0,
        DEFAULT_WEIGHT,
        0.05,
        key="search_weight",
        disabled=mode != "hybrid",
        help="Hybrid only: the weight of meaning (cosine); keywords (BM25) get the rest.",
    )
if name is None:
    st.stop()

try:
    collection = resources.collection(name)
    fields = collection.store.metadata_fields()
except LabError as exc:
    components.show_error(exc)
    st.stop()

with right:
    field = st.selectbox("Filter on", ["(none)", *fields], key="search_filter_field")
    value = None
    if field != "(none)":
        value = st.selectbox("equal to", fields[field], key="search_filter_value")

with left:
    within = search_within.restriction(collection, name)
if "search_query" not in st.session_state:
    st.session_state["search_query"] = st.query_params.get("q", "")
with left:
    query = st.text_input(
        "Question",
        key="search_query",
        placeholder="e.g. how do plants turn sunlight into energy?",
    )

if not query.strip():
    st.info("Type a question above. Try: *a snake that swallows its prey whole*.")
    st.stop()

st.query_params.update({"q": query, "collection": name})
where = (field, value) if value is not None else None
try:
    model = resources.collection_embedder(name)
    result = search(collection, model, query, k, where, mode, weight, within)
    reasons = components.card_reasons(model, result)
except LabError as exc:
    components.show_error(exc)
    st.stop()

plural = "" if len(result.hits) == 1 else "s"
st.markdown(
    f"**{len(result.hits)}** result{plural} in **{result.latency_ms:.0f} ms** "
    f"(embed {result.encode_ms:.0f} ms, search and fetch {result.search_ms:.0f} ms)"
)
if not result.hits:
    st.warning("Nothing matched. Remove the filter, search the whole collection or add documents.")
else:
    st.page_link(
        "pages/3_Explore.py",
        label="See this question on the map, among its true neighbours",
        query_params={"q": query, "collection": name},
    )
st.html(markup.CARD_CSS)
best = result.hits[0].score if result.hits else 1.0
for hit, reason in zip(result.hits, reasons, strict=True):
    body = markup.highlight_html(hit.text, reason)
    sentence = reason.sentence_score if result.mode != "keyword" else None
    card = markup.hit_card(hit, body, best, sentence)
    st.html(card)
    if not why:
        continue
    # Lazy: an explanation is computed only while its box is open (the first one is, at first),
    # so a search costs one model run for the query, not one more for every hit.
    box = st.expander(
        markup.why_label(hit),
        expanded=hit.rank == 1,
        key=f"search_why_{hit.rank}",
        on_change="rerun",
    )
    if box.open and result.mode == "keyword":
        box.html(markup.bm25_why_html(hit))
    elif box.open:
        with box:
            try:
                part = resources.match_reasons(query, (hit.text,), model.encoder)[0]
            except LabError as exc:
                components.show_error(exc)
                continue
            st.html(markup.why_html(part))
            word_pairs.show(query, hit.text, f"search_pairs_{hit.rank}", model.encoder)
