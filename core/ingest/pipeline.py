"""Documents -> chunks -> vectors -> a collection, in committed batches.

Each batch is one SQLite transaction, so a killed ingest loses at most the batch in flight;
running it again skips the documents already stored and carries on (no duplicates).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from core import config
from core.documents.chunking import chunk_texts
from core.documents.readers import Document, Problem
from core.model.embedder import Embedder
from core.storage.collection import Collection, check_writable

log = logging.getLogger(__name__)

IngestProgress = Callable[[int, int], None]
CHUNK_OVERLAP = 32


@dataclass
class IngestReport:
    """What an ingest did: counts, skipped documents and refused inputs."""

    added: int = 0
    chunks: int = 0
    already_present: int = 0
    duplicates: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        """One line a person can read."""
        parts = [f"added {self.added} documents ({self.chunks} chunks) in {self.seconds:.1f} s"]
        if self.already_present:
            parts.append(f"{self.already_present} already in the collection")
        if self.duplicates:
            parts.append(f"{len(self.duplicates)} exact duplicates skipped")
        if self.problems:
            parts.append(f"{len(self.problems)} inputs refused")
        return "; ".join(parts)


def ingest_documents(
    collection: Collection,
    embedder: Embedder,
    documents: Sequence[Document],
    progress: IngestProgress | None = None,
    batch_size: int = 1024,
) -> IngestReport:
    """Chunk, embed and store ``documents``; skip those already stored or duplicated.

    ``EMBEDLAB_INGEST_BATCH`` overrides ``batch_size`` (documents per committed batch).
    """
    check_writable(f"ingest into '{collection.name}'")
    batch_size = config.ingest_batch(batch_size)
    started = time.perf_counter()
    report = IngestReport()
    todo = select_new(collection, documents, report)
    done = 0
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        report.chunks += _ingest_batch(collection, embedder, batch)
        report.added += len(batch)
        done += len(batch)
        if progress:
            progress(done, len(todo))
    if todo or not (collection.path / "index.faiss").exists():
        collection.fit_index()
        collection.save_index()
    report.seconds = time.perf_counter() - started
    log.info("%s: %s", collection.name, report.summary())
    return report


def select_new(
    collection: Collection, documents: Sequence[Document], report: IngestReport
) -> list[Document]:
    """Drop documents already stored (same id) and exact duplicates (same text)."""
    ids = [d.doc_id for d in documents]
    hashes = [d.content_hash for d in documents]
    stored_ids, stored_hashes = collection.store.existing(ids, hashes)
    seen_ids, seen_hashes, keep = set(stored_ids), set(stored_hashes), []
    for doc, digest in zip(documents, hashes, strict=True):
        if doc.doc_id in stored_ids:
            report.already_present += 1
        elif doc.doc_id in seen_ids:
            report.problems.append(
                Problem(doc.source, f"id '{doc.doc_id}' appears twice with different text")
            )
        elif digest in seen_hashes:
            report.duplicates.append(doc.doc_id)
        else:
            keep.append(doc)
        seen_ids.add(doc.doc_id)
        seen_hashes.add(digest)
    return keep


def _ingest_batch(collection: Collection, embedder: Embedder, batch: list[Document]) -> int:
    window = embedder.max_tokens
    overlap = min(CHUNK_OVERLAP, window // 4)  # a small model's window must still move on
    chunks = chunk_texts([d.text for d in batch], embedder.tokenizer, window, overlap)
    texts = [c.text for doc_chunks in chunks for c in doc_chunks]
    vectors = embedder.encode_bulk(texts)
    collection.add_vectors(batch, chunks, vectors)
    return len(texts)
