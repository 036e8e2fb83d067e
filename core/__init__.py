"""Embedding Lab's product: files -> documents -> chunks -> vectors -> index -> hits.

Everything that thinks lives here, in one package per layer; each may import only the layers
below it (``tests/test_layering.py`` checks every import, lazy ones too, and finds cycles):

- ``config``, ``errors``, ``atomic``: the foundation (settings from ``EMBEDLAB_*``, read only
  in ``config``; the error hierarchy; atomic file writes);
- ``model``, ``documents``: texts -> vectors; files -> documents -> chunks;
- ``storage``: SQLite store, FAISS index, collections, export;
- ``ingest`` and ``search``: siblings over storage (neither imports the other);
- ``explain``: the teaching views (attention, context, word sense, maps);
- ``cli_tools`` < ``cli`` < ``__main__``: the user commands, ``python -m core ...``.

Core never imports streamlit, ``ui`` or ``measure``: the web app and the measurements are
built on it, never the other way round.
"""
