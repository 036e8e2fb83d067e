"""The only owner of Streamlit caches: one model and one open collection per process.

Pages import this module; core never does. Everything cached here is shared read-only by
all sessions; collection writes are serialised inside core.
"""

from __future__ import annotations

import threading

import streamlit as st

from core import builtin, config
from core import collections as core_collections
from core.collections import Collection
from core.embedder import Embedder


@st.cache_resource(show_spinner="Loading the model…")
def embedder() -> Embedder:
    """The process-wide embedding model, warmed up so the first search is not slow."""
    model = Embedder()
    model.encode(["warm up"])
    return model


@st.cache_resource(show_spinner=False)
def collection(name: str) -> Collection:
    """An open collection, shared by every session."""
    return Collection(name, embedder().info)


def forget_collection() -> None:
    """Drop cached collections after one is deleted or replaced."""
    collection.clear()


@st.cache_resource(show_spinner=False)
def _demo_state() -> dict:
    return {"ready": False, "lock": threading.Lock()}


def ensure_demo() -> None:
    """Build the demo collection on first launch, with a progress bar; once per process."""
    state = _demo_state()
    if state["ready"]:
        return
    with state["lock"]:
        if state["ready"]:
            return
        model = embedder()
        docs = builtin.demo_documents()
        if not builtin.is_current(config.DEMO_COLLECTION, model, docs):
            bar = st.progress(0.0, text="Building the demo collection (first launch only)…")
            builtin.ensure_demo(model, lambda done, total: bar.progress(done / max(total, 1)))
            bar.empty()
            forget_collection()
        state["ready"] = True


def list_collections() -> list:
    """Every collection with counts, model and size (read fresh on each call)."""
    return core_collections.list_collections()


def collection_names() -> list[str]:
    """Names of all collections, the demo first."""
    names = [c.name for c in list_collections()]
    return sorted(names, key=lambda n: (n != config.DEMO_COLLECTION, n))
