"""The two built-in collections: the demo passages in ``data/demo`` and the docstrings of
the installed Python standard library. Each is built once and rebuilt only when its source
changes (a content hash is kept in the collection)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from pathlib import Path

from core import config
from core.documents.readers import Document, FieldSpec, load_paths
from core.errors import InputError
from core.ingest.pipeline import IngestProgress, IngestReport, ingest_documents
from core.ingest.stdlib_docs import iter_stdlib_entries
from core.model.embedder import Embedder
from core.storage.collection import Collection, exists

log = logging.getLogger(__name__)

DEMO_FIELDS = FieldSpec(text_fields=("text",), id_field="id")


def demo_documents() -> list[Document]:
    """The demo passages (id, topic, title, text) from ``data/demo``.

    Raises:
        InputError: if the demo files are missing or unreadable.
    """
    loaded = load_paths([config.DEMO_SOURCE_DIR], DEMO_FIELDS)
    if loaded.problems or not loaded.documents:
        reasons = "; ".join(f"{p.source}: {p.reason}" for p in loaded.problems) or "no files"
        raise InputError(f"The demo files in {config.DEMO_SOURCE_DIR} cannot be read: {reasons}")
    root = config.PROJECT_ROOT
    return [
        replace(d, source=Path(d.source).relative_to(root).as_posix()) for d in loaded.documents
    ]


def stdlib_documents() -> list[Document]:
    """One document per documented module, class, function and method of the stdlib."""
    return [
        Document(
            doc_id=entry.id,
            text=entry.text,
            source=entry.path,
            title=entry.title,
            metadata={"module": entry.module, "kind": entry.kind},
        )
        for entry in iter_stdlib_entries()
    ]


def ensure_demo(embedder: Embedder, progress: IngestProgress | None = None) -> IngestReport | None:
    """Build the demo collection unless it is already current; return the report if built."""
    return _ensure(config.DEMO_COLLECTION, embedder, demo_documents(), progress)


def build_stdlib(embedder: Embedder, progress: IngestProgress | None = None) -> IngestReport | None:
    """Build the Python standard library collection unless it is already current."""
    return _ensure(config.STDLIB_COLLECTION, embedder, stdlib_documents(), progress)


def is_current(name: str, embedder: Embedder, documents: list[Document]) -> bool:
    """Whether collection ``name`` exists and was built from exactly ``documents``."""
    if not exists(name):
        return False
    collection = Collection(name, embedder.info)
    return collection.store.get_meta("source_hash") == source_hash(documents)


def source_hash(documents: list[Document]) -> str:
    """A hash over the ids and texts of ``documents``."""
    digest = hashlib.sha256()
    for doc in documents:
        digest.update(doc.doc_id.encode() + b"\0" + doc.content_hash.encode() + b"\0")
    return digest.hexdigest()[:32]


def _ensure(
    name: str, embedder: Embedder, documents: list[Document], progress: IngestProgress | None
) -> IngestReport | None:
    digest = source_hash(documents)
    collection = Collection(name, embedder.info, create=True)
    if collection.store.get_meta("source_hash") == digest:
        return None
    wanted = {d.doc_id: d.content_hash for d in documents}
    stale = [i for i, h in _stored_hashes(collection).items() if wanted.get(i) != h]
    if stale:
        collection.delete_documents(sorted(stale))
    report = ingest_documents(collection, embedder, documents, progress)
    collection.store.set_meta({"source_hash": digest})
    log.info("built %s: %s", name, report.summary())
    return report


def _stored_hashes(collection: Collection) -> dict[str, str]:
    return collection.store.doc_hashes()
