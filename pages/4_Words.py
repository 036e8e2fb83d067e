"""Words: how the model splits words into pieces, and the vectors it starts from."""

import streamlit as st

from core.errors import LabError
from core.explain.vocab import (
    DEFAULT_WORDS,
    MAX_WORDS,
    analogy,
    compare_words,
    parse_words,
    word_neighbours,
)
from ui import charts, components, resources
from ui.views import tour

COSINE = {"cosine": "{:.3f}"}


components.page_setup("Words")
st.title("Words and word pieces")
st.caption(
    "Before any attention layer runs, the model looks each word piece up in a table of about "
    "30,000 vectors: its input embeddings. A piece has the same input vector in every "
    "sentence. The full model then mixes in context; embedding a word on its own as a "
    "'sentence' shows where the finished model puts it."
)
tour.nav()

if "words_input" not in st.session_state:
    st.session_state["words_input"] = st.query_params.get("words", DEFAULT_WORDS)
text = st.text_area(
    f"Words (up to {MAX_WORDS}, separated by commas or spaces)", key="words_input", height=80
)
try:
    words = parse_words(text)
    vocab = resources.vocabulary()
    view = compare_words(vocab, resources.embedder(), words)
except LabError as exc:
    components.show_error(exc)
    st.stop()
st.query_params["words"] = ", ".join(words)

st.subheader("Word pieces")
unknown = int(view.pieces["pieces"].str.contains(r"\[UNK\]").sum())
split = int((view.pieces["count"] > 1).sum())
if unknown:
    st.markdown(f"**{unknown}** unknown to the tokenizer: read as `[UNK]`, one shared vector.")
if split:
    st.markdown(
        f"**{split}** not in the vocabulary, so split into pieces; their input vector below is "
        "the mean of their pieces' vectors."
    )
st.dataframe(view.pieces, hide_index=True, key="words_pieces")

left, right = st.columns(2)
with left:
    st.altair_chart(
        charts.words_map(view.input_xy, "Input vectors (before attention), PCA"),
        key="words_input_map",
    )
    st.altair_chart(
        charts.heatmap(words, view.input_cosine, "Cosine similarity of input vectors"),
        key="words_input_heat",
    )
with right:
    st.altair_chart(
        charts.words_map(view.sentence_xy, "Each word embedded by the full model, PCA"),
        key="words_sentence_map",
    )
    st.altair_chart(
        charts.heatmap(words, view.sentence_cosine, "Cosine similarity, full model"),
        key="words_sentence_heat",
    )
st.caption(
    "Each map is a PCA of these words only, so positions change when the list changes. "
    "Full-model vectors of single words are all fairly similar (cosines seldom fall near 0)."
)

st.subheader(f"Nearest pieces among all {len(vocab):,}")
c1, c2 = st.columns([2, 1])
word = c1.selectbox("Word", words, key="words_neighbour")
k = c2.slider("How many", 5, 50, 15, key="words_k")
try:
    near = word_neighbours(vocab, word, k)
except LabError as exc:
    components.show_error(exc)
else:
    components.say("caption", near.note)
    components.show_table(near.table, COSINE)

st.subheader("Arithmetic on input vectors")
a1, a2, a3 = st.columns(3)
a = a1.text_input("Start from", "king", key="words_a")
b = a2.text_input("minus", "man", key="words_b")
c = a3.text_input("plus", "woman", key="words_c")
try:
    result = analogy(vocab, a, b, c)
except LabError as exc:
    components.show_error(exc)
else:
    components.show_table(result.table.head(10), COSINE)
    components.say("caption", result.note)
