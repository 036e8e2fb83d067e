"""The store interface: what a collection's chunk store provides, whichever engine holds it.

Two stores implement it: :class:`core.storage.store.Store` (SQLite + FTS5 on disk, with a FAISS
index beside it: the embedded default) and :class:`core.storage.milvus_store.MilvusStore` (one
Milvus collection holding chunks, metadata, vectors and Milvus's BM25 full-text function).
Ingest writes through :meth:`ChunkStore.add`; search, filters, deletes, Explore, export and
the explanations read through the rest. The keyword ranking differs by engine (FTS5's BM25
with Porter stemming, or Milvus's BM25 over its standard analyzer); see :mod:`core.search.bm25`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from core.documents.chunking import Chunk
from core.documents.readers import Document
from core.storage.store import ChunkRow

STORES = ("embedded", "milvus")


@runtime_checkable
class ChunkStore(Protocol):
    """Documents, chunks (text, span, metadata, float32 vector) and a generation counter."""

    kind: str  # "embedded" or "milvus"

    @property
    def generation(self) -> int:
        """A number that grows with every committed write."""

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        """One stored setting (model identity, creation time, source hash)."""

    def set_meta(self, values: dict[str, str]) -> None:
        """Store settings (the vectors' generation is unchanged)."""

    def counts(self) -> tuple[int, int]:
        """(documents, chunks)."""

    def existing(self, doc_ids: Sequence[str], hashes: Sequence[str]) -> tuple[set, set]:
        """Which of ``doc_ids`` and which content ``hashes`` are stored."""

    def hashes_of(self, doc_ids: Sequence[str]) -> dict[str, str]:
        """Content hash of each stored one of ``doc_ids``."""

    def doc_hashes(self) -> dict[str, str]:
        """Every stored document id with its content hash."""

    def add(
        self, docs: Sequence[Document], chunks: Sequence[Sequence[Chunk]], vectors: np.ndarray
    ) -> np.ndarray:
        """Store documents, their chunks and one vector per chunk; return the chunk ids."""

    def delete(self, doc_ids: Sequence[str]) -> tuple[int, np.ndarray]:
        """Delete documents; return (documents deleted, removed chunk ids)."""

    def chunk_ids(self) -> np.ndarray:
        """Every chunk id, ascending."""

    def all_vectors(self, dimension: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids ascending, vectors (n, dimension))."""

    def vectors_for(self, chunk_ids: Sequence[int], dimension: int) -> np.ndarray:
        """Vectors of the given chunks, in the given order."""

    def document_vectors(
        self, doc_ids: Sequence[str], dimension: int
    ) -> tuple[list[str], list[int], np.ndarray]:
        """Every chunk of the given documents: (document id, ordinal, vector) columns."""

    def chunk_rows(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRow]:
        """Chunks with their documents, by chunk id."""

    def chunk_texts(self, chunk_ids: Sequence[int]) -> dict[int, str]:
        """Chunk id -> text."""

    def chunk_id_of(self, doc_id: str, ordinal: int) -> int | None:
        """The id of chunk ``ordinal`` of ``doc_id`` (None if absent)."""

    def chunk_doc_ids(self) -> tuple[np.ndarray, np.ndarray]:
        """(every chunk id ascending, its document id)."""

    def chunk_ids_where(self, field: str, value: str) -> np.ndarray:
        """Chunk ids of documents whose metadata ``field`` equals ``value`` (as text)."""

    def document_rows(self, chunk_ids: Sequence[int]) -> np.ndarray:
        """Sorted row ids of the documents holding ``chunk_ids`` (a selection's documents)."""

    def document_names(self, rows: Sequence[int]) -> list[str]:
        """The ``doc_id`` of the documents with these row ids, in row order."""

    def rows_of_documents(self, doc_ids: Sequence[str]) -> np.ndarray:
        """Sorted row ids of the stored documents among ``doc_ids``."""

    def chunk_ids_of_documents(self, rows: Sequence[int]) -> np.ndarray:
        """Sorted chunk ids of the documents with these row ids."""

    def metadata_fields(self, limit: int = 2000) -> dict[str, list[str]]:
        """Metadata fields with a few distinct values (filter menus)."""

    def metadata_keys(self) -> list[str]:
        """Every metadata key, in first-seen order."""

    def documents(self, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """A page of documents: id, title, source, characters, chunks, metadata."""

    def stored_documents(
        self, doc_ids: Sequence[str]
    ) -> tuple[list[Document], list[list[Chunk]], list[int]]:
        """The documents, their chunks and the chunk ids, to copy them elsewhere."""

    def word_chunks(self, word: str) -> Iterator[tuple[int, str, int, str, str]]:
        """(chunk id, text, start, doc id, title) of chunks holding ``word`` as a token."""

    def close(self) -> None:
        """Release connections."""
