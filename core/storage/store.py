"""The document store: one SQLite database per collection, the source of truth.

Tables: ``documents`` (id, text, source, metadata as JSON), ``chunks`` (span, text and the
float32 vector as a blob) and ``chunks_fts`` (an FTS5 index of chunk text for keyword search).
A ``meta`` table holds the model identity and a generation counter that every write bumps,
so a FAISS file written for an older generation is known to be stale.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.documents.chunking import Chunk
from core.documents.readers import Document

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    content_hash TEXT NOT NULL,
    added_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_hash ON documents(content_hash);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    doc INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    text TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, content='chunks', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
"""


FILTER_CACHE = 16


@dataclass(frozen=True)
class ChunkRow:
    """A stored chunk joined with its document."""

    chunk_id: int
    ordinal: int
    start: int
    end: int
    text: str
    doc_id: str
    source: str
    title: str
    metadata: dict[str, Any]
    chunk_count: int


class Store:
    """A collection's SQLite database. Safe to share between threads."""

    kind = "embedded"

    def __init__(self, path: Path, read_only: bool = False) -> None:
        """Open (creating if needed) the database at ``path``.

        ``read_only`` opens it without ever writing: no schema, no journal mode, no
        ``-wal``/``-shm`` files (see :meth:`_open_read_only`); a write raises
        ``sqlite3.OperationalError``.
        """
        self.path = Path(path)
        self.read_only = read_only
        self._local = threading.local()
        self._filters: dict[tuple[int, str, str], np.ndarray] = {}
        self.write_lock = threading.RLock()
        with self.write_lock:
            if read_only:
                self._connect().execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            else:
                self._connect().executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            if self.read_only:
                db = self._open_read_only()
            else:
                db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
        return db

    def _open_read_only(self) -> sqlite3.Connection:
        """A connection that writes nothing, not even SQLite's ``-wal`` and ``-shm`` files.

        A WAL-mode database opened with ``mode=ro`` still creates (and leaves) both files,
        and fails on an unwritable folder without them. When the write-ahead log is absent
        or empty, every commit is in the database file, so ``immutable=1`` reads it with no
        side files and no locks (nothing writes a read-only deployment's data while it
        runs). A log still holding commits (a writer killed before its checkpoint) is read
        with ``mode=ro``, which needs those side files.
        """
        wal = self.path.with_name(self.path.name + "-wal")
        pending = wal.is_file() and wal.stat().st_size > 0
        if not self.path.is_file():
            raise sqlite3.OperationalError(f"no database file at {self.path}")
        uri = self.path.resolve().as_uri() + ("?mode=ro" if pending else "?mode=ro&immutable=1")
        return sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None)

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's connection (autocommit; use :meth:`transaction` to write)."""
        return self._connect()

    @contextmanager
    def transaction(self, bump: bool = True) -> Iterator[sqlite3.Connection]:
        """A write transaction, all or nothing; ``bump`` marks the vectors as changed."""
        with self.write_lock:
            db = self._connect()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                if bump:
                    db.execute(
                        "INSERT INTO meta(key, value) VALUES('generation', '1') ON CONFLICT(key) "
                        "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        """Close this thread's connection."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        """Read one ``meta`` value."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, values: dict[str, str]) -> None:
        """Write ``meta`` values in one transaction (the vectors' generation is unchanged)."""
        with self.transaction(bump=False) as db:
            db.executemany(
                "INSERT INTO meta(key, value) VALUES(?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                list(values.items()),
            )

    @property
    def generation(self) -> int:
        """A number that grows with every committed write."""
        return int(self.get_meta("generation", "0") or 0)

    def counts(self) -> tuple[int, int]:
        """Return (documents, chunks)."""
        docs = self.db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        chunks = self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return int(docs), int(chunks)

    def existing(self, doc_ids: Sequence[str], hashes: Sequence[str]) -> tuple[set, set]:
        """Return which of ``doc_ids`` and which content ``hashes`` are already stored."""
        ids, found_hashes = set(), set()
        for start in range(0, max(len(doc_ids), len(hashes)), 500):
            part = list(doc_ids[start : start + 500])
            marks = ",".join("?" * len(part))
            if part:
                sql = f"SELECT doc_id FROM documents WHERE doc_id IN ({marks})"
                ids.update(r[0] for r in self.db.execute(sql, part))
            part = list(hashes[start : start + 500])
            marks = ",".join("?" * len(part))
            if part:
                sql = f"SELECT content_hash FROM documents WHERE content_hash IN ({marks})"
                found_hashes.update(r[0] for r in self.db.execute(sql, part))
        return ids, found_hashes

    def hashes_of(self, doc_ids: Sequence[str]) -> dict[str, str]:
        """The content hash of each of ``doc_ids`` that is stored, by id."""
        found: dict[str, str] = {}
        for start in range(0, len(doc_ids), 500):
            part = list(doc_ids[start : start + 500])
            marks = ",".join("?" * len(part))
            sql = f"SELECT doc_id, content_hash FROM documents WHERE doc_id IN ({marks})"
            found.update(self.db.execute(sql, part).fetchall())
        return found

    def add(
        self, docs: Sequence[Document], chunks: Sequence[Sequence[Chunk]], vectors: np.ndarray
    ) -> np.ndarray:
        """Store documents, their chunks and one vector per chunk (in order); return chunk ids."""
        chunk_ids: list[int] = []
        now = time.time()
        with self.transaction() as db:
            for doc, doc_chunks in zip(docs, chunks, strict=True):
                doc_row = db.execute(
                    "INSERT INTO documents(doc_id, source, title, text, metadata, content_hash,"
                    " added_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        doc.doc_id,
                        doc.source,
                        doc.title,
                        doc.text,
                        _json(doc.metadata),
                        doc.content_hash,
                        now,
                    ),
                ).lastrowid
                for chunk in doc_chunks:
                    vector = vectors[len(chunk_ids)]
                    chunk_ids.append(
                        db.execute(
                            "INSERT INTO chunks(doc, ordinal, start, end, text, vector)"
                            " VALUES (?, ?, ?, ?, ?, ?)",
                            (
                                doc_row,
                                chunk.ordinal,
                                chunk.start,
                                chunk.end,
                                chunk.text,
                                np.asarray(vector, dtype=np.float32).tobytes(),
                            ),
                        ).lastrowid
                    )
        return np.asarray(chunk_ids, dtype=np.int64)

    def delete(self, doc_ids: Sequence[str]) -> tuple[int, np.ndarray]:
        """Delete documents (and their chunks); return (documents deleted, removed chunk ids).

        Ids that are not stored (or repeated) count once at most: the count is what went.
        """
        removed: list[int] = []
        documents = 0
        with self.transaction() as db:
            for doc_id in doc_ids:
                rows = db.execute(
                    "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc WHERE d.doc_id = ?",
                    (doc_id,),
                ).fetchall()
                removed.extend(r[0] for r in rows)
                cursor = db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
                documents += max(cursor.rowcount, 0)
        return documents, np.asarray(removed, dtype=np.int64)

    def all_vectors(self, dimension: int) -> tuple[np.ndarray, np.ndarray]:
        """Read every (chunk id, vector) back, e.g. to rebuild the FAISS index."""
        rows = self.db.execute("SELECT id, vector FROM chunks ORDER BY id").fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
        return ids, vectors.reshape(len(rows), dimension)

    def vectors_for(self, chunk_ids: Sequence[int], dimension: int) -> np.ndarray:
        """Vectors of the given chunks, in the given order."""
        found = dict(self._in_query("SELECT id, vector FROM chunks WHERE id IN ({})", chunk_ids))
        rows = [np.frombuffer(found[int(i)], dtype=np.float32) for i in chunk_ids]
        return np.stack(rows) if rows else np.empty((0, dimension), np.float32)

    def document_vectors(
        self, doc_ids: Sequence[str], dimension: int
    ) -> tuple[list[str], list[int], np.ndarray]:
        """Every chunk of the given documents: (document id, chunk ordinal, vector) columns."""
        owners: list[str] = []
        ordinals: list[int] = []
        blobs: list[bytes] = []
        doc_ids = list(doc_ids)
        for start in range(0, len(doc_ids), 500):
            part = doc_ids[start : start + 500]
            rows = self.db.execute(
                "SELECT d.doc_id, c.ordinal, c.vector FROM chunks c JOIN documents d"
                f" ON d.id = c.doc WHERE d.doc_id IN ({','.join('?' * len(part))})",
                part,
            ).fetchall()
            for doc_id, ordinal, blob in rows:
                owners.append(doc_id)
                ordinals.append(ordinal)
                blobs.append(blob)
        vectors = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dimension)
        return owners, ordinals, vectors

    def chunk_rows(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRow]:
        """Fetch chunks with their documents, keyed by chunk id."""
        sql = (
            "SELECT c.id, c.ordinal, c.start, c.end, c.text, d.doc_id, d.source, d.title,"
            " d.metadata, (SELECT COUNT(*) FROM chunks c2 WHERE c2.doc = d.id)"
            " FROM chunks c JOIN documents d ON d.id = c.doc WHERE c.id IN ({})"
        )
        rows = self._in_query(sql, chunk_ids)
        return {r[0]: ChunkRow(*r[:8], json.loads(r[8]), r[9]) for r in rows}

    def chunk_ids_where(self, field: str, value: str) -> np.ndarray:
        """Chunk ids of documents whose metadata ``field`` equals ``value`` as Python text.

        Values compare as :meth:`metadata_fields` shows them (``str(value)``, so ``True`` for a
        JSON true; see :func:`filter_sql`), and any field name works (``json_each`` needs no
        path quoting). The filter reads every document's JSON (about 1 s per million
        documents), so the last :data:`FILTER_CACHE` answers are kept until the next write.
        """
        key = (self.generation, str(field), str(value))
        cached = self._filters.get(key)
        if cached is not None:
            return cached
        condition, params = filter_sql(field, value)
        rows = self.db.execute(
            f"SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc WHERE {condition}",
            params,
        ).fetchall()
        ids = np.asarray([r[0] for r in rows], dtype=np.int64)
        ids.setflags(write=False)
        while len(self._filters) >= FILTER_CACHE:
            self._filters.pop(next(iter(self._filters)), None)
        self._filters[key] = ids
        return ids

    def document_rows(self, chunk_ids: Sequence[int]) -> np.ndarray:
        """Sorted row ids of the documents holding ``chunk_ids``."""
        found = self.db.execute(
            "SELECT DISTINCT doc FROM chunks WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps([int(i) for i in chunk_ids]),),
        ).fetchall()
        return np.sort(np.asarray([r[0] for r in found], dtype=np.int64))

    def document_names(self, rows: Sequence[int]) -> list[str]:
        """The ``doc_id`` of the documents with these row ids, in row order."""
        found = self.db.execute(
            "SELECT doc_id FROM documents WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
            (json.dumps([int(r) for r in rows]),),
        ).fetchall()
        return [r[0] for r in found]

    def rows_of_documents(self, doc_ids: Sequence[str]) -> np.ndarray:
        """Sorted row ids of the stored documents among ``doc_ids``."""
        found = self.db.execute(
            "SELECT id FROM documents WHERE doc_id IN (SELECT value FROM json_each(?)) ORDER BY id",
            (json.dumps(list(doc_ids)),),
        ).fetchall()
        return np.asarray([r[0] for r in found], dtype=np.int64)

    def chunk_ids_of_documents(self, rows: Sequence[int]) -> np.ndarray:
        """Sorted chunk ids of the documents with these row ids."""
        found = self.db.execute(
            "SELECT id FROM chunks WHERE doc IN (SELECT value FROM json_each(?)) ORDER BY id",
            (json.dumps([int(r) for r in rows]),),
        ).fetchall()
        return np.asarray([r[0] for r in found], dtype=np.int64)

    def metadata_fields(self, limit: int = 2000) -> dict[str, list[str]]:
        """Metadata fields with a few of their distinct scalar values (for filter menus)."""
        values: dict[str, set[str]] = {}
        sql = "SELECT metadata FROM documents LIMIT ?"
        for (raw,) in self.db.execute(sql, (limit,)):
            for key, value in json.loads(raw).items():
                if isinstance(value, (str, int, float, bool)) and len(str(value)) <= 80:
                    values.setdefault(str(key), set()).add(str(value))
        return {k: sorted(v)[:200] for k, v in sorted(values.items())}

    def documents(self, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """A page of documents for listing: id, title, source, length, chunks."""
        rows = self.db.execute(
            "SELECT d.doc_id, d.title, d.source, length(d.text),"
            " (SELECT COUNT(*) FROM chunks c WHERE c.doc = d.id), d.metadata"
            " FROM documents d ORDER BY d.id LIMIT ? OFFSET ?",
            (limit, offset),
        ).fetchall()
        keys = ("doc_id", "title", "source", "characters", "chunks", "metadata")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def doc_hashes(self) -> dict[str, str]:
        """Every stored document id with its content hash."""
        return dict(self.db.execute("SELECT doc_id, content_hash FROM documents").fetchall())

    def chunk_ids(self) -> np.ndarray:
        """Every chunk id, ascending."""
        rows = self.db.execute("SELECT id FROM chunks ORDER BY id").fetchall()
        return np.asarray([r[0] for r in rows], dtype=np.int64)

    def chunk_texts(self, chunk_ids: Sequence[int]) -> dict[int, str]:
        """Chunk id -> text."""
        return dict(self._in_query("SELECT id, text FROM chunks WHERE id IN ({})", chunk_ids))

    def chunk_id_of(self, doc_id: str, ordinal: int) -> int | None:
        """The id of chunk ``ordinal`` of ``doc_id`` (None if absent)."""
        row = self.db.execute(
            "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc"
            " WHERE d.doc_id = ? AND c.ordinal = ?",
            (doc_id, int(ordinal)),
        ).fetchone()
        return None if row is None else int(row[0])

    def chunk_doc_ids(self) -> tuple[np.ndarray, np.ndarray]:
        """(every chunk id ascending, its document id)."""
        sql = "SELECT c.id, d.doc_id FROM chunks c JOIN documents d ON d.id = c.doc ORDER BY c.id"
        rows = self.db.execute(sql).fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        return ids, np.asarray([r[1] for r in rows], dtype=str)

    def metadata_keys(self) -> list[str]:
        """Every metadata key, in first-seen order."""
        sql = "SELECT j.key FROM documents d, json_each(d.metadata) j ORDER BY d.id, j.id"
        return list(dict.fromkeys(str(r[0]) for r in self.db.execute(sql)))

    def stored_documents(
        self, doc_ids: Sequence[str]
    ) -> tuple[list[Document], list[list[Chunk]], list[int]]:
        """The documents, their chunks and the chunk ids, to copy them elsewhere."""
        docs: list[Document] = []
        chunks: list[list[Chunk]] = []
        ids: list[int] = []
        for doc_id in doc_ids:
            doc = self.db.execute(
                "SELECT id, doc_id, text, source, title, metadata FROM documents WHERE doc_id = ?",
                (doc_id,),
            ).fetchone()
            docs.append(Document(doc[1], doc[2], doc[3], doc[4] or "", json.loads(doc[5] or "{}")))
            parts = self.db.execute(
                "SELECT id, ordinal, start, end, text FROM chunks WHERE doc = ? ORDER BY ordinal",
                (doc[0],),
            ).fetchall()
            chunks.append([Chunk(p[1], p[2], p[3], p[4]) for p in parts])
            ids.extend(p[0] for p in parts)
        return docs, chunks, ids

    def word_chunks(self, word: str) -> Iterator[tuple[int, str, int, str, str]]:
        """(chunk id, text, start, doc id, title) of chunks FTS5 matches ``word`` in, by id."""
        sql = (
            "SELECT c.id, c.text, c.start, d.doc_id, d.title FROM chunks_fts JOIN chunks c"
            " ON c.id = chunks_fts.rowid JOIN documents d ON d.id = c.doc"
            " WHERE chunks_fts MATCH ? ORDER BY chunks_fts.rowid"
        )
        yield from self.db.execute(sql, ('"' + word.replace('"', '""') + '"',))

    def _in_query(self, sql: str, ids: Sequence[int]) -> list[tuple]:
        out: list[tuple] = []
        ids = [int(i) for i in ids]
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            out.extend(self.db.execute(sql.format(",".join("?" * len(part))), part).fetchall())
        return out


def filter_sql(field: str, value: str) -> tuple[str, tuple]:
    """A SQL condition on ``d`` (a ``documents`` row): metadata ``field`` equals ``value``.

    ``value`` is text as :meth:`Store.metadata_fields` offers it (Python's ``str``). Text and
    booleans compare as text; numbers compare as numbers, because SQLite prints them its own
    way (``CAST(0.3333333333333333 AS TEXT)`` is ``0.333333333333333``, ``1e+20`` becomes
    ``1.0e+20``, a 20-digit integer a real): a value that reads as a finite number matches the
    JSON numbers equal to it (as doubles).
    """
    number = as_number(value)
    condition = (
        "EXISTS (SELECT 1 FROM json_each(d.metadata) j WHERE j.key = ? AND ("
        "(j.type = 'text' AND j.value = ?) OR (j.type = 'true' AND ? = 'True')"
        " OR (j.type = 'false' AND ? = 'False')"
        " OR (j.type IN ('integer', 'real') AND j.value = ?)))"
    )
    return condition, (str(field), str(value), str(value), str(value), number)


def as_number(value: str) -> float | None:
    """``value`` as a finite float, or None when it does not read as one."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
