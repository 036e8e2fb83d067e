"""The only owner of Streamlit caches: one model and one open collection per process.

Pages import this module; core never does. Everything cached here is shared read-only by
all sessions; collection writes are serialised inside core.
"""

from __future__ import annotations

import gc
import threading

import pandas as pd
import streamlit as st

from core import config
from core.explain import explore
from core.explain.explore import Clusters
from core.explain.map_trust import MapTrust, projection_trust
from core.explain.projection import Params, Projection, project_collection
from core.explain.vocab import Vocabulary
from core.ingest import builtin
from core.model.embedder import Embedder
from core.storage import collection as core_collections
from core.storage import export
from core.storage.collection import Collection


def embedder(encoder: str | None = None) -> Embedder:
    """The process-wide model with ``encoder`` (default: the one for new collections)."""
    return _embedder(encoder or config.encoder_name())


def collection_embedder(name: str) -> Embedder:
    """The model with the encoder that built collection ``name``: its queries, additions and
    explanations use it (a new collection gets the default)."""
    return embedder(core_collections.built_encoder(name))


@st.cache_resource(show_spinner="Loading the model…")
def _embedder(encoder: str) -> Embedder:
    """One Embedder per encoder, all sharing one loaded model, warmed up so the first search
    is not slow."""
    model = _loaded().with_encoder(encoder)
    model.encode(["warm up"])
    gc.freeze()  # torch loads here when the default int8 encoder runs without it (see below)
    return model


@st.cache_resource(show_spinner="Loading the model…")
def _loaded() -> Embedder:
    """The model, loaded once per process (the default encoder's Embedder)."""
    # sessions share the cores; an upload's embedding yields them to searches
    model = Embedder(threads=config.server_threads(), bulk_nice=config.SERVER_BULK_NICE)
    # torch, transformers and the model are a few million long-lived objects; every full
    # garbage collection would walk them all while holding the GIL (some 0.1-0.3 s, during
    # which no session's script runs). Freezing moves what exists now out of the collector's
    # way; what sessions create later is collected as usual.
    gc.freeze()
    return model


@st.cache_resource(show_spinner=False)
def collection(name: str) -> Collection:
    """An open collection, shared by every session, with the encoder that built it."""
    return Collection(name, collection_embedder(name).info)


def forget_collection(name: str) -> None:
    """Drop the cached copy of one collection after it is deleted or replaced; other
    collections stay open (reopening a large index means reading all of it again)."""
    collection.clear(name)


@st.cache_resource(show_spinner=False)
def _demo_state() -> dict:
    return {"ready": False, "lock": threading.Lock()}


def ensure_demo() -> None:
    """Build the demo collection on first launch, with a progress bar; once per process.

    The bar's slot is drawn on every run, built or not: a page's elements below it then keep
    their place from one run to the next. Without it, the run after the build drew every
    element one place higher, and the browser drew them anew, dropping what had been typed
    into a box and not yet sent (a collection name, then files dropped on the uploader).
    """
    slot = st.empty()
    state = _demo_state()
    if state["ready"]:
        return
    with state["lock"]:
        if state["ready"]:
            return
        model = collection_embedder(config.DEMO_COLLECTION)  # a demo built before keeps its own
        docs = builtin.demo_documents()
        if config.read_only():
            pass  # a read-only deployment serves the collections it was given, as they are
        elif not builtin.is_current(config.DEMO_COLLECTION, model, docs):
            bar = slot.progress(0.0, text="Building the demo collection (first launch only)…")
            builtin.ensure_demo(model, lambda done, total: bar.progress(done / max(total, 1)))
            bar.empty()
            forget_collection(config.DEMO_COLLECTION)
        state["ready"] = True


def list_collections() -> list:
    """Every collection with counts, model and size (read fresh on each call)."""
    return core_collections.list_collections()


def collection_names() -> list[str]:
    """Names of all collections, the demo first."""
    names = [c.name for c in list_collections()]
    return sorted(names, key=lambda n: (n != config.DEMO_COLLECTION, n))


# Explore and Words pages.


@st.cache_data(show_spinner=False, max_entries=16)
def projection(name: str, generation: int, method: str, seed: int) -> Projection:
    """A collection's 2D map: computed once, then read from its disk cache (memory when
    read-only).

    ``generation`` is the collection's store generation, so new documents give a new map.
    """
    del generation  # part of the cache key only
    return project_collection(collection(name), Params(method=method, seed=seed))


@st.cache_data(show_spinner=False, max_entries=6)
def map_points(name: str, generation: int, method: str, seed: int) -> pd.DataFrame:
    """The map's points: x, y, ids, title, snippet and metadata columns."""
    result = projection(name, generation, method, seed)
    table = export.points_table(collection(name), result.chunk_ids)
    return table.assign(x=result.coords[:, 0], y=result.coords[:, 1])


@st.cache_data(show_spinner=False, max_entries=16)
def map_trust(name: str, generation: int, method: str, seed: int) -> MapTrust | None:
    """How faithfully the map keeps neighbourhoods (``map_trust.projection_trust``)."""
    return projection_trust(collection(name), projection(name, generation, method, seed))


@st.cache_data(show_spinner="Summarising the selection…", max_entries=8)
def selection_summary(
    name: str, generation: int, ids: tuple[int, ...], background: tuple[int, ...]
):
    """Size, distinctive words and central documents of a selection (``summarise``): kept,
    so the Explore page's other widgets do not redo it (seconds for thousands of points)."""
    from core.explain import selection

    del generation  # part of the cache key only
    return selection.summarise(collection(name), ids, background)


@st.cache_data(show_spinner=False, max_entries=16)
def selection_token(name: str, generation: int, ids: tuple[int, ...]) -> str:
    """The link token of a selection (``selections.token_for``), made once per selection."""
    from core.storage import selections

    del generation  # part of the cache key only
    return selections.token_for(collection(name), ids)


@st.cache_data(show_spinner=False, max_entries=16)
def map_clusters(name: str, generation: int, method: str, seed: int, k: int) -> Clusters:
    """k-means clusters of the map's points, named by their most distinctive terms."""
    result = projection(name, generation, method, seed)
    return explore.clusters(collection(name), result, k, seed)


@st.cache_resource(show_spinner="Reading the model's vocabulary…")
def vocabulary() -> Vocabulary:
    """The model's word pieces and input token embedding matrix, shared by every session."""
    return Vocabulary(embedder())


# Words in context (Context and How it works pages, and "why did this match" on Search).


@st.cache_data(show_spinner="Running the model…", max_entries=32)
def context_analysis(
    sentences: tuple[str, ...],
    words: tuple[str, ...],
    occurrences: tuple[int, ...],
    ablate: int | None,
):
    """A word followed through the model in several sentences (``walkthrough.analyse``)."""
    from core.explain import walkthrough

    return walkthrough.analyse(embedder(), sentences, words, occurrences, ablate)


@st.cache_data(show_spinner="Removing each word in turn…", max_entries=32)
def context_ablation(
    sentences: tuple[str, ...], words: tuple[str, ...], occurrences: tuple[int, ...], index: int
) -> tuple:
    """The removal test for sentence ``index`` (``walkthrough.ablation``)."""
    from core.explain import walkthrough

    result = context_analysis(sentences, words, occurrences, None)
    return walkthrough.ablation(embedder(), result, index)


@st.cache_data(show_spinner="Finding the word in the collection…", max_entries=32)
def word_senses(name: str, generation: int, word: str, k: int):
    """Occurrences of ``word`` in a collection, clustered (``walkthrough.senses``)."""
    from core.explain import walkthrough

    del generation  # part of the cache key only
    return walkthrough.senses(embedder(), collection(name).store, word, k)


def search_sense(
    name: str, word: str, sentence: str, k: int, progress=None, limit: int | None = None
):
    """Passages using ``word`` as ``sentence`` does (``sense_search.search_sense``), among at
    most ``limit`` uses; the occurrences' vectors are cached in core per collection
    generation."""
    from core.explain import sense_search

    store = collection(name).store
    limit = limit or sense_search.MAX_OCCURRENCES
    return sense_search.search_sense(embedder(), store, word, sentence, k, progress, limit=limit)


@st.cache_data(show_spinner="Running the model…", max_entries=16)
def walk_through(text: str):
    """One sentence through the model, every step kept (``walkthrough.walk_through``)."""
    from core.explain import walkthrough

    return walkthrough.walk_through(embedder(), text)


@st.cache_data(show_spinner="Splitting the score over every pair of pieces…", max_entries=32)
def word_pairs(query: str, text: str, encoder: str | None = None):
    """The cosine over every (query word, document word) pair (``pair_matrix``, pieces merged
    into words), from ``encoder``'s token vectors: the encoder that built the collection."""
    from core.explain import contributions

    return contributions.pair_matrix(embedder(encoder), query, text).by_words()


@st.cache_data(show_spinner="Splitting the scores into token contributions…", max_entries=64)
def match_reasons(query: str, texts: tuple[str, ...], encoder: str):
    """Per-token contributions to each text's cosine with the query (``hit_contributions``),
    from ``encoder``'s token vectors: the encoder that built the collection searched."""
    from core.explain import contributions

    return contributions.hit_contributions(embedder(encoder), query, texts)


# The causal model (Next token page; beside the encoder on How it works and Context). It loads
# only when one of these is first called: search and the other pages never pay for it.


def causal_lm():
    """The process-wide causal model (``core.model.causal_lm``), read-only."""
    return _causal_lm(config.causal_model_path() or "")


@st.cache_resource(
    show_spinner="Loading the causal model (SmolLM2-135M; on first use ever it is converted "
    "to float32 and saved, about a minute)…"
)
def _causal_lm(path: str):
    from core.model.causal_lm import load_causal_lm

    return load_causal_lm(path or None)


@st.cache_data(show_spinner="Running the causal model…", max_entries=32)
def next_token(text: str, k: int, temperature: float, probe: str):
    """The next-token distribution and logit lens (``causal.next_token``)."""
    from core.explain import causal

    return causal.next_token(causal_lm(), text, k, temperature, probe)


@st.cache_data(show_spinner="Running the causal model…", max_entries=16)
def causal_walk(text: str, k: int = 10, temperature: float = 1.0):
    """A text through the causal model, every step kept (``causal_walk.causal_walk``)."""
    from core.explain import causal_walk as walk

    return walk.causal_walk(causal_lm(), text, k, temperature)


@st.cache_data(show_spinner="Writing…", max_entries=64)
def generate(
    text: str, n: int, temperature: float | None, seed: int, k: int, earlier: tuple[int, ...]
):
    """``n`` more tokens after ``text`` and the ids ``earlier`` (``generation.generate``)."""
    from core.explain import generation

    return generation.generate(causal_lm(), text, n, temperature, seed, k, earlier)


def compare_models(text: str):
    """The encoder and the causal model side by side on ``text`` (``compare_models``)."""
    from core.explain import causal_walk as walk

    return walk.compare_models(walk_through(text), causal_walk(text))


@st.cache_data(show_spinner="Running the causal model…", max_entries=32)
def causal_word(
    sentences: tuple[str, ...], words: tuple[str, ...], occurrences: tuple[int | None, ...]
):
    """A word followed through the causal model (``causal_context.follow_word``)."""
    from core.explain import causal_context

    return causal_context.follow_word(causal_lm(), sentences, words, occurrences)


def train_demo(prompt: str, wanted: str, steps: int):
    """A few gradient steps on a private copy (``training.train_demo``); never cached."""
    from core.explain import training

    return training.train_demo(causal_lm(), prompt, wanted, steps)


# The guided tour on Home: each step's small picture, computed once per example.


@st.cache_data(show_spinner="Running the model on the tour's example…", max_entries=8)
def tour_encoder(example):
    """Steps 1-5 and 7 of the tour (``tour.encoder_steps``)."""
    from core.explain import tour

    return tour.encoder_steps(embedder(), example)


def tour_next(example):
    """Step 6 of the tour (``tour.next_token_step``), cached per example and causal model."""
    return _tour_next(example, config.causal_model_path() or "")


@st.cache_data(show_spinner="Running the causal model on the tour's example…", max_entries=8)
def _tour_next(example, path: str):
    from core.explain import tour

    del path  # part of the cache key only: causal_lm() reads the same setting
    return tour.next_token_step(causal_lm(), example)
