"""Widgets and messages shared by the pages: page setup, the collection picker, alerts.

Text from users and documents reaches a Markdown element only through :func:`say` (or
:func:`show_error`), which makes it inert (``ui.markup.plain``); HTML fragments from
``ui.markup`` are shown with :func:`show_html` (``st.html``: no Markdown pass).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from core import config
from core.errors import LabError
from ui import markup, resources

ROOT = Path(__file__).resolve().parents[1]
ICON = str(Path(__file__).with_name("icon.png"))  # a local file: no font or CDN needed
ALERTS = {
    "info": st.info,
    "warning": st.warning,
    "error": st.error,
    "success": st.success,
    "caption": st.caption,
}


def pages() -> list[tuple[str, str]]:
    """(path, label) of the home page and every file in ``pages/``, in order."""
    found = [("app.py", "Home")]
    for path in sorted((ROOT / "pages").glob("[0-9]*_*.py")):
        found.append((f"pages/{path.name}", path.stem.split("_", 1)[1].replace("_", " ")))
    return found


def page_setup(title: str) -> None:
    """Common page configuration and the sidebar's links to every page.

    No icons in the links: Streamlit's Material icons come from a font CDN (the lab makes no
    outbound request; the browser tests check it), and emoji need an emoji font that many
    Linux machines lack. The tab icon is a PNG shipped with the app.
    """
    st.set_page_config(page_title=f"{title} · Embedding Lab", page_icon=ICON, layout="wide")
    with st.sidebar:
        st.markdown("### Embedding Lab")
        for path, label in pages():
            st.page_link(path, label=label)
        st.caption("all-MiniLM-L6-v2 · runs locally, offline")


def say(kind: str, text: str, prefix: str = "") -> None:
    """Show ``text`` as typed in an alert or a caption, never as Markdown.

    Args:
        kind: "info", "warning", "error", "success" or "caption".
        text: any text, user and document text included.
        prefix: Markdown of the lab's own (for example ``"**Skipped** "``), shown before it.
    """
    ALERTS[kind](prefix + markup.plain(text))


def show_error(exc: Exception) -> None:
    """Show a core error as a message (never a traceback); its text may quote user input."""
    say("error", str(exc))


def show_html(fragment: str) -> None:
    """Show escaped HTML from ``ui.markup`` (st.html: sanitised, never parsed as Markdown)."""
    st.html(fragment)


def show_table(frame: Any, formats: dict[str, str] | None = None) -> None:
    """Show a table of user text, escaped (see :func:`ui.markup.html_table`)."""
    show_html(markup.html_table(frame, formats))


ENCODER_LABELS = {
    "onnx-int8": "int8 ONNX Runtime (fast)",
    "torch": "fp32 torch (sentence-transformers)",
}


def pick_encoder(key: str) -> str:
    """The encoder for a new collection (an existing one keeps the encoder that built it)."""
    choices = list(config.ENCODERS)
    return st.selectbox(
        "Encoder for a new collection",
        choices,
        index=choices.index(config.encoder_name()),
        format_func=lambda name: ENCODER_LABELS.get(name, name),
        key=key,
        help="An existing collection is always searched and extended with the encoder that "
        "built it (the table above says which).",
    )


def teaching_model_note() -> None:
    """One line on the teaching pages: they show the fp32 torch model, whatever the encoder."""
    st.caption(
        "This page runs the fp32 torch model; search may use its int8 copy (same weights), "
        "which gives vectors within about 0.01 in cosine."
    )


def pick_collection(key: str, label: str = "Collection") -> str | None:
    """A collection selector whose default comes from the URL (``?collection=``)."""
    try:
        names = resources.collection_names()
    except LabError as exc:
        show_error(exc)
        return None
    if not names:
        st.info("No collections yet. Add documents on the Collections page.")
        return None
    wanted = st.query_params.get("collection", config.DEMO_COLLECTION)
    if key not in st.session_state or st.session_state[key] not in names:
        st.session_state[key] = wanted if wanted in names else names[0]
    return st.selectbox(label, names, key=key)


def from_url(key: str, param: str, default: Any, allowed: Any = None, cast: Callable = str) -> None:
    """Start a widget at the URL's value (a copied link opens the same view)."""
    if key in st.session_state:
        return
    try:
        value = cast(st.query_params.get(param, default))
    except ValueError:
        value = default
    st.session_state[key] = value if allowed is None or value in allowed else default


def card_reasons(embedder: Any, result: Any) -> list[Any]:
    """One explanation per hit: what its card marks.

    Keyword mode marks the words BM25 matched (no model run). Otherwise the sentence closest
    in meaning, with the BM25-matched words bold where the BM25 chunk is the one shown.
    """
    from core.search.highlight import explain

    hits = result.hits
    if result.mode == "keyword":
        return [keyword_marks(h) for h in hits]
    reasons = explain(embedder, result.query, result.vector, [h.text for h in hits])
    if result.mode == "hybrid":
        reasons = [
            dataclasses.replace(r, terms=keyword_marks(h).terms)
            if h.keyword_chunk == h.chunk
            else r
            for h, r in zip(hits, reasons, strict=True)
        ]
    return reasons


def keyword_marks(hit: Any) -> Any:
    """An explanation marking the words BM25 matched (exact spans), for keyword hits."""
    from core.search.highlight import Explanation

    spans = tuple(sorted({span for t in hit.keyword_terms for span in t.spans}))
    return Explanation(sentence=(0, 0), sentence_score=0.0, terms=spans)
