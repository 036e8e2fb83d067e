"""The Search page restricted to a selection made on the Explore map (``?within=TOKEN``):
the link opens the selection's collection, the page says the search is restricted and offers
to clear it; Explore makes the link."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.errors import LabError
from core.storage import selections
from core.storage.collection import Collection
from ui import components, resources

PARAM = "within"
SEEN = "search_within_seen"  # the last selection token a link opened the page with


def adopt_url(picker_key: str) -> None:
    """Call before the collection picker: a new link with a selection opens its collection."""
    token, owner = st.query_params.get(PARAM), st.query_params.get("collection")
    if token and owner and st.session_state.get(SEEN) != token:
        st.session_state[SEEN] = token
        st.session_state[picker_key] = owner


def _clear() -> None:
    st.query_params.pop(PARAM, None)


def restriction(collection: Collection, name: str) -> np.ndarray | None:
    """Row ids of the documents the URL restricts the search to (None: the whole collection).

    Shows that the search is restricted and a button to clear it; a selection that does not
    resolve stops the page with its message and the same button.
    """
    token = st.query_params.get(PARAM)
    if not token:
        return None
    if st.query_params.get("collection", name) != name:  # another collection was picked
        _clear()
        return None
    try:
        within = selections.resolve(collection, token)
    except LabError as exc:
        components.show_error(exc)
        st.button("Search the whole collection", key="search_within_clear", on_click=_clear)
        st.stop()
    gone = f" ({within.missing:,} of them deleted since)" if within.missing else ""
    components.say(
        "info",
        f"Searching only within a selection of {within.documents:,} documents made on the "
        f"Explore map{gone}, not the whole collection.",
    )
    st.button("Search the whole collection", key="search_within_clear", on_click=_clear)
    return within.rows


def link(collection: Collection, name: str, chunk_ids: np.ndarray, query: str) -> None:
    """A link opening the Search page restricted to the documents of the selected chunks."""
    try:
        ids = tuple(int(i) for i in chunk_ids)
        token = resources.selection_token(name, collection.store.generation, ids)
    except LabError as exc:
        components.show_error(exc)
        return
    params = {"collection": name, PARAM: token, **({"q": query} if query.strip() else {})}
    st.page_link(
        "pages/1_Search.py",
        label="Open the Search page restricted to these documents",
        query_params=params,
    )
