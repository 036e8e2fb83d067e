"""Embedding Lab: the home page. Run with ``streamlit run app.py``."""

import streamlit as st

from core import config
from core.errors import LabError
from core.explain.tour import EXAMPLE
from ui import components, markup, resources
from ui.views import tour

WHERE = {
    "Search": "ask a question in plain words; see why each result matched",
    "Collections": "upload, paste, list, delete; build the standard library collection",
    "Explore": "the collection as a map (PCA, UMAP, t-SNE), your question placed on it",
    "Words": "word pieces and the model's own word vectors; nearest words; arithmetic",
    "Context": "one word in several sentences, followed layer by layer; same sense or not",
    "How it works": "your sentence through the model, step by step",
    "Next token": "how a GPT writes: next-token probabilities, each layer's guess, training",
}

components.page_setup("Home")
st.title("Embedding Lab")
st.markdown(
    "Search your documents **by meaning**, and see how a language model turns text into "
    "vectors. Everything runs on this machine with the bundled models (all-MiniLM-L6-v2 for "
    "search, SmolLM2-135M for writing): nothing is sent anywhere, nothing is downloaded."
)

try:
    resources.ensure_demo()
    infos = resources.list_collections()
except LabError as exc:
    components.show_error(exc)
    infos = []

st.header("A guided tour: from text to the next token")
components.say("caption", " / ".join(EXAMPLE.sentences), prefix="Seven steps, live, on: ")
try:
    encoder = resources.tour_encoder(EXAMPLE)
except LabError as exc:
    components.show_error(exc)
    encoder = None
tour.show(encoder, lambda: resources.tour_next(EXAMPLE))

st.header("Search and collections")
left, right = st.columns(2)
with left:
    with st.form("home_search", border=False):
        query = st.text_input("Search a collection by meaning", key="home_query", max_chars=500)
        if st.form_submit_button("Search", key="home_search_go") and query.strip():
            st.switch_page("pages/1_Search.py", query_params={"q": query})
    st.subheader("Where to go")
    components.show_html(markup.WRAP_LINKS_CSS)
    for path, label in components.pages()[1:]:
        st.page_link(path, label=f"{label}: {WHERE.get(label, label)}")
with right:
    st.subheader("Collections")
    if not infos:
        st.info("No collections yet.")
    for info in infos:
        st.markdown(
            f"- **{markup.plain(info.name)}**: {info.documents:,} documents, "
            f"{info.chunks:,} chunks ({markup.plain(info.model)})"
        )
    if not any(i.name == config.STDLIB_COLLECTION for i in infos):
        st.caption(
            "Build the Python standard library collection (thousands of docstrings) "
            "on the Collections page to try search at a realistic size."
        )
