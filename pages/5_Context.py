"""Context: one word in several sentences, followed through every layer of the model."""

import html

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core.errors import InputError, LabError
from core.explain.context import MAX_SENTENCES, word_choices
from core.explain.contributions import pieces_html
from core.explain.walkthrough import MAX_ABLATED, pair_verdicts, trajectory
from core.explain.word_sense import calibration_for
from ui import components, resources

EXAMPLES = {
    "model": (
        "Our machine learning model needs more labelled photos to recognise cats.\n"
        "She worked as a fashion model in Paris and walked the runway in a silk gown."
    ),
    "bank": (
        "We had a picnic on the grassy bank of the river.\n"
        "She went to the bank to deposit her salary."
    ),
}

components.page_setup("Context")
st.title("Words in context")
st.caption(
    "A word piece enters the model as the same vector in every sentence. Each of the six "
    "layers rewrites it using the other words (attention) and a small per-token network "
    "(feed-forward), until it carries its meaning in this context. Same model as search."
)


resources.ensure_demo()


def use_example(word: str) -> None:
    st.session_state["ctx_word"] = word
    st.session_state["ctx_sentences"] = EXAMPLES[word]


st.session_state.setdefault("ctx_word", "model")
st.session_state.setdefault("ctx_sentences", EXAMPLES["model"])
b1, b2, _ = st.columns([1, 1, 4])
b1.button("Example: model", key="ctx_ex_model", on_click=use_example, args=("model",))
b2.button("Example: bank", key="ctx_ex_bank", on_click=use_example, args=("bank",))
word = st.text_input("Word to follow", key="ctx_word", max_chars=60)
text = st.text_area(
    f"Sentences that use it, one per line (2 to {MAX_SENTENCES})",
    key="ctx_sentences",
    height=110,
)
sentences = [line.strip() for line in text.splitlines() if line.strip()]
if not word.strip() or len(sentences) < 2:
    st.info("Type a word and at least two sentences that use it, one per line.")
    st.stop()
if len(sentences) > MAX_SENTENCES:
    components.show_error(
        InputError(f"{len(sentences)} sentences is too many; the limit is {MAX_SENTENCES}.")
    )
    st.stop()


def pick_word(number: int, sentence: str) -> tuple[str, int] | None:
    """A picker of the sentence's words, preset to the typed word (or a form of it)."""
    choices, chosen = word_choices(sentence, word)
    labels = [c.label for c in choices]
    key = f"ctx_pick_{number}_{abs(hash((sentence, word))) % 10**8}"
    label = st.selectbox(f"Word in sentence {number}", labels, chosen, key=key)
    if label is None:
        st.warning(f"'{word.strip()}' is not in sentence {number}: pick the word to follow.")
        return None
    choice = choices[labels.index(label)]
    return choice.form, choice.occurrence


columns = st.columns(min(len(sentences), 4))
picks = []
for number, sentence in enumerate(sentences, 1):
    with columns[(number - 1) % len(columns)]:
        picks.append(pick_word(number, sentence))
if any(p is None for p in picks):
    st.stop()
names = [f"{n}: {s[:40]}{'…' if len(s) > 40 else ''}" for n, s in enumerate(sentences, 1)]
inputs = (tuple(sentences), tuple(p[0] for p in picks), tuple(p[1] for p in picks))
try:
    model = resources.embedder()
    result = resources.context_analysis(*inputs, None)
except LabError as exc:
    components.show_error(exc)
    st.stop()

for note in result.notes:
    st.warning(note)
st.caption(f"One model run for all {len(sentences)} sentences: {result.seconds * 1000:.0f} ms.")
with st.expander("How the model splits each sentence (word pieces and their ids)"):
    for number, view in enumerate(result.views, 1):
        st.markdown(
            f"**Sentence {number}** · following *{html.escape(view.word.text)}* "
            f"({len(view.word.positions)} piece{'s' if len(view.word.positions) > 1 else ''})",
            unsafe_allow_html=True,
        )
        st.markdown(
            pieces_html(view.tokens.pieces, view.tokens.ids, view.word.positions),
            unsafe_allow_html=True,
        )

layer_names = ["embeddings"] + [f"layer {i}" for i in range(1, result.similarity.shape[0])]
st.header("Meaning drift across layers")
rows = [
    {"pair": f"{i + 1} vs {j + 1}", "step": layer_names[n], "order": n, "cosine": float(c)}
    for i in range(len(sentences))
    for j in range(i + 1, len(sentences))
    for n, c in enumerate(result.similarity[:, i, j])
]
drift = (
    alt.Chart(pd.DataFrame(rows), title="Cosine of the word's two vectors at each layer")
    .mark_line(point=True)
    .encode(
        x=alt.X("step:N", sort=layer_names, title=None),
        y=alt.Y("cosine:Q", scale=alt.Scale(zero=False)),
        color=alt.Color("pair:N", title="sentences"),
        tooltip=["pair", "step", alt.Tooltip("cosine:Q", format=".3f")],
    )
)
points = trajectory(result)
path = pd.DataFrame(
    [
        {"sentence": str(s + 1), "step": layer_names[n], "order": n, "x": x, "y": y}
        for s in range(points.shape[0])
        for n, (x, y) in enumerate(points[s])
    ]
)
base = alt.Chart(path, title="Each sentence's word vector through the layers (one shared PCA)")
paths = base.mark_line(point=True).encode(
    x=alt.X("x:Q", title="PC 1"),
    y=alt.Y("y:Q", title="PC 2"),
    order="order:Q",
    color=alt.Color("sentence:N"),
    tooltip=["sentence", "step"],
)
labels = base.mark_text(dx=8, dy=-6, fontSize=10).encode(x="x:Q", y="y:Q", text="step:N")
left, right = st.columns(2)
left.altair_chart(drift, key="ctx_drift")
right.altair_chart(paths + labels, key="ctx_paths")
same_piece = result.static_similarity[0, 1]
st.caption(
    "Layer 0 ('embeddings') is the word piece's lookup vector plus a position vector and a "
    "segment vector, normalised: the same word at different positions differs slightly there. "
    f"The lookup vectors alone have cosine {same_piece:.3f} between sentences 1 and 2"
    + (" (identical pieces)." if same_piece > 0.9999 else " (different pieces).")
)

st.header("Same sense or not")
try:
    verdicts = pair_verdicts(model, result)
except LabError as exc:
    st.info(f"No verdict: {exc}")
    verdicts = []
for i, j, verdict in verdicts[:6]:
    same = "the **same sense**" if verdict.same_sense else "**different senses**"
    st.markdown(
        f"Sentences {i + 1} and {j + 1}: {same} (P(same) = **{verdict.score:.2f}**, "
        f"threshold {verdict.threshold:.2f})"
    )
    evidence = pd.DataFrame(verdict.evidence, columns=["similarity", "value", "push"])
    evidence["push"] = [
        ("towards same " if p > 0 else "towards different ") + f"{p:+.2f}" for p in evidence["push"]
    ]
    st.dataframe(
        evidence.style.format({"value": "{:.3f}"}), hide_index=True, key=f"ctx_evidence_{i}_{j}"
    )
if verdicts:
    summary = calibration_for(model).summary
    accuracy = summary.get("dev_accuracy") or 0.0
    baseline = summary.get("baseline_last_layer_cosine", {}).get("dev_accuracy") or 0.0
    st.caption(
        "How the verdict works: at every layer it compares the two word vectors (raw, and after "
        "removing the direction all vectors of that layer share) and the two whole sentences; "
        "a logistic regression fitted on the WiC training pairs weighs these 28 numbers. "
        f"On WiC dev it is right {accuracy:.1%} of the time "
        f"(last-layer cosine alone: {baseline:.1%}; "
        "people: about 80%)."
    )

st.header("Attention: where the word looks")
a1, a2 = st.columns([2, 1])
pick = a1.selectbox(
    "Sentence", range(len(sentences)), format_func=lambda i: names[i], key="ctx_att_sentence"
)
view = result.views[pick]
trace = view.trace
n_layers, n_heads = trace.attention.shape[:2]
layer = a2.slider("Layer for the per-head view", 1, n_layers, n_layers, key="ctx_att_layer")
tokens = [f"{i}:{p}" for i, p in enumerate(view.tokens.pieces)]


def heat(matrix: np.ndarray, rows: list[str], title: str, row_title: str) -> alt.Chart:
    frame = pd.DataFrame(
        [
            {row_title: r, "token": t, "weight": float(matrix[a, b])}
            for a, r in enumerate(rows)
            for b, t in enumerate(tokens)
        ]
    )
    return (
        alt.Chart(frame, title=title)
        .mark_rect()
        .encode(
            x=alt.X("token:N", sort=tokens, title=None, axis=alt.Axis(labelAngle=-60)),
            y=alt.Y(f"{row_title}:N", sort=rows, axis=alt.Axis(labelOverlap=False)),
            color=alt.Color("weight:Q", scale=alt.Scale(scheme="blues")),
            tooltip=[row_title, "token", alt.Tooltip("weight:Q", format=".3f")],
        )
        .properties(height=alt.Step(22))
    )


st.altair_chart(
    heat(
        trace.attention.mean(axis=1),
        [f"layer {i}" for i in range(1, n_layers + 1)],
        f"From '{view.word.text}' to every token, each layer (mean of {n_heads} heads)",
        "layer",
    ),
    key="ctx_att_layers",
)
st.altair_chart(
    heat(
        trace.attention[layer - 1],
        [f"head {h}" for h in range(1, n_heads + 1)],
        f"Layer {layer}, each head separately",
        "head",
    ),
    key="ctx_att_heads",
)
row_sum = trace.attention.sum(axis=-1)
st.caption(
    f"Each row is a probability distribution: it sums to 1 (here between {row_sum.min():.4f} "
    f"and {row_sum.max():.4f}). Much attention goes to [CLS], [SEP] and punctuation: heads "
    "often park there when nothing else is relevant, so high weight is not the same as "
    "high influence. The removal test below measures influence directly."
)

st.header("What moved the vector")
steps = [f"layer {i}" for i in range(1, n_layers + 1)]


def bars(values: dict[str, np.ndarray], title: str) -> alt.Chart:
    frame = pd.DataFrame(
        [
            {"layer": steps[n], "part": part, "norm": float(v)}
            for part, series in values.items()
            for n, v in enumerate(series)
        ]
    )
    return (
        alt.Chart(frame, title=title)
        .mark_bar()
        .encode(
            x=alt.X("layer:N", sort=steps, title=None),
            xOffset="part:N",
            y=alt.Y("norm:Q", title="vector length"),
            color=alt.Color(
                "part:N",
                title=None,
                legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=400),
            ),
            tooltip=["layer", "part", alt.Tooltip("norm:Q", format=".2f")],
        )
    )


m1, m2 = st.columns(2)
m1.altair_chart(
    bars(
        {
            "attention output": trace.attn_update,
            "feed-forward output": trace.ffn_update,
            "word vector entering the layer": trace.stream,
        },
        f"Sub-layer updates to '{view.word.text}' (sentence {pick + 1}), before adding",
    ),
    key="ctx_updates",
)
m2.altair_chart(
    bars(
        {"across attention": trace.attn_moved, "across feed-forward": trace.ffn_moved},
        "How far the vector actually moved (after LayerNorm)",
    ),
    key="ctx_moved",
)
st.caption(
    "Each layer adds the attention sub-layer's output to the word's vector, then normalises "
    "(LayerNorm), then does the same with the feed-forward sub-layer: "
    "mid = LayerNorm(x + attention(x)), out = LayerNorm(mid + feed_forward(mid)). The left "
    "chart shows the length of what each sub-layer adds, next to the vector it is added to; "
    "because LayerNorm then rescales the sum, the right chart shows how far the normalised "
    "vector really moved at each step."
)

try:
    removals = resources.context_ablation(*inputs, pick)
except LabError as exc:
    components.show_error(exc)
    removals = ()
if removals:
    frame = pd.DataFrame(
        [{"word": f"{i + 1}. {w}", "change": c} for i, (w, c) in enumerate(removals)]
    )
    chart = (
        alt.Chart(
            frame,
            title=f"Sentence {pick + 1}: change in '{view.word.text}' when a word is removed",
        )
        .mark_bar()
        .encode(
            y=alt.Y(
                "word:N", sort=list(frame["word"]), title=None, axis=alt.Axis(labelOverlap=False)
            ),
            x=alt.X("change:Q", title="1 − cosine(final vector, final vector without the word)"),
            tooltip=["word", alt.Tooltip("change:Q", format=".4f")],
        )
        .properties(height=alt.Step(20))
    )
    st.altair_chart(chart, key="ctx_ablation")
    st.caption(
        "Removal test: the sentence is run again without each other word in turn, and the "
        "word's final vector compared with the full-sentence one. Unlike attention weights, "
        "this measures how much a word actually matters to the result (up to the "
        f"{MAX_ABLATED} words nearest to it)."
    )
else:
    st.info(f"Sentence {pick + 1} has no other words to remove.")

st.header("Senses in a collection")
st.caption(
    "Every sentence of a collection that uses the word, embedded in its own context, then "
    "grouped by k-means on the last layer's vectors: groups tend to be senses."
)
s1, s2, s3 = st.columns([2, 2, 1])
with s1:
    name = components.pick_collection("ctx_collection")
sense_word = s2.text_input("Word", value=word.strip(), key="ctx_sense_word", max_chars=60)
k = s3.slider("Groups", 2, 6, 2, key="ctx_sense_k")
if name is None or not sense_word.strip():
    st.stop()
try:
    generation = resources.collection(name).store.generation
    found = resources.word_senses(name, generation, sense_word.strip(), k)
except LabError as exc:
    components.show_error(exc)
    st.stop()
scatter = pd.DataFrame(
    {
        "x": found.points[:, 0],
        "y": found.points[:, 1],
        "group": [str(g + 1) for g in found.labels],
        "sentence": [s for s, _, _ in found.sentences],
    }
)
g1, g2 = st.columns([1, 1])
g1.altair_chart(
    alt.Chart(scatter, title=f"{len(scatter)} uses of '{found.word}' (PCA)")
    .mark_circle(size=70)
    .encode(
        x=alt.X("x:Q", title="PC 1"),
        y=alt.Y("y:Q", title="PC 2"),
        color="group:N",
        tooltip=["group", "sentence"],
    ),
    key="ctx_senses_map",
)
with g2:
    for group, members in enumerate(found.examples):
        size = int((found.labels == group).sum())
        st.markdown(f"**Group {group + 1}** · {size} uses")
        for index in members:
            sentence, start, end = found.sentences[index]
            st.markdown(
                "- "
                + html.escape(sentence[:start])
                + "<b>"
                + html.escape(sentence[start:end])
                + "</b>"
                + html.escape(sentence[end:]),
                unsafe_allow_html=True,
            )
