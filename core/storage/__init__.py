"""Chunks and vectors on disk: a collection is a folder with a SQLite store and a FAISS cache.

- ``store``: :class:`Store`, the SQLite database (documents, chunks, float32 vectors, FTS5),
  the source of truth;
- ``index``: :class:`VectorIndex`, FAISS over chunk ids (exact while small, IVF tuned to a
  recall target past that), rebuilt from the store whenever missing or stale;
- ``collection``: named collections under the data dir, manifests, locks, atomic saves;
- ``export``: maps and vectors out (CSV, TensorFlow Embedding Projector TSV).

May import the foundation, ``core.model`` and ``core.documents``; never ``ingest``,
``search`` or anything above.
"""
