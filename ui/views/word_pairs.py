"""Which word matched which (Search page): a hit's cosine as a matrix over every pair of query
and document words (word pieces merged: a word's share is the sum of its pieces'), of the
hit's best-matching chunk, shaded, with the strongest pairs listed."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.errors import LabError
from ui import charts, components, resources

SHARE = {"share": "{:.4f}"}


def show(query: str, text: str, key: str, encoder: str | None = None) -> None:
    """The pair matrix of ``query`` against ``text`` (the hit's best chunk), on demand."""
    if not st.toggle("Which word matched which (every pair)", key=key):
        return
    try:
        pairs = resources.word_pairs(query, text, encoder)
    except LabError as exc:
        components.show_error(exc)
        return
    st.caption(
        f"Each cell is one (query word, document word) pair's share of the cosine of the query "
        f"and the best-matching chunk; the {pairs.matrix.size:,} cells sum to "
        f"{pairs.score:.4f}, each row to the query word's share (its pieces' shares above, "
        "added) and each column to the document word's. Pieces of one word are merged."
    )
    st.altair_chart(
        charts.pair_chart(pairs.matrix, pairs.query_tokens, pairs.doc_tokens),
        key=f"{key}_chart",
        width="content",  # one 16-pixel column per word, not squeezed to the page
    )
    top = pd.DataFrame(pairs.strongest(10), columns=["query word", "document word", "share"])
    st.markdown("**The strongest pairs**")
    components.show_table(top, SHARE)
