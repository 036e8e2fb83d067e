"""How it works: one sentence, step by step, from characters to the vector search uses."""

import html

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core.errors import LabError
from core.explain.causal import ENV_VAR, causal_model_path
from core.explain.contributions import pieces_html
from ui import components, resources

DIMS = 8
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

run, pieces = walk.run, list(walk.tokens.pieces)
labels = [f"{i}:{p}" for i, p in enumerate(pieces)]
facts = walk.facts
cols = st.columns(len(facts))
for col, (name, value) in zip(cols, facts.items(), strict=True):
    col.metric(name, f"{value / 1e6:.1f} M" if value >= 1e6 else f"{value:,}")


def vectors_table(rows: dict[str, np.ndarray]) -> pd.DataFrame:
    """First DIMS numbers of each vector, plus its length."""
    table = pd.DataFrame({name: vector[:DIMS] for name, vector in rows.items()}).T
    table.columns = [f"d{i}" for i in range(DIMS)]
    table["… length"] = [float(np.linalg.norm(v)) for v in rows.values()]
    return table


def heat(
    matrix: np.ndarray, rows: list[str], title: str, value: str, scale: str = "linear"
) -> alt.Chart:
    frame = pd.DataFrame(
        [
            {"row": r, "token": t, value: float(matrix[a, b])}
            for a, r in enumerate(rows)
            for b, t in enumerate(labels)
        ]
    )
    return (
        alt.Chart(frame, title=title)
        .mark_rect()
        .encode(
            x=alt.X("token:N", sort=labels, title=None, axis=alt.Axis(labelAngle=-60)),
            y=alt.Y("row:N", sort=rows, title=None, axis=alt.Axis(labelOverlap=False)),
            color=alt.Color(f"{value}:Q", scale=alt.Scale(scheme="blues", type=scale)),
            tooltip=["row", "token", alt.Tooltip(f"{value}:Q", format=".3f")],
        )
        .properties(height=alt.Step(22))
    )


st.header("1. Text → word pieces → ids")
st.markdown(
    f"The tokenizer lower-cases the text and cuts it into **{len(pieces)}** pieces from a "
    f"vocabulary of {facts['vocabulary']:,}; rare words become several pieces (`##` marks a "
    "continuation). [CLS] and [SEP] mark the start and end. Each piece has an id: its row in "
    "the model's table of input vectors."
)
st.markdown(pieces_html(pieces, walk.tokens.ids), unsafe_allow_html=True)

st.header("2. Ids → input vectors")
token = st.selectbox(
    "Token to follow", range(len(pieces)), 1, format_func=lambda i: labels[i], key="hiw_token"
)
word, position, segment = (part[token] for part in walk.parts)
st.markdown(
    "Three vectors are looked up and added: the piece's own vector (the same in every "
    "sentence), a vector for its position, and a segment vector; LayerNorm then rescales the "
    f"sum. Every token becomes {facts['dimensions']} numbers; the first {DIMS} are shown."
)
st.dataframe(
    vectors_table(
        {
            f"piece '{pieces[token]}' (id {walk.tokens.ids[token]})": word,
            f"position {token}": position,
            "segment": segment,
            "sum": word + position + segment,
            "after LayerNorm: input to layer 1": run.hidden[0, token],
        }
    ).style.format("{:+.3f}"),
    key="hiw_inputs",
)

st.header("3. Attention: every token looks at every token")
n_layers, n_heads = run.attention.shape[:2]
h1, h2 = st.columns(2)
layer = h1.slider("Layer", 1, n_layers, 1, key="hiw_layer")
head = h2.slider("Head", 1, n_heads, 1, key="hiw_head")
st.markdown(
    f"In each layer, {n_heads} heads each score every pair of tokens (query · key), turn each "
    "row of scores into weights that sum to 1 (softmax), and mix the tokens' value vectors with "
    "those weights. The heads' outputs are joined and projected back to "
    f"{facts['dimensions']} numbers, then **added** to each token's vector and normalised."
)
st.altair_chart(
    heat(
        run.attention[layer - 1, head - 1],
        labels,
        f"Layer {layer}, head {head}: row = the token looking, column = the token looked at",
        "weight",
    ),
    key="hiw_attention",
)

st.header("4. Feed-forward: each token on its own")
st.markdown(
    f"After attention, every token's vector goes through the same small network: "
    f"{facts['dimensions']} → {facts['intermediate size']} numbers, a GELU bend, back to "
    f"{facts['dimensions']}; the result is again **added** and normalised. Below: how large "
    "each sub-layer's update is, per token and layer (the vector length of what is added)."
)
f1, f2 = st.columns(2)
layer_rows = [f"layer {i}" for i in range(1, n_layers + 1)]
update_attn = np.linalg.norm(run.attn_update, axis=-1)  # (layers, T)
update_ffn = np.linalg.norm(run.ffn_update, axis=-1)  # (layers, T)
f1.altair_chart(
    heat(update_attn, layer_rows, "Attention updates (log colour scale)", "length", "log"),
    key="hiw_upd_a",
)
f2.altair_chart(
    heat(update_ffn, layer_rows, "Feed-forward updates (log colour scale)", "length", "log"),
    key="hiw_upd_f",
)

st.header(f"5. Repeated {n_layers} times")
journey = {"input (after LayerNorm)": run.hidden[0, token]}
journey.update({f"after layer {i}": run.hidden[i, token] for i in range(1, n_layers + 1)})
table = vectors_table(journey)
start = run.hidden[0, token]
table["cosine to input"] = [
    float(v @ start / (np.linalg.norm(v) * np.linalg.norm(start))) for v in journey.values()
]
st.markdown(f"The vector of **{html.escape(labels[token])}** after each layer:")
st.dataframe(table.style.format("{:+.3f}"), key="hiw_journey")

st.header("6. One vector for the whole text")
st.markdown(
    f"The {len(pieces)} final token vectors are averaged ([CLS] and [SEP] included), and the "
    "mean is scaled to length 1. That single vector is what search compares, by cosine, with "
    "the vectors of every passage in a collection."
)
st.dataframe(
    vectors_table(
        {"mean of the tokens": walk.pooled, "scaled to length 1": walk.final}
    ).style.format("{:+.3f}"),
    key="hiw_final",
)
st.dataframe(
    pd.DataFrame(walk.shapes(), columns=["step", "shape"]), hide_index=True, key="hiw_shapes"
)

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
st.markdown(f"Causal model: `{html.escape(path)}` · its tokens: {len(guess.tokens)}")
top = pd.DataFrame(guess.top, columns=["next token", "probability"])
top["next token"] = [repr(t) for t in top["next token"]]
st.altair_chart(
    alt.Chart(top, title="Most likely next tokens")
    .mark_bar()
    .encode(
        y=alt.Y("next token:N", sort=None),
        x="probability:Q",
        tooltip=["next token", alt.Tooltip("probability:Q", format=".3f")],
    ),
    key="hiw_next",
)
lens = pd.DataFrame(
    [[f"{t!r} {p:.2f}" for t, p in layer] for layer in guess.lens],
    index=["embeddings"] + [f"layer {i}" for i in range(1, len(guess.lens))],
    columns=[f"guess {i}" for i in range(1, len(guess.top) + 1)],
)
st.markdown("**Logit lens**: each layer's last vector sent straight to the output head.")
st.dataframe(lens, key="hiw_lens")
