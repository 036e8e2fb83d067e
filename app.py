"""Embedding Lab: the home page. Run with ``streamlit run app.py``."""

import streamlit as st

from core import config
from core.errors import LabError
from ui import components, markup, resources

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
    "vectors. Everything runs on this machine with the bundled model "
    "(all-MiniLM-L6-v2): nothing is sent anywhere, nothing is downloaded."
)
st.markdown(
    "**How search works here:** each document is split into chunks that fit the model "
    "(up to 254 word pieces), every chunk becomes a 384-number vector, and the vectors go "
    "into a FAISS index saved on disk beside a SQLite copy of the text. A question becomes a "
    "vector the same way; the chunks whose vectors point in the most similar direction "
    "(cosine similarity) are the answers, fused with a keyword ranking (BM25) by default."
)

try:
    resources.ensure_demo()
    infos = resources.list_collections()
except LabError as exc:
    components.show_error(exc)
    infos = []

c1, c2 = st.columns(2)
with c1:
    st.subheader("Where to go")
    for path, label in components.pages()[1:]:
        st.page_link(path, label=f"{label}: {WHERE.get(label, label)}")
with c2:
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
