"""How it works: one sentence, step by step, from characters to the vector search uses."""

import streamlit as st

from core.errors import LabError
from ui import causal_views, components, resources
from ui.views import tour
from ui.views import walkthrough as sections

components.page_setup("How it works")
st.title("How the model turns text into a vector")
st.caption(
    "Live, on your sentence, with the same model that serves search (all-MiniLM-L6-v2). It "
    "is an encoder: it reads the whole text at once, every word seeing every other word, and "
    "outputs one vector per token. It has no next-token head, so it cannot write text."
)
components.teaching_model_note()
tour.nav()

components.from_url("hiw_text", "text", "The bank raised its interest rates.")
text = st.text_input("Your sentence", key="hiw_text", max_chars=500)
st.query_params["text"] = text
try:
    walk = resources.walk_through(text)
except LabError as exc:
    components.show_error(exc)
    st.stop()
sections.facts(walk)

st.header("1. Text → word pieces → ids")
sections.pieces(walk)

st.header("2. Ids → input vectors")
labels = sections.labels_of(walk)
token = st.selectbox(  # options are plain text (never Markdown)
    "Token to follow", range(len(labels)), 1, format_func=lambda i: labels[i], key="hiw_token"
)
sections.inputs(walk, token)

st.header("3. Attention: every token looks at every token")
n_layers, n_heads = walk.run.attention.shape[:2]
h1, h2 = st.columns(2)
layer = h1.slider("Layer", 1, n_layers, 1, key="hiw_layer")
head = h2.slider("Head", 1, n_heads, 1, key="hiw_head")
sections.attention(walk, layer, head)

st.header("4. Feed-forward: each token on its own")
sections.feed_forward(walk)

st.header(f"5. Repeated {n_layers} times")
sections.journey(walk, token)

st.header("6. One vector for the whole text")
sections.pooling(walk)

st.header("Next-token prediction: the other half")
st.info(
    "This model cannot write: an encoder has no next-token head. A GPT (a causal model) reads "
    "left to right and turns its last vector into a probability for every next token; the "
    "Next token page follows your sentence through one (SmolLM2-135M, bundled)."
)
st.page_link("pages/7_Next_token.py", label="Next token: how a GPT writes")
if st.toggle("Compare with the LLM here (loads SmolLM2 the first time)", key="hiw_compare"):
    try:
        contrast = resources.compare_models(text)
    except LabError as exc:
        components.show_error(exc)
        st.stop()
    st.dataframe(causal_views.contrast_frame(contrast), hide_index=True, key="hiw_contrast")
