"""Embedding Lab: the home page. Run with ``streamlit run app.py``."""

import streamlit as st

from core import config
from core.errors import LabError
from ui import components, resources

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
    "(cosine similarity) are the answers."
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
    st.page_link("pages/1_Search.py", label="Search: ask a question in plain words", icon="🔎")
    st.page_link(
        "pages/2_Collections.py",
        label="Collections: upload, paste, list, delete",
        icon="🗂️",
    )
with c2:
    st.subheader("Collections")
    if not infos:
        st.info("No collections yet.")
    for info in infos:
        st.markdown(
            f"- **{info.name}**: {info.documents:,} documents, {info.chunks:,} chunks "
            f"({info.model})"
        )
    if not any(i.name == config.STDLIB_COLLECTION for i in infos):
        st.caption(
            "Build the Python standard library collection (thousands of docstrings) "
            "on the Collections page to try search at a realistic size."
        )
