"""What the AppTest modules share: one data dir per module, so the demo is built once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st


@pytest.fixture(scope="module")
def module_data_dir(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A data dir for the whole module; Streamlit's caches are cleared when it ends."""
    folder = tmp_path_factory.mktemp(request.module.__name__.rpartition(".")[2]) / "collections"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMBEDLAB_DATA_DIR", str(folder))
        yield folder
    st.cache_resource.clear()
    st.cache_data.clear()
