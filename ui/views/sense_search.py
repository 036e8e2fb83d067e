"""Search by a word's sense (Context page): pick a sentence using the word, find the passages
of a collection that use it the same way, the other senses listed apart."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.errors import LabError
from core.explain.sense_search import MAX_OCCURRENCES, SenseHit, SenseSearch
from ui import components, resources

STATE = "ctx_sense_search_result"  # (inputs, result) of the last search in this session
FORMATS = {"cosine": "{:.3f}", "P(same sense)": "{:.2f}"}
DEFAULT_USES = 1_000  # uses compared by default: about 10-30 s on two cores, 5,000 minutes


def show(word: str, sentences: list[str]) -> None:
    """The section: collection, example sentence, how many hits, a button, two lists."""
    st.caption(
        "Every sentence of a collection holding the word (or another form of it, as keyword "
        "search finds them) is run through the model; its word vector is compared with the "
        "word's vector in your sentence (cosine, last layer), and the same-sense verdict "
        "(calibrated on WiC) sorts the passages into two lists. The first uses found are "
        f"compared, {DEFAULT_USES:,} unless you ask for more (up to {MAX_OCCURRENCES:,}: each "
        "use is one model run, so thousands take minutes); their vectors are kept until the "
        "collection changes."
    )
    c1, c2, c3, c4 = st.columns([2, 4, 1, 1])
    with c1:
        name = components.pick_collection("ctx_sense_search_collection")
    sentence = c2.selectbox("The sense wanted, as used in", sentences, key="ctx_sense_sentence")
    k = int(c3.number_input("Hits", 1, 50, 10, key="ctx_sense_hits"))
    limit = int(
        c4.number_input(
            "Uses compared", 10, MAX_OCCURRENCES, DEFAULT_USES, 500, key="ctx_sense_limit"
        )
    )
    if name is None or sentence is None:
        return
    inputs = (name, resources.collection(name).store.generation, word, sentence, k, limit)
    if st.button(f"Find passages using '{word}' this way", key="ctx_sense_go"):
        bar = st.progress(0.0, text="Finding the word in the collection…")

        def progress(done: int, total: int) -> None:
            bar.progress(done / total, text=f"Contextual vectors: {done:,} of {total:,} uses")

        try:
            result = resources.search_sense(name, word, sentence, k, progress, limit)
            st.session_state[STATE] = (inputs, result)
        except LabError as exc:
            st.session_state.pop(STATE, None)
            components.show_error(exc)
        bar.empty()
    saved = st.session_state.get(STATE)
    if saved is not None and saved[0] == inputs:
        render(saved[1])


def render(result: SenseSearch) -> None:
    """The note, the same-sense hits best first, and the other senses apart."""
    components.say("caption", f"{result.note} Same sense when P ≥ {result.threshold:.2f}.")
    left, right = st.columns(2)
    with left:
        st.markdown(f"**Same sense ({len(result.same)})**")
        _table(result.same, "No passage uses it in this sense.")
    with right:
        st.markdown(f"**Other senses ({len(result.other)})**")
        _table(result.other, "Every passage uses it in this sense.")


def _table(hits: tuple[SenseHit, ...], empty: str) -> None:
    if not hits:
        components.say("caption", empty)
        return
    frame = pd.DataFrame(
        {
            "rank": [h.rank for h in hits],
            "cosine": [h.cosine for h in hits],
            "P(same sense)": [h.probability for h in hits],
            "document": [h.occurrence.title for h in hits],
            "passage": [_marked(h) for h in hits],
        }
    )
    components.show_table(frame, FORMATS)


def _marked(hit: SenseHit) -> str:
    """The sentence with the word between « » (plain text: it is escaped when shown)."""
    o = hit.occurrence
    return f"{o.sentence[: o.start]}«{o.form}»{o.sentence[o.end :]}"
