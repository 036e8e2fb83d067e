"""How it works: one sentence, step by step, from characters to the vector search uses."""

import streamlit as st

from core.errors import LabError
from core.explain.causal import ENV_VAR, causal_model_path
from ui import components, resources
from ui.views import walkthrough as sections

components.page_setup("How it works")
st.title("How the model turns text into a vector")
st.caption(
    "Live, on your sentence, with the same model that serves search (all-MiniLM-L6-v2). It "
    "is an encoder: it reads the whole text at once, every word seeing every other word, and "
    "outputs one vector per token. It has no next-token head, so it cannot write text."
)

text = st.text_input(
    "Your sentence", "The bank raised its interest rates.", key="hiw_text", max_chars=500
)
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

st.header("Next-token prediction")
path = causal_model_path()
if path is None:
    st.info(
        "This model cannot predict the next word: an encoder has no next-token head. A causal "
        f"model (the GPT-2 family) can; point {ENV_VAR} at a local GPT-2 folder to see its top "
        "guesses here and what each of its layers would guess (a logit lens)."
    )
    st.stop()
k = st.slider("How many guesses", 3, 15, 5, key="hiw_k")
try:
    guess = resources.next_token(text, k, path)
except LabError as exc:
    components.show_error(exc)
    st.stop()
sections.next_tokens(guess, path)
