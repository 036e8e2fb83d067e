"""Between the Streamlit pages and core: caches, widgets, every chart and HTML fragment.

- ``resources``: the only owner of ``st.cache_resource``/``st.cache_data`` (one model and one
  open collection per process, shared read-only by every session);
- ``components``: shared widgets (page setup, collection picker, URL state) and messages;
  user and document text reaches a Markdown element only through ``components.say``;
- ``markup``: pure string functions: escaped HTML fragments (hit cards, highlights, token
  contributions, word pieces, tables) and Markdown-inert text (``plain``);
- ``charts``: every Altair chart, pure functions (``maps`` for Explore and Words, ``layers``
  for the model's insides);
- ``views``: page sections that take values core computed and only draw them;
- ``causal_views``: the causal model's charts, tables and escaped HTML (Next token page).

Pages (``app.py``, ``pages/``) import this package and ``core``; ``ui`` imports ``core`` and
streamlit, never the pages, ``measure``, or torch/transformers/faiss/sklearn
(``tests/test_seam.py``). Core never draws: no Altair, no HTML (``tests/test_seam.py``).
"""
