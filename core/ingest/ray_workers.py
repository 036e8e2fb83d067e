"""What runs inside Ray workers during ``ingest --engine ray``, and the rows that carry it.

- :func:`read_file_row`: one file -> one row (its documents as JSON, or the reason it was
  refused), read by the same reader as the single-process ingest (``read_path``);
- :class:`ChunkEncoder`: the actor class of the encoding stage. Each actor loads the model
  once, with the collection's encoder, and turns a batch of document texts into their
  chunks and vectors; it chunks too, since chunking needs the model's own tokenizer.

Rows hold only strings, ints and bytes (Arrow columns): documents and chunks as JSON, vectors
as raw float32 bytes, so values cross the object store unchanged. Nothing here imports Ray:
the functions are plain Python, run by Ray tasks and actors (see ``core.ingest.ray_engine``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.documents.chunking import Chunk
from core.documents.readers import Document, FieldSpec, read_path
from core.errors import ModelNotFoundError


def read_file_row(row: dict[str, Any], fields: FieldSpec) -> dict[str, Any]:
    """``{"file", "path", "name"}`` -> ``{"file", "documents" (JSON), "problem"}``."""
    documents, problem = read_path(Path(row["path"]), row["name"], fields)
    return {
        "file": row["file"],
        "documents": documents_to_json(documents),
        "problem": problem.reason if problem else "",
    }


def documents_to_json(documents: Sequence[Document]) -> str:
    """Documents as one JSON list (metadata serialised as the store serialises it)."""
    rows = [[d.doc_id, d.text, d.source, d.title, d.metadata] for d in documents]
    return json.dumps(rows, ensure_ascii=False, default=str)


def documents_from_json(text: str) -> list[Document]:
    """The inverse of :func:`documents_to_json`."""
    return [Document(i, t, s, title, meta) for i, t, s, title, meta in json.loads(text)]


def chunks_to_json(chunks: Sequence[Chunk]) -> str:
    """One document's chunks as a JSON list of ``[ordinal, start, end, text]``."""
    return json.dumps([[c.ordinal, c.start, c.end, c.text] for c in chunks], ensure_ascii=False)


def chunks_from_json(text: str) -> list[Chunk]:
    """The inverse of :func:`chunks_to_json`."""
    return [Chunk(o, s, e, t) for o, s, e, t in json.loads(text)]


def vectors_from_bytes(data: bytes, dimension: int) -> np.ndarray:
    """Raw float32 bytes -> (n, dimension) float32."""
    return np.frombuffer(data, dtype=np.float32).reshape(-1, dimension)


class ChunkEncoder:
    """The encoding stage's actor: the model loaded once per actor, then batch after batch of
    ``{"i", "text"}`` -> ``{"i", "chunks" (JSON), "vectors" (float32 bytes)}``."""

    def __init__(self, model: str, encoder: str, fingerprint: str, threads: int = 1) -> None:
        """Load ``model`` with ``encoder``, as the collection was built.

        Raises:
            ModelNotFoundError: if the model cannot be loaded here, or its weights differ from
                the driver's (``fingerprint``): its vectors would not match.
        """
        from core.ingest.pipeline import chunk_for  # the same chunking as a single process
        from core.model.embedder import Embedder

        self.embedder = Embedder(model, encoder=encoder, threads=threads)
        if self.embedder.fingerprint != fingerprint:
            raise ModelNotFoundError(
                f"A Ray worker loaded other weights for '{model}' than the driver (fingerprint "
                f"{self.embedder.fingerprint}, not {fingerprint}): install the same model on "
                "every node."
            )
        self.chunk_for = chunk_for

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Chunk and encode one batch of documents; one output row per input row."""
        texts = [str(t) for t in batch["text"]]
        chunks = self.chunk_for(self.embedder, texts)
        flat = [c.text for doc_chunks in chunks for c in doc_chunks]
        vectors = self.embedder.encode(flat) if flat else np.empty((0, 0), np.float32)
        out_chunks, out_vectors, at = [], [], 0
        for doc_chunks in chunks:
            out_chunks.append(chunks_to_json(doc_chunks))
            out_vectors.append(np.ascontiguousarray(vectors[at : at + len(doc_chunks)]).tobytes())
            at += len(doc_chunks)
        return {
            "i": np.asarray(batch["i"]),
            "chunks": np.array(out_chunks, dtype=object),
            "vectors": np.array(out_vectors, dtype=object),
        }
