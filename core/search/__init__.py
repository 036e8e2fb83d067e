"""Query -> hits: dense, keyword (BM25) and hybrid ranking over a collection, one hit per document.

- ``hits``: :class:`Hit`, :class:`SearchResult`, ``best_per_document``;
- ``dense``: query vectors -> the FAISS index -> hits (``search_vectors``);
- ``bm25``: keyword ranking with SQLite FTS5;
- ``fusion``: the two rankings fused by scaled scores;
- ``query``: ``search``, the entry point pages and the command line call;
- ``highlight``: the sentence of a hit that matches best, and why (word-by-word shares).

May import the foundation, ``core.model``, ``core.documents`` and ``core.storage``; a sibling
of ``core.ingest``, which it never imports. Every ranking has a contract test against brute
force (``tests/contract``).
"""
