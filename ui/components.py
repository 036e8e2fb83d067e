"""Widgets and HTML shared by the pages. All user text is escaped before it is shown."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import streamlit as st

from core import config
from core.errors import LabError
from ui import resources

CARD_CSS = """
<style>
.hit {border:1px solid #e3e6ea; border-radius:8px; padding:0.7rem 0.9rem; margin:0.5rem 0;}
.hit .head {display:flex; gap:0.6rem; align-items:baseline; flex-wrap:wrap;}
.hit .rank {color:#8a8f98; font-size:0.85rem;}
.hit .title {font-weight:600;}
.hit .score {font-family:monospace; background:#eef4ff; border-radius:4px; padding:0 0.3rem;}
.hit .bar {height:4px; background:#4c78a8; border-radius:2px; margin:0.3rem 0 0.5rem 0;}
.hit .meta {color:#5f6670; font-size:0.8rem; margin-top:0.4rem;}
.hit .body {line-height:1.5; white-space:pre-wrap;}
.hit mark.passage {background:#fff3bf; padding:0 1px;}
</style>
"""


ROOT = Path(__file__).resolve().parents[1]
# Emoji, never ":material/...": Streamlit fetches Material Symbols from a font CDN, and the
# lab makes no outbound request (the browser tests check this).
ICONS = {
    "Home": "🏠",
    "Search": "🔎",
    "Collections": "🗂️",
    "Explore": "🗺️",
    "Words": "🔤",
    "Context": "🧭",
    "How it works": "🎓",
}


def pages() -> list[tuple[str, str, str]]:
    """(path, label, icon) of the home page and every file in ``pages/``, in order."""
    found = [("app.py", "Home", ICONS["Home"])]
    for path in sorted((ROOT / "pages").glob("[0-9]*_*.py")):
        label = path.stem.split("_", 1)[1].replace("_", " ")
        found.append((f"pages/{path.name}", label, ICONS.get(label, "📄")))
    return found


def page_setup(title: str, icon: str | None = None) -> None:
    """Common page configuration and the sidebar's links to every page.

    The icon comes from :data:`ICONS` by title; a ``:material/...`` icon is never used.
    """
    if not icon or icon.startswith(":material/"):
        icon = ICONS.get(title, "📄")
    st.set_page_config(page_title=f"{title} · Embedding Lab", page_icon=icon, layout="wide")
    with st.sidebar:
        st.markdown("### Embedding Lab")
        for path, label, page_icon in pages():
            st.page_link(path, label=label, icon=page_icon)
        st.caption("all-MiniLM-L6-v2 · runs locally, offline")


def show_error(exc: Exception) -> None:
    """Show a core error as a message (never a traceback)."""
    st.error(str(exc), icon="⚠️")


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


def hit_card(hit: Any, body_html: str, best_score: float, sentence_score: float | None) -> str:
    """HTML for one search hit; ``body_html`` must already be escaped."""
    width = max(2.0, 100.0 * max(hit.score, 0.0) / max(best_score, 1e-9))
    title = html.escape(hit.title or hit.doc_id)
    where = f"chunk {hit.chunk + 1} of {hit.chunks}" if hit.chunks > 1 else "whole document"
    meta = ", ".join(
        f"{html.escape(str(k))}: {html.escape(_short(v))}" for k, v in hit.metadata.items()
    )
    why = " · found by " + " and ".join(hit.found_by)
    if hit.dense_score is not None and hit.found_by != ("dense",):
        why += f" · cosine {hit.dense_score:.3f}"
    if hit.keyword_score is not None:
        why += f" · BM25 {hit.keyword_score:.2f}"
    if sentence_score is not None:
        why += f" · highlighted sentence cosine {sentence_score:.3f}"
    return (
        f'<div class="hit"><div class="head"><span class="rank">#{hit.rank}</span>'
        f'<span class="title">{title}</span><span class="score">{hit.score:.3f}</span></div>'
        f'<div class="bar" style="width:{width:.0f}%"></div>'
        f'<div class="body">{body_html}</div>'
        f'<div class="meta">id {html.escape(hit.doc_id)} · {html.escape(hit.source)} · '
        f"{where}{why}{' · ' + meta if meta else ''}</div></div>"
    )


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "…"
