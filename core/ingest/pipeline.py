"""Documents -> chunks -> vectors -> a collection, in committed batches.

Each batch is one SQLite transaction, so a killed ingest loses at most the batch in flight;
running it again skips the documents already stored and carries on (no duplicates).

Ids: a document whose id is already taken, in the collection or earlier in the same ingest,
by a document with different text (two uploads both named ``notes.txt``) is kept under the
first free id ``notes.txt (2)``, ``notes.txt (3)``, ... and the report lists it; the same text
under the same id is already in the collection, and the same text under another id an exact
duplicate (both skipped). An ingest of more than ``LIMITS.max_documents_per_ingest``
documents is refused before anything is written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from core import config
from core.documents.chunking import Chunk, chunk_texts
from core.documents.readers import Document, Problem, check_document_count
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
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (id asked for, id given)

    def summary(self) -> str:
        """One line a person can read."""
        parts = [f"added {self.added} documents ({self.chunks} chunks) in {self.seconds:.1f} s"]
        if self.already_present:
            parts.append(f"{self.already_present} already in the collection")
        if self.duplicates:
            parts.append(f"{len(self.duplicates)} exact duplicates skipped")
        if self.renamed:
            shown = ", ".join(f"{old!r} as {new!r}" for old, new in self.renamed[:5])
            more = f" and {len(self.renamed) - 5} more" if len(self.renamed) > 5 else ""
            parts.append(
                f"{len(self.renamed)} kept under a new id, their id being taken by a different "
                f"document: {shown}{more}"
            )
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

    Raises:
        ReadOnlyError: in read-only mode.
        InputError: for more documents than one ingest may add (nothing is written).
    """
    started = time.perf_counter()
    report, todo, batch_size = start_ingest(collection, documents, batch_size)
    done = 0
    if progress and todo:
        progress(0, len(todo))  # embedding starts now (a bar's rate counts from here)
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        report.chunks += _ingest_batch(collection, embedder, batch)
        report.added += len(batch)
        done += len(batch)
        if progress:
            progress(done, len(todo))
    return finish_ingest(collection, report, started)


def start_ingest(
    collection: Collection, documents: Sequence[Document], batch_size: int
) -> tuple[IngestReport, list[Document], int]:
    """What every ingest engine does first: refuse a read-only lab or too many documents,
    pick the documents to store (:func:`select_new`) and the batch size.

    Returns:
        The report so far, the documents to store, documents per committed batch.
    """
    check_writable(f"ingest into '{collection.name}'")
    check_document_count(len(documents))
    report = IngestReport()
    todo = select_new(collection, documents, report)
    return report, todo, config.ingest_batch(batch_size)


def finish_ingest(collection: Collection, report: IngestReport, started: float) -> IngestReport:
    """What every ingest engine does last: fit and save the index, time and log the report."""
    if report.added or not (collection.path / "index.faiss").exists():
        collection.fit_index()
        collection.save_index()
    report.seconds = time.perf_counter() - started
    log.info("%s: %s", collection.name, report.summary())
    return report


def select_new(
    collection: Collection, documents: Sequence[Document], report: IngestReport
) -> list[Document]:
    """The documents to store: those already stored (same id, same text), exact duplicates
    (same text) and those without an id are left out; a different text under a taken id
    gets a new id. Each is counted in ``report``."""
    hashes = [d.content_hash for d in documents]
    stored = collection.store.hashes_of([d.doc_id for d in documents])  # id -> hash
    _, stored_hashes = collection.store.existing([], hashes)
    taken, seen_hashes, keep = set(stored), set(stored_hashes), []
    for doc, digest in zip(documents, hashes, strict=True):
        if not doc.doc_id.strip():
            report.problems.append(Problem(doc.source, "a document has an empty id"))
            continue
        if stored.get(doc.doc_id) == digest:
            report.already_present += 1
        elif digest in seen_hashes:
            report.duplicates.append(doc.doc_id)
        else:
            if doc.doc_id in taken:
                new_id = free_id(collection, doc.doc_id, taken)
                report.renamed.append((doc.doc_id, new_id))
                doc = replace(doc, doc_id=new_id)
            keep.append(doc)
            taken.add(doc.doc_id)
        seen_hashes.add(digest)
    return keep


def free_id(collection: Collection, doc_id: str, taken: set[str]) -> str:
    """The first of ``doc_id (2)``, ``doc_id (3)``, ... neither in ``taken`` nor stored."""
    number = 2
    while True:
        candidate = f"{doc_id} ({number})"
        if candidate not in taken and not collection.store.hashes_of([candidate]):
            return candidate
        number += 1


def chunk_for(embedder: Embedder, texts: Sequence[str]) -> list[list[Chunk]]:
    """Each text's chunks, cut to ``embedder``'s window (the one chunking every engine uses)."""
    window = embedder.max_tokens
    overlap = min(CHUNK_OVERLAP, window // 4)  # a small model's window must still move on
    return chunk_texts(texts, embedder.text_tokenizer, window, overlap)


def _ingest_batch(collection: Collection, embedder: Embedder, batch: list[Document]) -> int:
    chunks = chunk_for(embedder, [d.text for d in batch])
    texts = [c.text for doc_chunks in chunks for c in doc_chunks]
    vectors = embedder.encode_bulk(texts)
    collection.add_vectors(batch, chunks, vectors)
    return len(texts)
