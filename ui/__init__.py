"""Between the Streamlit pages and core: caches, widgets, every chart and HTML fragment.

- ``resources``: the only owner of ``st.cache_resource``/``st.cache_data`` (one model and one
  open collection per process, shared read-only by every session);
- ``components``: shared widgets and the HTML the pages show (user text always escaped);
- ``charts``: core's results -> Altair charts, pure functions.

Pages (``app.py``, ``pages/``) import this package and ``core``; ``ui`` imports ``core`` and
streamlit, never the pages, ``measure``, or torch/transformers/faiss/sklearn
(``tests/test_seam.py``).
"""
