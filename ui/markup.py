"""Values from core -> escaped HTML fragments and Markdown-inert text. Pure string functions.

The one path by which user and document text reaches the screen in a styled form:

- :func:`plain` makes text inert for every Streamlit element that parses Markdown (st.markdown,
  st.caption, alerts, expander and tab labels, radio options): shown as typed, never as links,
  images, maths, colours or HTML.
- The ``*_html`` functions build one-line HTML with every piece of text passed through
  :func:`html.escape`; pages show them with ``st.html`` (no Markdown pass, DOMPurify on top).

Core returns data (spans, scores, tokens); the functions here only draw it.
"""

from __future__ import annotations

import html
import json
import numbers
import re
from collections.abc import Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np

from core.explain.contributions import SPECIAL

if TYPE_CHECKING:
    from core.search.highlight import Explanation

# Every ASCII punctuation mark Markdown, GFM, maths or Streamlit's directives give a meaning.
MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$&:@=^\"'%;,?/])")
# GitHub's autolink literals (www., http://, e-mail) are found after escapes are resolved; a
# word joiner (U+2060, invisible) after their first part keeps them text.
AUTOLINK_START = re.compile(r"(?i)(?:www|https?|ftp|mailto|xmpp)(?=\\[.:])|(?<=\\@)")
WORD_JOINER = "\u2060"
INDENT = re.compile(r"(?m)^[ \t]+")
NO_BREAK_SPACE = "\u00a0"


def plain(text: str) -> str:
    """``text`` for an element that renders Markdown, shown exactly as typed.

    Every Markdown special character is backslash-escaped, autolink literals are broken with
    an invisible word joiner (GitHub-flavoured Markdown links ``www.x`` and ``a@b.c`` even when
    their punctuation is escaped), and indentation becomes no-break spaces (no code block).
    """
    escaped = MARKDOWN_SPECIALS.sub(r"\\\1", str(text))
    linked = AUTOLINK_START.sub(lambda m: m.group(0) + WORD_JOINER, escaped)
    # an indented line would become a code block, where escapes show as backslashes
    return INDENT.sub(lambda m: NO_BREAK_SPACE * len(m.group()), linked)


def one_line(markup: str) -> str:
    """HTML on one line: under st.markdown a blank line would end an HTML block."""
    return markup.replace("\r", "").replace("\n", "&#10;")


# Streamlit cuts a page link's label to one line with an ellipsis; these wrap it instead.
WRAP_LINKS_CSS = (
    "<style>[data-testid='stPageLink-NavLink']{height:auto;align-items:flex-start}"
    "[data-testid='stPageLink-NavLink'] span{white-space:normal;overflow:visible;"
    "text-overflow:clip;display:block}</style>"
)

# --- search hits ---------------------------------------------------------------------------

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


def highlight_html(text: str, explanation: Explanation | None) -> str:
    """``text`` escaped, its best sentence in <mark> and the words it shares with the query
    in <b> (the spans of ``explanation``, from core.search.highlight.explain)."""
    if explanation is None:
        return html.escape(text)
    lo, hi = explanation.sentence
    cuts = {0, len(text), lo, hi}
    for start, end in explanation.terms:
        cuts.update((start, end))
    points = sorted(c for c in cuts if 0 <= c <= len(text))
    words = set(explanation.terms)
    out = []
    for start, end in pairwise(points):
        if start == lo and hi > lo:
            out.append('<mark class="passage">')
        piece = html.escape(text[start:end])
        out.append(f"<b>{piece}</b>" if (start, end) in words else piece)
        if end == hi and hi > lo:
            out.append("</mark>")
    return "".join(out)


def hit_card(hit: Any, body_html: str, best_score: float, sentence_score: float | None) -> str:
    """HTML for one search hit; ``body_html`` must already be escaped."""
    width = max(2.0, 100.0 * max(hit.score, 0.0) / max(best_score, 1e-9))
    title = html.escape(hit.title or hit.doc_id)
    where = f"chunk {hit.chunk + 1} of {hit.chunks}" if hit.chunks > 1 else "whole document"
    meta = ", ".join(
        f"{html.escape(str(k))}: {html.escape(_short(v))}" for k, v in hit.metadata.items()
    )
    why = " · " + score_details(hit)
    if sentence_score is not None:
        why += f" · highlighted sentence cosine {sentence_score:.3f}"
    card = (
        f'<div class="hit"><div class="head"><span class="rank">#{hit.rank}</span>'
        f'<span class="title">{title}</span><span class="score">{score_label(hit)}</span></div>'
        f'<div class="bar" style="width:{width:.0f}%"></div>'
        f'<div class="body">{body_html}</div>'
        f'<div class="meta">id {html.escape(hit.doc_id)} · {html.escape(hit.source)} · '
        f"{where}{why}{' · ' + meta if meta else ''}</div></div>"
    )
    # One line, so the card stays inert even under st.markdown; the body is pre-wrap, so the
    # character reference still shows as a line break.
    return one_line(card)


def score_label(hit: Any) -> str:
    """The number a card ranks by, named: ``fused 0.734``, ``cosine 0.612``, ``BM25 7.31``."""
    name = hit.score_name
    return f"{name} {hit.score:.3f}" if name != "BM25" else f"BM25 {bm25_text(hit.score)}"


def bm25_text(score: float) -> str:
    """A BM25 score with three significant digits (a common word's are small, never 0)."""
    return f"{score:.2f}" if score >= 1 else f"{score:.3g}"


def _rank(rank: int | None, pool: str) -> str:
    return f"rank {rank}" if rank is not None else f"not in its top {pool}"


def score_details(hit: Any) -> str:
    """Escaped text: each component score with its rank, and the fusion formula if fused."""
    if hit.score_name == "cosine":
        return f"cosine {hit.score:.3f} (rank {hit.rank})"
    terms = " + ".join(f"{html.escape(t.word)} {bm25_text(t.score)}" for t in hit.keyword_terms)
    if hit.score_name == "BM25":
        return f"BM25 {bm25_text(hit.score)} (rank {hit.rank})" + (f" = {terms}" if terms else "")
    where = ""
    if hit.keyword_chunk is not None and hit.keyword_chunk != hit.chunk:
        where = f" in chunk {hit.keyword_chunk + 1}"
    parts = [
        f"cosine {hit.dense_score:.3f} ({_rank(hit.dense_rank, '100 by meaning')})",
        f"BM25 {bm25_text(hit.keyword_score or 0.0)}{where} "
        f"({_rank(hit.keyword_rank, '100 by keywords')})",
        f"fused = {html.escape(hit.formula)}",
    ]
    return " · ".join(parts)


def why_label(hit: Any) -> str:
    """The title of a hit's explanation box: which number it splits."""
    if hit.score_name == "BM25":
        return f"Why #{hit.rank} matched: its BM25 {bm25_text(hit.score)}, split by query word"
    if hit.dense_chunk == hit.chunk:
        return f"Why #{hit.rank} matched: its cosine {hit.dense_score:.3f}, split word by word"
    return f"Why #{hit.rank} matched: the cosine of this passage, split word by word"


def bm25_why_html(hit: Any) -> str:
    """Escaped HTML splitting a hit's BM25 score into one addend per query word (exact)."""
    rows = "".join(
        f"<tr><td>{html.escape(t.word)}</td><td class='num'>{t.count}</td>"
        f"<td class='num'>{t.idf:.3f}</td><td class='num'>{bm25_text(t.score)}</td></tr>"
        for t in hit.keyword_terms
    )
    total = sum(t.score for t in hit.keyword_terms)
    return (
        f"{TABLE_CSS}<div class='why'><p style='margin:0 0 .3rem 0'>BM25 is a sum over the "
        "query's words, so the score splits exactly: each word adds idf × a term-frequency "
        "part that saturates with repeats and shrinks for long passages (k1 1.2, b 0.75; "
        "idf ln(1 + (N − n + 0.5)/(n + 0.5)) for a word in n of N passages). Matched words "
        "are in bold in the passage.</p><table class='lab-table'><thead><tr><th>word</th>"
        "<th>times</th><th>idf</th><th>adds</th></tr></thead>"
        f"<tbody>{rows}</tbody></table><p><b>Sum {bm25_text(total)}</b> = the BM25 score "
        "on the card.</p></div>"
    )


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "…"


# --- word pieces and their shares of a score --------------------------------------------------


def contributions_html(tokens: Sequence[str], contribs: Sequence[float]) -> str:
    """Each token shaded by its contribution (green adds, red takes away), the exact number
    on hover. Word pieces ("##ing") join the piece before them."""
    values = np.asarray(contribs, dtype=float)
    top = float(np.abs(values).max()) if len(values) else 1.0
    spans = []
    for index, (token, value) in enumerate(zip(tokens, values, strict=True)):
        alpha = 0.08 + 0.72 * abs(value) / max(top, 1e-12)
        rgb = "46,160,67" if value >= 0 else "220,53,69"
        piece = token[2:] if token.startswith("##") else token
        gap = "" if token.startswith("##") or index == 0 else " "
        extra = ' class="special"' if token in SPECIAL else ""
        spans.append(
            f'{gap}<span{extra} title="{html.escape(token, quote=True)}: {value:+.4f}" '
            f'style="background:rgba({rgb},{alpha:.2f});border-radius:3px;padding:0 1px">'
            f"{html.escape(piece, quote=True)}</span>"
        )
    return '<span class="contribs">' + "".join(spans) + "</span>"


def why_html(parts: Any) -> str:
    """One hit's token contributions (``Contributions`` from core.explain.contributions).

    The model averages its token vectors into the search vector, so the cosine splits exactly
    into one number per token; both rows below add up to the same score.
    """
    query = contributions_html(parts.query_tokens, parts.query_contribs)
    doc = contributions_html(parts.doc_tokens, parts.doc_contribs)
    pairs = zip(parts.doc_tokens, parts.doc_contribs, strict=True)
    top = sorted(((float(v), t) for t, v in pairs if t not in ("[CLS]", "[SEP]")), reverse=True)
    strongest = ", ".join(f"{html.escape(t)} {v:+.3f}" for v, t in top[:5])
    text = (
        '<div class="why"><p style="margin:0 0 .3rem 0">The model averages one vector per '
        "word piece into each text's vector, so the cosine "
        f"<b>{parts.score:.4f}</b> is exactly the sum of one share per piece (green adds, red "
        "takes away; hover for the number). Each row adds up to the score.</p>"
        f"<p><b>Query</b> (sum {float(parts.query_contribs.sum()):.4f}): {query}</p>"
        f'<p style="line-height:1.9"><b>Document</b> (sum {float(parts.doc_contribs.sum()):.4f})'
        f": {doc}</p><p><small>Strongest document pieces: {strongest}</small></p></div>"
    )
    return one_line(text)


def pieces_html(pieces: Sequence[str], ids: Sequence[int], marked: Sequence[int] = ()) -> str:
    """Each word piece in a box with its vocabulary id under it; the pieces at positions
    ``marked`` are highlighted."""
    boxes = []
    chosen = set(marked)
    for index, (piece, number) in enumerate(zip(pieces, ids, strict=True)):
        colour = "#fff3bf" if index in chosen else "#f6f8fa"
        boxes.append(
            f'<span style="display:inline-block;margin:2px;padding:1px 6px;border-radius:4px;'
            f'border:1px solid #d0d7de;background:{colour};text-align:center;line-height:1.2">'
            f"<code>{html.escape(piece, quote=True)}</code><br>"
            f'<small style="color:#57606a">{int(number)}</small></span>'
        )
    return '<div class="pieces">' + "".join(boxes) + "</div>"


def marked_html(text: str, start: int, end: int) -> str:
    """``text`` escaped, with ``text[start:end]`` in <b>."""
    parts = (text[:start], text[start:end], text[end:])
    return one_line(f"{html.escape(parts[0])}<b>{html.escape(parts[1])}</b>{html.escape(parts[2])}")


def list_html(title: str, items: Sequence[str]) -> str:
    """A bold ``title`` (escaped) over a bulleted list of ``items`` (already escaped HTML)."""
    rows = "".join(f"<li>{item}</li>" for item in items)
    return one_line(f'<div class="lab-list"><b>{html.escape(title)}</b><ul>{rows}</ul></div>')


# --- tables ----------------------------------------------------------------------------------

TABLE_CSS = (
    "<style>.lab-table{border-collapse:collapse;font-size:.9rem;margin:.3rem 0 .8rem 0}"
    ".lab-table th,.lab-table td{border-bottom:1px solid #e3e6ea;padding:.25rem .6rem;"
    "text-align:left;vertical-align:top}.lab-table td.num{text-align:right;"
    "font-family:monospace}</style>"
)


def html_table(frame: Any, formats: dict[str, str] | None = None) -> str:
    """A DataFrame as one line of escaped HTML (``<table class="lab-table">``).

    For tables of user text: st.table renders cells as Markdown (links, images, maths).
    ``formats`` maps a column to a format such as ``"{:.3f}"``.
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
    body = one_line("".join(rows))
    return (
        f'{TABLE_CSS}<table class="lab-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )
