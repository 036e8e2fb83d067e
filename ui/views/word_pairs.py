"""Which word matched which (Search page): a hit's cosine as a matrix over every pair of query
and document pieces, shaded, with the strongest pairs listed."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.errors import LabError
from ui import charts, components, resources

SHARE = {"share": "{:.4f}"}


def show(query: str, text: str, key: str) -> None:
    """The pair matrix of ``query`` against ``text`` (the hit's best chunk), on demand."""
    if not st.toggle("Which word matched which (every pair)", key=key):
        return
    try:
        pairs = resources.word_pairs(query, text)
    except LabError as exc:
        components.show_error(exc)
        return
    st.caption(
        f"Each cell is one (query piece, document piece) pair's share of the cosine; the "
        f"{pairs.matrix.size:,} cells sum to {pairs.score:.4f}, each row to the query piece's "
        "share above and each column to the document piece's."
    )
    st.altair_chart(
        charts.pair_chart(pairs.matrix, pairs.query_tokens, pairs.doc_tokens),
        key=f"{key}_chart",
    )
    top = pd.DataFrame(pairs.strongest(10), columns=["query piece", "document piece", "share"])
    components.show_table(top, SHARE)
