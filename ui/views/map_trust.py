"""How far to trust a map, beside it: three figures, what they mean, and the recall shading."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.explain.map_trust import MapTrust
from ui import charts, components, resources

OPTION = "neighbour recall"  # the Explore page's colour option that shades by it


def measure(name: str, generation: int, method: str, seed: int) -> MapTrust | None:
    """The map's trust figures (cached per map), with a spinner while they are computed."""
    with st.spinner("Checking how well the map keeps neighbours…"):
        return resources.map_trust(name, generation, method, seed)


def show(trust: MapTrust | None) -> None:
    """Trustworthiness, continuity and neighbour recall, and a sentence on what they mean."""
    st.markdown("**How far to trust this map**")
    if trust is None:
        st.caption("Too few points to measure how well the map keeps neighbours.")
        return
    st.metric(f"Neighbour recall@{trust.k}", f"{trust.recall:.0%}", help="neighbours kept")
    c1, c2 = st.columns(2)
    c1.metric("Trustworthiness", f"{trust.trustworthiness:.2f}", help="close here, close truly")
    c2.metric("Continuity", f"{trust.continuity:.2f}", help="close truly, close here")
    components.say("caption", trust.summary)
    if trust.sampled:
        st.caption(f"Measured on a seeded sample of {len(trust.rows):,} of {trust.total:,} points.")


def shade(table: pd.DataFrame, trust: MapTrust | None) -> pd.DataFrame:
    """The measured points of ``table`` with their neighbour recall in :data:`charts.RECALL`.

    Args:
        table: the map's points, one row per projected chunk, in the projection's order.
        trust: the figures of that map (None: nothing to shade; the table is returned bare).
    """
    if trust is None:
        return table
    measured = table.iloc[trust.rows]
    if trust.sampled:
        st.caption(
            f"Shading the {len(measured):,} measured points by neighbour recall: red where the "
            "map lost a point's true neighbours, green where it kept them."
        )
    return measured.assign(**{charts.RECALL: trust.point_recall})
