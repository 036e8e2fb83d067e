"""Next token: how a GPT writes: the distribution, repetition, each layer's guess, training."""

import streamlit as st

from core.errors import LabError
from core.explain.causal import MAX_TEMPERATURE, MIN_TEMPERATURE
from core.explain.generation import MAX_NEW_TOKENS
from core.explain.training import MAX_SECONDS, MAX_STEPS, MAX_WANTED_TOKENS
from ui import causal_views as views
from ui import components, markup, resources
from ui.views import tour

components.page_setup("Next token")
st.title("The next token: how a GPT writes")
st.caption(
    "A Generative Pre-trained Transformer reads a text left to right and turns the last "
    "token's vector into a probability for every token that might come next; it writes by "
    "picking one, appending it, and asking again. Live, with SmolLM2-135M (bundled, offline; "
    "it loads when this page first opens)."
)
tour.nav()
components.from_url("nt_text", "text", "The capital of France is")
text = st.text_area("Your text", key="nt_text", max_chars=2000)
st.query_params["text"] = text

st.header("1. The next-token distribution")
c1, c2, c3 = st.columns(3)
k = c1.slider("Top tokens", 3, 20, 10, key="nt_k")
temperature = c2.slider(
    "Temperature", MIN_TEMPERATURE, MAX_TEMPERATURE, 1.0, 0.05, key="nt_temperature"
)
probe = c3.text_input("Look up a token", "London", key="nt_probe", max_chars=40)
try:
    guess = resources.next_token(text, k, temperature, probe)
except LabError as exc:
    components.show_error(exc)
    st.stop()
if guess.cut_note:
    components.say("warning", guess.cut_note)
m1, m2, m3 = st.columns(3)
m1.metric("tokens read", len(guess.tokens))
m2.metric("entropy (bits)", f"{guess.entropy:.2f}")
m3.metric("possible next tokens", f"{guess.vocabulary:,}")
st.markdown(
    f"The last vector becomes {guess.vocabulary:,} numbers (logits), one per token; dividing "
    "them by the temperature and taking the softmax gives probabilities that sum to 1. Below 1 "
    "the likeliest tokens gain, above 1 the distribution flattens (the entropy rises)."
)
st.altair_chart(views.top_chart(guess.top, "Likeliest next tokens"), key="nt_top_chart")
if guess.probe is not None:
    p = guess.probe
    pieces = " + ".join(repr(x) for x in p.pieces)
    what = "one token: it" if len(p.pieces) == 1 else f"{pieces}: its first token"
    looked_up = markup.plain(f"{p.text!r} is {what}")
    st.markdown(
        f"**Looked up**: {looked_up} ranks {p.rank:,} of {guess.vocabulary:,} with "
        f"probability {p.prob:.4g}."
    )

st.header("2. Step by step through the model")
try:
    walk = resources.causal_walk(text)
except LabError as exc:
    components.show_error(exc)
    st.stop()
labels = [f"{i}:{t!r}" for i, t in enumerate(walk.prompt.tokens)]
if walk.cut_note:
    components.say("caption", walk.cut_note)
components.show_html(markup.pieces_html([repr(t) for t in walk.prompt.tokens], walk.prompt.ids))
st.markdown(
    f"Each id picks a row of the input table ({walk.facts['dimensions']} numbers). No position "
    "vector is added: attention rotates queries and keys by position. Then "
    f"{walk.facts['layers']} layers each add an attention update and a feed-forward update."
)
a1, a2 = st.columns(2)
layer = a1.slider("Layer", 1, walk.facts["layers"], 1, key="nt_layer")
head = a2.slider("Head", 1, walk.facts["heads"], 1, key="nt_head")
st.altair_chart(
    views.attention_chart(
        walk.attention[layer - 1, head - 1],
        labels,
        f"Layer {layer}, head {head}: each token sees itself and earlier tokens (grey: masked)",
    ),
    key="nt_attention",
)
u1, u2 = st.columns(2)
u1.altair_chart(views.update_chart(walk.attn_update, labels, "Attention updates"), key="nt_ua")
u2.altair_chart(views.update_chart(walk.ffn_update, labels, "Feed-forward updates"), key="nt_uf")
last = {"input vector": walk.inputs[-1]}
last.update({f"after layer {i}": walk.hidden[i, -1] for i in (1, walk.facts["layers"] // 2)})
last[f"after layer {walk.facts['layers']} (normed)"] = walk.hidden[-1, -1]
st.markdown(
    f"The last token, {markup.plain(labels[-1])}, is the one whose vector becomes the prediction:"
)
st.dataframe(views.vectors_frame(last).style.format("{:+.3f}"), key="nt_last")

st.header("3. What each layer would say (logit lens)")
st.markdown(
    "Every layer's last vector sent through the final norm and the output head, as if the "
    "model stopped there: early layers guess little; the answer forms in the last layers."
)
st.altair_chart(views.lens_chart(guess.by_layer, guess.by_layer[-1].top[0].token), key="nt_lens_c")
st.dataframe(
    views.lens_frame(guess.by_layer),
    hide_index=True,
    column_config=views.LENS_COLUMNS,
    key="nt_lens",
)

st.header("4. Writing by repetition")
w1, w2, w3 = st.columns(3)
sampled = w1.toggle("Sample (else: most likely)", key="nt_sample")
seed = w2.number_input("Seed", 0, 10_000, 0, key="nt_seed")
runs = w3.number_input("Tokens per run", 1, 50, 10, key="nt_runs")
setting = (text, sampled, temperature, seed)
if st.session_state.get("nt_setting") != setting:
    st.session_state["nt_setting"], st.session_state["nt_steps"] = setting, []
steps = st.session_state["nt_steps"]
b1, b2, b3 = st.columns(3)
n = 1 if b1.button("Step", key="nt_step") else int(runs) if b2.button("Run", key="nt_run") else 0
if b3.button("Start over", key="nt_reset"):
    steps.clear()
if n:
    earlier = tuple(s.id for s in steps)
    try:
        n = min(n, MAX_NEW_TOKENS - len(earlier))
        wrote = resources.generate(text, n, temperature if sampled else None, seed, 5, earlier)
        steps.extend(wrote.steps)
    except LabError as exc:
        components.show_error(exc)
components.show_html(views.written_html(text, "".join(s.token for s in steps)))
if steps:
    components.show_html(views.steps_html(steps))
st.caption(
    f"Each step runs the model once more (the earlier tokens' keys and values are cached) and "
    f"picks from a new distribution; at most {MAX_NEW_TOKENS} tokens. A drawn token depends "
    "only on the seed and its position, so Run and repeated Steps write the same text."
)

st.header("5. Embedding model vs LLM")
try:
    contrast = resources.compare_models(text)
except LabError as exc:
    components.show_error(exc)
    st.stop()
st.dataframe(views.contrast_frame(contrast), hide_index=True, key="nt_contrast")

st.header("6. Training vs inference")
st.markdown(
    "Everything above is inference: the weights stay fixed. Training changes them: here a few "
    "gradient steps make a continuation you choose likelier, on a private copy of the last "
    f"block and final norm (the shared model never changes). Bounded: at most {MAX_STEPS} "
    f"steps, {MAX_SECONDS:.0f} s, {MAX_WANTED_TOKENS} wanted tokens, one run at a time on "
    "this server; the copy (about 3.5 M weights, some 60 MB with gradients and optimiser state) is "
    "dropped after."
)
t1, t2, t3 = st.columns([3, 3, 1])
train_prompt = t1.text_input("Prompt", "The capital of France is", key="nt_train_prompt")
wanted = t2.text_input("Wanted continuation", "Berlin", key="nt_wanted", max_chars=200)
n_steps = t3.number_input("Steps", 1, MAX_STEPS, 5, key="nt_train_steps")
if st.button("Train the private copy", key="nt_train"):
    try:
        st.session_state["nt_demo"] = resources.train_demo(train_prompt, wanted, int(n_steps))
    except LabError as exc:
        components.show_error(exc)
demo = st.session_state.get("nt_demo")
if demo is not None:
    d1, d2, d3 = st.columns(3)
    d1.metric("P(wanted) before", f"{demo.prob_before:.4g}")
    d2.metric("P(wanted) after", f"{demo.prob_after:.4g}")
    d3.metric("weights trained", f"{demo.parameters / 1e6:.1f} M")
    if demo.stopped_early:
        st.caption(f"Stopped after {len(demo.losses) - 1} steps: the {MAX_SECONDS:.0f} s bound.")
    st.altair_chart(views.loss_chart(demo.losses), key="nt_loss")
    st.markdown("**What else moved**: other prompts, read through the trained copy.")
    st.dataframe(views.moved_frame(demo), hide_index=True, key="nt_moved")
