"""Named collections: a folder under the data dir with a SQLite store, a FAISS cache and a
JSON manifest naming the model, dimension, counts and format version.

SQLite is the source of truth. The FAISS file is rebuilt from SQLite's vectors whenever it
is missing, unreadable or written for an older generation of the database. In read-only mode
(``EMBEDLAB_READ_ONLY=1``) nothing is written: SQLite is opened read-only and a stale index is
rebuilt in memory only.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core import atomic, config
from core.documents.chunking import Chunk
from core.documents.readers import Document
from core.errors import CollectionError, ModelMismatchError
from core.model.embedder import ModelInfo
from core.storage.backend import STORES, ChunkStore
from core.storage.index import IndexStats, VectorIndex, choose_kind
from core.storage.milvus_store import MILVUS_FILE
from core.storage.store import Store

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DB_FILE, INDEX_FILE, INDEX_STATE, MANIFEST = (
    "store.sqlite",
    "index.faiss",
    "index.json",
    "manifest.json",
)


@dataclass(frozen=True)
class CollectionInfo:
    """A row of the collections list."""

    name: str
    documents: int
    chunks: int
    model: str
    dimension: int
    encoder: str
    index: str
    recall_at_10: float | None
    size_bytes: int
    updated_at: float
    path: str
    store: str = "embedded"

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return asdict(self)


@dataclass(frozen=True)
class Deleted:
    """What a delete removed: documents that were stored, and their chunks."""

    documents: int
    chunks: int


def validate_name(name: str) -> str:
    """Return ``name`` if it is a safe collection name.

    Raises:
        CollectionError: for names with slashes, dots-only, spaces or other characters.
    """
    name = (name or "").strip()
    if not NAME_RE.match(name) or ".." in name:
        raise CollectionError(
            f"'{name[:80]}' is not a valid collection name: use 1-64 letters, digits, '-', '_'"
            " or '.', starting with a letter or digit (no slashes, no '..')."
        )
    return name


def collection_path(name: str) -> Path:
    """The folder of collection ``name`` inside the data dir (never outside it)."""
    root = config.data_dir()
    path = (root / validate_name(name)).resolve()
    if path.parent != root:
        raise CollectionError(f"'{name}' would point outside the data folder.")
    return path


class ReadOnlyError(CollectionError):
    """A write refused because this deployment is read-only (``EMBEDLAB_READ_ONLY=1``)."""


def check_writable(action: str) -> None:
    """Refuse ``action`` (e.g. "delete documents") when the lab runs read-only.

    Raises:
        ReadOnlyError: if ``config.read_only()`` is set.
    """
    if config.read_only():
        raise ReadOnlyError(
            f"This Embedding Lab is read-only (EMBEDLAB_READ_ONLY=1), so it cannot {action}. "
            "Ask whoever runs it to add or delete documents, or unset EMBEDLAB_READ_ONLY."
        )


def exists(name: str) -> bool:
    """Whether collection ``name`` exists (invalid names do not)."""
    try:
        return has_store(collection_path(name))
    except CollectionError:
        return False


def has_store(path: Path) -> bool:
    """Whether ``path`` holds a collection: a SQLite store, or the record of a Milvus one."""
    return (path / DB_FILE).is_file() or (path / MILVUS_FILE).is_file()


def open_store(path: Path, store: str | None, dimension: int) -> ChunkStore:
    """The store of the collection at ``path``: the one it records, or a new one of kind
    ``store`` ("embedded", the default, or "milvus" at ``EMBEDLAB_MILVUS_URI``).

    Raises:
        CollectionError: for an unknown kind, a Milvus store without a server named, or a
            kind other than the one an existing collection lives in.
        sqlite3.DatabaseError: for a damaged SQLite store.
    """
    if store not in (None, *STORES):
        raise CollectionError(f"Unknown store '{store}'; use one of: {', '.join(STORES)}.")
    if (path / MILVUS_FILE).is_file() or (store == "milvus" and not (path / DB_FILE).is_file()):
        if store == "embedded":
            raise CollectionError(f"Collection '{path.name}' lives in Milvus, not embedded.")
        from core.storage.milvus_store import MilvusStore

        uri = config.milvus_uri()
        if uri is None and not (path / MILVUS_FILE).is_file():
            raise CollectionError(
                "A collection in Milvus needs a server: set EMBEDLAB_MILVUS_URI, e.g. "
                "http://127.0.0.1:19530 (a local one: milvus-lite server --data-dir DIR "
                "--port 19530)."
            )
        return MilvusStore(path, uri, dimension)
    if store == "milvus":
        raise CollectionError(f"Collection '{path.name}' lives in the embedded store.")
    return Store(path / DB_FILE, read_only=config.read_only())


STALE_TEMP_SECONDS = 600


def sweep_stale_temp_files(folder: Path) -> int:
    """Remove temp files (``.NAME.XXXX.tmp``) a killed writer left behind; return how many.

    Only files untouched for :data:`STALE_TEMP_SECONDS` go: a live writer in another process
    keeps its temp file's modification time fresh while it writes. Read-only mode leaves them.
    """
    if config.read_only():
        return 0
    removed = 0
    cutoff = time.time() - STALE_TEMP_SECONDS
    for path in folder.glob(".*.tmp"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except OSError:
            continue
    if removed:
        log.info("removed %d stale temp files from %s", removed, folder)
    return removed


class Collection:
    """An open collection: its store and its in-memory FAISS index."""

    def __init__(
        self, name: str, model: ModelInfo, create: bool = False, store: str | None = None
    ) -> None:
        """Open collection ``name`` for ``model``; create it when ``create`` is set.

        ``store`` chooses where a new collection lives ("embedded", the default, or
        "milvus"); an existing one opens in the store its folder records.

        Raises:
            CollectionError: if it does not exist (and ``create`` is false) or is damaged, or
                its Milvus server cannot be reached.
            ModelMismatchError: if it was built with another model.
        """
        self.name = validate_name(name)
        self.path = collection_path(name)
        if not has_store(self.path):
            if not create:
                raise CollectionError(
                    f"No collection named '{name}'. Create it by ingesting documents, e.g. "
                    f"python -m core ingest FILES --collection {name}"
                )
            check_writable(f"create the collection '{self.name}'")
            self.path.mkdir(parents=True, exist_ok=True)
        try:
            self.store: ChunkStore = open_store(self.path, store, model.dimension)
        except sqlite3.DatabaseError as exc:
            raise CollectionError(
                f"Collection '{name}' is damaged (its database cannot be read: {exc}). "
                f"Delete it and ingest the documents again."
            ) from None
        self.model = self._check_model(model)
        self._lock = threading.RLock()
        sweep_stale_temp_files(self.path)
        self.index = self._load_index()

    def _check_model(self, model: ModelInfo) -> ModelInfo:
        stored = self.store.get_meta("model")
        if stored is None and config.read_only():
            return model  # recorded by the first writable open, never by a read-only one
        if stored is None:
            self.store.set_meta(
                {"model": json.dumps(asdict(model)), "created_at": str(time.time())}
            )
            self.save_manifest()
            return model
        built = ModelInfo(**json.loads(stored))
        if (built.fingerprint, built.dimension) != (model.fingerprint, model.dimension):
            raise ModelMismatchError(
                f"Collection '{self.name}' was built with model '{built.label}' "
                f"({built.dimension} dimensions); the lab is running '{model.label}' "
                f"({model.dimension} dimensions). Its vectors cannot be compared. Set "
                f"EMBEDLAB_MODEL={built.name} to search it, or re-ingest into a new collection."
            )
        if built.encoder != model.encoder:
            raise ModelMismatchError(
                f"Collection '{self.name}' was built with the '{built.encoder}' encoder; the lab "
                f"is running '{model.encoder}'. Same weights, but the two encoders give slightly "
                "different vectors, so a collection is searched and extended with the encoder "
                f"that built it. Set EMBEDLAB_ENCODER={built.encoder} to use it, or re-ingest "
                "into a new collection."
            )
        return built

    def _load_index(self) -> VectorIndex:
        state_path, index_path = self.path / INDEX_STATE, self.path / INDEX_FILE
        generation = self.store.generation
        if self.store.kind == "milvus":
            return self._milvus_index(generation)
        try:
            state = json.loads(state_path.read_text())
            if state.get("generation") == generation:
                stats = IndexStats(**state["stats"]) if "stats" in state else None
                index = VectorIndex.load(index_path, self.model.dimension, stats)
                if len(index) == self.store.counts()[1]:
                    self._generation = generation
                    return index
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.info("rebuilding index of %s: %s", self.name, exc)
        return self.rebuild_index()

    def rebuild_index(self) -> VectorIndex:
        """Rebuild the FAISS index from the vectors in SQLite and save it.

        Read-only mode keeps the rebuilt index in memory and writes nothing.
        """
        generation = self.store.generation
        if self.store.kind == "milvus":
            return self._milvus_index(generation)
        ids, vectors = self.store.all_vectors(self.model.dimension)
        self.index = (
            VectorIndex.build(ids, vectors) if len(ids) else VectorIndex(self.model.dimension)
        )
        if config.read_only():
            log.warning(
                "index of %s is stale; rebuilt in memory only (read-only). Open it once "
                "without EMBEDLAB_READ_ONLY to save it.",
                self.name,
            )
        else:
            self.save_index()
        self._generation = generation
        return self.index

    def _milvus_index(self, generation: int) -> VectorIndex:
        """The Milvus collection's own exact index (nothing to load or rebuild here)."""
        from core.storage.milvus_index import MilvusIndex

        self._generation = generation
        self.index = MilvusIndex(self.store, self.model.dimension)  # type: ignore[assignment]
        return self.index

    def fit_index(self) -> None:
        """Fit the index to the collection after an ingest.

        Switch the kind when the size calls for it (or rebuild an IVF that outgrew its
        training 4x); otherwise re-tune an IVF's ``nprobe`` and re-measure its recall on the
        current contents, so the recall shown is the recall of what is stored. Saved either way.
        """
        if self.store.kind == "milvus":
            self.store.flush()  # seal the ingest into segments; Milvus indexes them
            return
        stats, count = self.index.stats, len(self.index)
        outgrown = stats.kind == "ivf-flat" and count > 4 * (stats.trained_on or count)
        if stats.kind != choose_kind(count) or outgrown:
            log.info("re-indexing %s (%d chunks) as %s", self.name, count, choose_kind(count))
            self.rebuild_index()
        elif stats.kind == "ivf-flat" and stats.measured_on != count:
            with self._lock:
                self.index.retune(*self.store.all_vectors(self.model.dimension))
                self.save_index()

    def refresh(self) -> None:
        """Reload the index if another process changed the collection since it was loaded."""
        if self.store.generation != self._generation:
            with self._lock:
                self.index = self._load_index()

    def save_index(self) -> None:
        """Write the FAISS file and its state atomically, then the manifest.

        Raises:
            ReadOnlyError: in read-only mode.
        """
        check_writable(f"save the index of '{self.name}'")
        if self.store.kind == "milvus":
            self._generation = self.store.generation
            self.save_manifest()
            return
        with self._lock:
            generation = self.store.generation
            self.index.save(self.path / INDEX_FILE)
            state = {
                "generation": generation,
                "count": len(self.index),
                "kind": self.index.kind,
                "stats": asdict(self.index.stats),
            }
            atomic.write_json(self.path / INDEX_STATE, state)
            self._generation = generation
            self.save_manifest()

    def save_manifest(self) -> None:
        """Write manifest.json: what a person or tool needs to know without opening SQLite.

        Raises:
            ReadOnlyError: in read-only mode.
        """
        check_writable(f"save the manifest of '{self.name}'")
        documents, chunks = self.store.counts()
        stored = json.loads(self.store.get_meta("model") or "{}")
        manifest = {
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "model": stored,
            "documents": documents,
            "chunks": chunks,
            "index": asdict(self.index.stats) if hasattr(self, "index") else {"kind": "flat-ip"},
            "updated_at": time.time(),
            "store": self.store.kind,
        }
        if self.store.kind == "milvus":
            manifest["milvus"] = {"uri": self.store.uri, "collection": self.store.name}
        atomic.write_json(self.path / MANIFEST, manifest)

    def add_vectors(
        self, docs: Sequence[Document], chunks: Sequence[Sequence[Chunk]], vectors: np.ndarray
    ) -> np.ndarray:
        """Store documents with their chunk vectors, then add them to the in-memory index.

        The FAISS file is written by :meth:`save_index` (once per ingest, not per batch);
        until then a reopened collection rebuilds the index from SQLite.
        """
        check_writable(f"add documents to '{self.name}'")
        with self._lock:
            chunk_ids = self.store.add(docs, chunks, vectors)
            self.index.add(chunk_ids, vectors)
            self._generation = self.store.generation
        return chunk_ids

    def delete_documents(self, doc_ids: list[str]) -> int:
        """Delete documents by id; return how many chunks went with them."""
        return self.remove_documents(doc_ids).chunks

    def remove_documents(self, doc_ids: list[str]) -> Deleted:
        """Delete documents by id; return how many documents and chunks really went."""
        check_writable(f"delete documents from '{self.name}'")
        with self._lock:
            documents, removed = self.store.delete(doc_ids)
            self.index.remove(removed)
            self._generation = self.store.generation
            self.save_index()
        return Deleted(documents, len(removed))

    def info(self) -> CollectionInfo:
        """Counts, model and size on disk."""
        return _info(self.name, self.path, self.store)


def _info(name: str, path: Path, store: ChunkStore) -> CollectionInfo:
    documents, chunks = store.counts()
    model = json.loads(store.get_meta("model") or "{}")
    try:
        state = json.loads((path / INDEX_STATE).read_text())
    except (OSError, ValueError):
        state = {}
    size = sum(p.stat().st_size for p in path.iterdir() if p.is_file())
    return CollectionInfo(
        name=name,
        documents=documents,
        chunks=chunks,
        model=model.get("label", "?"),
        dimension=int(model.get("dimension", 0)),
        encoder=model.get("encoder", "torch"),
        index=state.get("kind", "milvus-flat" if store.kind == "milvus" else "flat-ip"),
        recall_at_10=state.get("stats", {}).get("recall_at_10"),
        size_bytes=size,
        updated_at=max((p.stat().st_mtime for p in path.iterdir()), default=0.0),
        path=str(path),
        store=store.kind,
    )


def built_encoder(name: str) -> str | None:
    """The encoder that built collection ``name`` ("torch" or "onnx-int8"), read from its
    store; None if there is no such collection or it holds no vectors yet.

    A collection is searched, extended and explained with that encoder, whatever
    ``EMBEDLAB_ENCODER`` says: it names the encoder of new collections only.
    """
    path = collection_path(name)
    if (path / MILVUS_FILE).is_file():
        stored = json.loads((path / MILVUS_FILE).read_text()).get("meta", {}).get("model")
        return json.loads(stored).get("encoder", "torch") if stored else None
    if not (path / DB_FILE).is_file():
        return None
    store = Store(path / DB_FILE, read_only=config.read_only())
    try:
        stored = store.get_meta("model")
    finally:
        store.close()
    return json.loads(stored).get("encoder", "torch") if stored else None


def list_collections() -> list[CollectionInfo]:
    """Every collection in the data dir, by name. Damaged ones are logged and skipped."""
    out: list[CollectionInfo] = []
    root = config.data_dir()
    if not root.is_dir():  # read-only mode never creates it
        return out
    for path in sorted(root.iterdir()):
        if not has_store(path) or not NAME_RE.match(path.name):
            continue
        try:
            store = open_store(path, None, 0)
            out.append(_info(path.name, path, store))
            store.close()
        except Exception as exc:  # a damaged collection must not hide the others
            log.warning("cannot read collection %s: %s", path.name, exc)
    return out


def delete_collection(name: str) -> None:
    """Delete a collection: renamed away atomically first, then removed from disk.

    Raises:
        CollectionError: if there is no such collection.
    """
    path = collection_path(name)
    if not path.is_dir():
        raise CollectionError(f"No collection named '{name}'.")
    check_writable(f"delete the collection '{name}'")
    if (path / MILVUS_FILE).is_file():
        from core.storage.milvus_store import drop_recorded

        drop_recorded(path, config.milvus_uri())
    trash = path.with_name(f".deleted-{path.name}-{time.time_ns()}")
    path.rename(trash)
    atomic.fsync_dir(path.parent)
    shutil.rmtree(trash, ignore_errors=True)
