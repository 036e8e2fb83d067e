"""The Collections page's sections: the table of collections, ingest with a progress bar, and
the messages a change leaves for its tab.

Messages quote file names, CSV headers and reasons from documents: they go through
``components.say`` (Markdown-inert), never straight into an alert.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from core import config
from core.documents.readers import FieldSpec, Problem, check_document_count, read_bytes
from core.errors import LabError
from core.ingest.pipeline import ingest_documents
from core.storage.collection import Collection, exists
from ui import components, resources


def table(infos: Sequence[Any]) -> None:
    """Every collection with its counts, model, encoder, index, recall and size."""
    frame = pd.DataFrame(
        {
            "name": [i.name for i in infos],
            "documents": [i.documents for i in infos],
            "chunks": [i.chunks for i in infos],
            "model": [i.model for i in infos],
            "encoder": [i.encoder for i in infos],
            "store": [i.store for i in infos],
            "index": [i.index for i in infos],
            "recall@10": [_recall(i) for i in infos],
            "size (MB)": [round(i.size_bytes / 1e6, 2) for i in infos],
        }
    )
    st.dataframe(frame, hide_index=True, width="stretch", key="collections_table")


def _recall(info: Any) -> str:
    """An approximate index's measured recall; a flat index is exact by construction."""
    if info.recall_at_10 is not None:
        return f"{info.recall_at_10:.3f}"
    return "exact" if "flat" in str(info.index).lower() else "not measured"


def changed(tab: str, messages: list[tuple[str, str]]) -> None:
    """A collection changed: keep the messages for ``tab`` and draw the page again.

    The table above and the collection pickers were drawn before the change; drawn again,
    they show it at once (an upload's new collection is in the table, a deleted one is gone
    from the picker). The messages are shown in their tab after the new run.
    """
    st.session_state[f"flash_{tab}"] = messages
    st.rerun()


def show_messages(tab: str) -> None:
    """The messages of the change made in ``tab`` in the previous run, once."""
    for kind, text in st.session_state.pop(f"flash_{tab}", []):
        components.say(kind, text)


def read_uploads(files: Sequence[Any], fields: FieldSpec) -> tuple[list, list[Problem]]:
    """Documents read from uploaded files, and a problem for each file refused."""
    limit = config.LIMITS.max_file_bytes
    docs, problems = [], []
    for upload in files:
        try:
            if upload.size > limit:
                raise LabError(
                    f"File is {upload.size / 2**20:.1f} MB; the limit is {limit / 2**20:.0f} MB."
                )
            docs += read_bytes(upload.getvalue(), upload.name, upload.name, fields)
        except LabError as exc:
            problems.append(Problem(upload.name, str(exc)))
    return docs, problems


def pick_store(key: str) -> str:
    """Where a new collection lives: "embedded" (SQLite + FAISS) or "milvus" (the server
    ``EMBEDLAB_MILVUS_URI`` names). An existing collection stays where it is."""
    uri = config.milvus_uri()
    where = f"the Milvus server at {uri}" if uri else "a Milvus server (set EMBEDLAB_MILVUS_URI)"
    return st.radio(
        "Store (new collections)",
        ["embedded", "milvus"],
        horizontal=True,
        key=key,
        help=f"embedded: SQLite + FAISS in the data folder, nothing to run. milvus: {where}.",
    )


def run_ingest(
    tab: str,
    name: str,
    documents: list,
    problems: list[Problem],
    encoder: str,
    store: str = "embedded",
) -> None:
    """Embed and store ``documents`` into ``name`` with a progress bar; report the outcome.

    A new collection is built with ``encoder`` in ``store``; an existing one with the encoder
    that built it, in the store it lives in.
    """
    skipped = [("warning", f"Skipped {p.source}: {p.reason}") for p in problems]
    for kind, text in skipped:
        components.say(kind, text)
    if not documents:
        st.error("Nothing to add: no readable documents.")
        return
    model = resources.collection_embedder(name) if exists(name) else resources.embedder(encoder)
    try:
        check_document_count(len(documents))  # all files together, before anything is made
        target = (
            resources.collection(name)
            if exists(name)
            else Collection(name, model.info, create=True, store=store)
        )
        bar = st.progress(0.0, text=f"Embedding {len(documents)} documents…")
        report = ingest_documents(
            target, model, documents, lambda d, t: bar.progress(d / max(t, 1))
        )
    except LabError as exc:
        components.show_error(exc)
        return
    bar.empty()
    resources.forget_collection(name)
    outcome = [("success", f"{name}: {report.summary()}")]
    outcome += [("warning", f"{p.source}: {p.reason}") for p in report.problems]
    changed(tab, skipped + outcome)
