"""Widgets and HTML shared by the pages. All user text is escaped before it is shown."""

from __future__ import annotations

import html
import json
import numbers
import re
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
ICON = str(Path(__file__).with_name("icon.png"))  # a local file: no font or CDN needed


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


def show_error(exc: Exception) -> None:
    """Show a core error as a message (never a traceback)."""
    st.error(str(exc))


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
    card = (
        f'<div class="hit"><div class="head"><span class="rank">#{hit.rank}</span>'
        f'<span class="title">{title}</span><span class="score">{hit.score:.3f}</span></div>'
        f'<div class="bar" style="width:{width:.0f}%"></div>'
        f'<div class="body">{body_html}</div>'
        f'<div class="meta">id {html.escape(hit.doc_id)} · {html.escape(hit.source)} · '
        f"{where}{why}{' · ' + meta if meta else ''}</div></div>"
    )
    # The Search page shows cards with st.html (no Markdown pass; DOMPurify in the browser
    # on top of the escaping here). Still one line, so the card stays inert under
    # st.markdown too, where a blank line would end the HTML block and let the rest be
    # parsed as Markdown. The body is white-space: pre-wrap, so the character reference
    # still shows as a line break.
    return card.replace("\r", "").replace("\n", "&#10;")


MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$&:])")


def plain(text: str) -> str:
    """``text`` with every Markdown special character backslash-escaped, for st.markdown,
    st.caption and st.table (which renders cells as Markdown): shown as typed, never as
    links, images, maths or HTML."""
    return MARKDOWN_SPECIALS.sub(r"\\\1", text)


TABLE_CSS = (
    "<style>.lab-table{border-collapse:collapse;font-size:.9rem;margin:.3rem 0 .8rem 0}"
    ".lab-table th,.lab-table td{border-bottom:1px solid #e3e6ea;padding:.25rem .6rem;"
    "text-align:left;vertical-align:top}.lab-table td.num{text-align:right;"
    "font-family:monospace}</style>"
)


def html_table(frame: Any, formats: dict[str, str] | None = None) -> str:
    """A DataFrame as one line of escaped HTML (``<table class="lab-table">``).

    For tables of user text: st.table renders cells as Markdown (links, images, maths), and
    inside an HTML block nothing is parsed as Markdown. ``formats`` maps a column to a format
    such as ``"{:.3f}"``. Shown with ``st.markdown(..., unsafe_allow_html=True)``.
    """
    formats = formats or {}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for record in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, record, strict=True):
            text = formats[column].format(value) if column in formats else str(value)
            numeric = isinstance(value, numbers.Number) and not isinstance(value, bool)
            kind = ' class="num"' if numeric else ""
            cells.append(f"<td{kind}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    body = "".join(rows).replace("\r", "").replace("\n", "&#10;")
    return (
        f'{TABLE_CSS}<table class="lab-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def show_table(frame: Any, formats: dict[str, str] | None = None) -> None:
    """Show a table of user text, escaped (see :func:`html_table`)."""
    st.markdown(html_table(frame, formats), unsafe_allow_html=True)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "…"


def why_html(parts: Any) -> str:
    """Escaped HTML for one hit's token contributions (``Contributions`` from core.explain).

    The model averages its token vectors into the search vector, so the cosine splits exactly
    into one number per token; both rows below add up to the same score.
    """
    from core.explain.contributions import contributions_html

    query = contributions_html(parts.query_tokens, parts.query_contribs)
    doc = contributions_html(parts.doc_tokens, parts.doc_contribs)
    top = sorted(
        (
            (float(v), t)
            for t, v in zip(parts.doc_tokens, parts.doc_contribs, strict=True)
            if t not in ("[CLS]", "[SEP]")
        ),
        reverse=True,
    )[:5]
    strongest = ", ".join(f"{html.escape(t)} {v:+.3f}" for v, t in top)
    text = (
        '<div class="why"><p style="margin:0 0 .3rem 0">The model averages one vector per '
        "word piece into each text's vector, so the cosine "
        f"<b>{parts.score:.4f}</b> is exactly the sum of one share per piece (green adds, red "
        "takes away; hover for the number). Each row adds up to the score.</p>"
        f"<p><b>Query</b> (sum {float(parts.query_contribs.sum()):.4f}): {query}</p>"
        f'<p style="line-height:1.9"><b>Document</b> (sum {float(parts.doc_contribs.sum()):.4f})'
        f": {doc}</p><p><small>Strongest document pieces: {strongest}</small></p></div>"
    )
    return text.replace("\n", "&#10;")
