"""Context: one word in several sentences, followed through every layer of the model."""

import streamlit as st

from core.errors import InputError, LabError
from core.explain.context import MAX_SENTENCES, word_choices
from core.explain.walkthrough import pair_verdicts
from core.explain.word_sense import calibration_for
from ui import causal_views, components, resources
from ui.views import context as sections
from ui.views import sense_search, tour

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
    "(feed-forward), until it carries its meaning in this context."
)
components.teaching_model_note()
tour.nav()
resources.ensure_demo()


def use_example(word: str) -> None:
    st.session_state["ctx_word"] = word
    st.session_state["ctx_sentences"] = EXAMPLES[word]


def pick_word(number: int, sentence: str, word: str) -> tuple[str, int] | None:
    """A picker of the sentence's words, preset to the typed word (or a form of it)."""
    choices, chosen = word_choices(sentence, word)
    labels = [c.label for c in choices]
    key = f"ctx_pick_{number}_{abs(hash((sentence, word))) % 10**8}"
    label = st.selectbox(f"Word in sentence {number}", labels, chosen, key=key)
    if label is None:
        message = f"'{word.strip()}' is not in sentence {number}: pick the word to follow."
        components.say("warning", message)
        return None
    choice = choices[labels.index(label)]
    return choice.form, choice.occurrence


components.from_url("ctx_word", "word", "model")
if "ctx_sentences" not in st.session_state:  # ?s=...&s=...: one sentence each
    from_url = "\n".join(st.query_params.get_all("s"))
    st.session_state["ctx_sentences"] = from_url or EXAMPLES["model"]
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
st.query_params.update({"word": word, "s": sentences})
if not word.strip() or len(sentences) < 2:
    st.info("Type a word and at least two sentences that use it, one per line.")
    st.stop()
if len(sentences) > MAX_SENTENCES:
    components.show_error(
        InputError(f"{len(sentences)} sentences is too many; the limit is {MAX_SENTENCES}.")
    )
    st.stop()

columns = st.columns(min(len(sentences), 4))
picks = []
for number, sentence in enumerate(sentences, 1):
    with columns[(number - 1) % len(columns)]:
        picks.append(pick_word(number, sentence, word))
if any(p is None for p in picks):
    st.stop()
inputs = (tuple(sentences), tuple(p[0] for p in picks), tuple(p[1] for p in picks))
try:
    model = resources.embedder()
    result = resources.context_analysis(*inputs, None)
except LabError as exc:
    components.show_error(exc)
    st.stop()
sections.overview(result)

st.header("Meaning drift across layers")
sections.drift(result)

st.header("Same sense or not")
try:
    verdicts, summary = pair_verdicts(model, result), calibration_for(model).summary
except LabError as exc:
    components.say("info", str(exc), prefix="No verdict: ")
    verdicts, summary = [], {}
sections.verdicts(verdicts, summary)

st.header("Attention: where the word looks")
a1, a2 = st.columns([2, 1])
names = [f"{n}: {s[:40]}{'…' if len(s) > 40 else ''}" for n, s in enumerate(sentences, 1)]
pick = a1.selectbox(  # options are plain text (never Markdown)
    "Sentence", range(len(sentences)), format_func=lambda i: names[i], key="ctx_att_sentence"
)
view = result.views[pick]
n_layers = view.trace.attention.shape[0]
layer = a2.slider("Layer for the per-head view", 1, n_layers, n_layers, key="ctx_att_layer")
sections.attention(view, layer)

st.header("What moved the vector")
sections.updates(view, pick + 1)
try:
    removals = resources.context_ablation(*inputs, pick)
except LabError as exc:
    components.show_error(exc)
    removals = ()
sections.removals(removals, pick + 1, view.word.text)

st.header("The same word in a GPT")
st.caption(
    "A causal model (SmolLM2-135M) reads left to right: the word's vector depends only on the "
    "words before it, and right after it the model predicts what comes next."
)
if st.toggle("Follow the word through SmolLM2 too (loads it the first time)", key="ctx_causal"):
    try:
        causal = resources.causal_word(*inputs)
    except LabError as exc:
        components.show_error(exc)
    else:
        st.altair_chart(causal_views.word_similarity_chart(causal, names), key="ctx_causal_sim")
        frame = causal_views.next_after_word_frame(causal, names)
        st.dataframe(frame, hide_index=True, key="ctx_causal_next")

st.header("Search by a word's sense")
sense_search.show(word.strip(), sentences)

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
sections.senses(found)
