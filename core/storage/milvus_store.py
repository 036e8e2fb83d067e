"""A collection held in Milvus: chunks, metadata, vectors and BM25 in one Milvus collection.

Data flow: ingest -> :meth:`MilvusStore.add` (one row per chunk: text, span, its document's
id, source, title, metadata JSON and content hash, the float32 vector, and ``terms``: the
chunk's FTS5 Porter terms space-joined, :func:`core.storage.porter.porter_terms`) -> Milvus
computes the chunk's BM25 sparse vector itself (a ``BM25`` function over the analysed
``terms``) -> dense search (a ``FLAT`` index, inner product: exact) and keyword search
(``SPARSE_INVERTED_INDEX``, metric ``BM25``, the query's Porter terms) run in Milvus, filters
as Milvus expressions on the metadata JSON. ``text`` stays as written (display, highlights).

Milvus Lite has no stemmer, so the terms are stemmed by SQLite's own FTS5 Porter tokenizer, the
one the embedded store indexes with; Milvus's standard analyzer (``\\w+`` tokens, lower-cased)
then splits ``terms`` on the spaces, leaving each term as it is. Milvus's BM25
(https://milvus.io/docs/bm25-function.md) scores ``sum idf * tf * (k1 + 1) / (tf + k1 * (1 - b
+ b * dl / avgdl))`` with ``idf = ln(1 + (N - n + 0.5) / (n + 0.5))`` over the collection's
statistics; ``k1`` = :data:`BM25_K1` and ``b`` = :data:`BM25_B`, FTS5's (set on the index;
Milvus Lite reads them from a nested ``params``). The folder of
the collection keeps ``milvus.json``: the server, the Milvus collection's name, its schema
(:data:`SCHEMA_VERSION`), the settings
(model, creation time) and the generation counter every write bumps. The client is
``pymilvus``; any Milvus (Lite's gRPC server, Standalone, Distributed) at the URI serves it.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core import atomic
from core.documents.chunking import Chunk
from core.documents.readers import Document
from core.errors import CollectionError
from core.storage.porter import porter_terms
from core.storage.store import ChunkRow, as_number

MILVUS_FILE = "milvus.json"
BM25_K1, BM25_B = 1.2, 0.75
SCHEMA_VERSION = 2  # 2: BM25 over FTS5 Porter ``terms``; 1 (unrecorded): over raw ``text``
MAX_LIMIT = 16_384  # Milvus's largest top-k
# pymilvus pings every 10 s, even between calls; a gRPC server with default settings (Milvus
# Lite's) allows one ping per 5 minutes, answers more with GOAWAY "too_many_pings" and the
# client then fails. Pinging every 6 minutes, only during calls, suits every server.
GRPC_OPTIONS = {"grpc.keepalive_time_ms": 360_000, "grpc.keepalive_permit_without_calls": 0}
BATCH = 1000
ROW_FIELDS = [
    "id", "ordinal", "span_start", "span_end", "text", "doc_id", "source", "title",
    "metadata", "chunk_count",
]  # fmt: skip


class MilvusUnavailableError(CollectionError):
    """The Milvus server named for a collection cannot be reached."""


def milvus_name(name: str) -> str:
    """A new Milvus collection name for lab collection ``name`` (letters, digits, underscores):
    unique, so data dirs sharing one server never meet; ``milvus.json`` records it."""
    return f"embedlab_{re.sub(r'[^A-Za-z0-9_]', '_', name)}_{uuid.uuid4().hex[:12]}"


def unreachable(uri: str, exc: BaseException) -> MilvusUnavailableError:
    """The error a page or the command line shows when the server at ``uri`` fails."""
    return MilvusUnavailableError(
        f"Cannot reach the Milvus server at {uri} ({type(exc).__name__}: {str(exc)[:200]}). "
        "Start it (for a local one: milvus-lite server --data-dir DIR --port 19530) or set "
        "EMBEDLAB_MILVUS_URI to a running Milvus, e.g. http://127.0.0.1:19530."
    )


def failed(uri: str, exc: BaseException) -> MilvusUnavailableError:
    """The error shown when a request to the server at ``uri`` fails."""
    return MilvusUnavailableError(
        f"The Milvus server at {uri} failed a request ({type(exc).__name__}: "
        f"{str(exc)[:200]}). If it stopped, start it again; nothing was lost on this side."
    )


class GuardedClient:
    """A ``MilvusClient`` whose failures (pymilvus's and grpc's errors) are LabErrors."""

    def __init__(self, client: Any, uri: str) -> None:
        """Wrap ``client``, connected to ``uri``."""
        self._client, self._uri = client, uri

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except Exception as exc:
                raise failed(self._uri, exc) from None

        return call


def connect(uri: str) -> GuardedClient:
    """A client for ``uri``, checked with one call.

    Raises:
        MilvusUnavailableError: when nothing answers there.
    """
    from pymilvus import MilvusClient

    # Milvus Lite has no MVCC timestamp for query iterators; pymilvus warns on every one.
    logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)
    try:
        # dedicated: pymilvus shares one connection per address, made with the options of
        # whichever client came first; this one must have GRPC_OPTIONS.
        client = MilvusClient(uri=uri, timeout=10, grpc_options=GRPC_OPTIONS, dedicated=True)
        client.list_collections()
    except Exception as exc:  # pymilvus raises its own and grpc's errors
        raise unreachable(uri, exc) from None
    return GuardedClient(client, uri)


def _quoted(text: str) -> str:
    """``text`` as a Milvus string literal (non-ASCII kept: Milvus rejects ``\\u`` escapes)."""
    return json.dumps(text, ensure_ascii=False)


def filter_expr(field: str, value: str) -> str:
    """A Milvus expression: metadata ``field`` equals ``value`` as Python text shows it.

    The same semantics as the embedded store's :func:`core.storage.store.filter_sql`: text
    and booleans compare as text (``True``/``False``), numbers as numbers.
    """
    key = f"metadata[{_quoted(str(field))}]"
    parts = [f"{key} == {_quoted(str(value))}"]
    if value in ("True", "False"):
        parts.append(f"{key} == {str(value).lower()}")
    number = as_number(value)
    if number is not None:
        parts.append(f"{key} == {number!r}")
    return "(" + " or ".join(parts) + ")"


def _ids_expr(ids: Sequence[int]) -> str:
    return f"id in [{','.join(str(int(i)) for i in ids)}]"


def _strings_expr(field: str, values: Sequence[str]) -> str:
    return f"{field} in [{','.join(_quoted(str(v)) for v in values)}]"


def drop_recorded(folder: Path, uri: str | None = None) -> None:
    """Drop the Milvus collection ``folder`` records, if the server still holds it.

    Raises:
        MilvusUnavailableError: if the server cannot be reached (nothing is dropped).
    """
    state = json.loads((Path(folder) / MILVUS_FILE).read_text())
    client = connect(uri or state["uri"])
    if client.has_collection(state["collection"]):
        client.drop_collection(state["collection"])
    client.close()


class MilvusStore:
    """A lab collection's chunks in one Milvus collection (see the module doc)."""

    kind = "milvus"

    def __init__(self, folder: Path, uri: str | None = None, dimension: int | None = None) -> None:
        """Open the collection recorded in ``folder``, or create it when ``dimension`` is given.

        Args:
            folder: the lab collection's folder (holds ``milvus.json``).
            uri: the server; default the one recorded at creation.
            dimension: vector length, to create the Milvus collection.

        Raises:
            MilvusUnavailableError: if the server cannot be reached.
            CollectionError: if the Milvus collection is missing.
        """
        self.folder = Path(folder)
        self.path = self.folder / MILVUS_FILE
        self.write_lock = threading.RLock()
        state = self._state() if self.path.is_file() else None
        self.uri = uri or (state or {}).get("uri")
        if not self.uri:
            raise CollectionError("No Milvus server named: set EMBEDLAB_MILVUS_URI.")
        self.name = (state or {}).get("collection") or milvus_name(self.folder.name)
        self.client = connect(self.uri)
        if state is None:
            if dimension is None:
                raise CollectionError(f"No Milvus collection recorded in {self.folder}.")
            self._create(int(dimension))
            state = {"store": "milvus", "collection": self.name, "schema": SCHEMA_VERSION}
            self._write_state({**state, "meta": {}})
        elif state.get("schema") != SCHEMA_VERSION:
            raise CollectionError(
                f"The lab collection '{self.folder.name}' was made in Milvus by an older version "
                f"(schema {state.get('schema', 1)}, this version reads {SCHEMA_VERSION}: keyword "
                "search now ranks stemmed terms). Delete the collection and ingest it again."
            )
        elif not self.client.has_collection(self.name):
            raise CollectionError(
                f"The Milvus server at {self.uri} has no collection '{self.name}' (the lab "
                f"collection '{self.folder.name}' lives there). Point EMBEDLAB_MILVUS_URI at "
                "the server that holds it, or delete the collection and ingest again."
            )
        self._filters: dict[tuple[int, str, str], np.ndarray] = {}
        self._counted: tuple[int, tuple[int, int]] | None = None

    # --- schema and state ----------------------------------------------------------------

    def _create(self, dimension: int) -> None:
        from pymilvus import DataType, Function, FunctionType

        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        text = {"enable_analyzer": True, "enable_match": True}
        schema.add_field("text", DataType.VARCHAR, max_length=65_535, **text)
        schema.add_field("terms", DataType.VARCHAR, max_length=65_535, **text)
        for name, length in (("doc_id", 4096), ("source", 4096), ("title", 1024)):
            schema.add_field(name, DataType.VARCHAR, max_length=length)
        schema.add_field("content_hash", DataType.VARCHAR, max_length=128)
        for name in ("ordinal", "span_start", "span_end", "chunk_count", "doc_chars"):
            schema.add_field(name, DataType.INT64)
        schema.add_field("metadata", DataType.JSON)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(
            Function(
                name="bm25",
                function_type=FunctionType.BM25,
                input_field_names=["terms"],
                output_field_names=["sparse"],
            )
        )
        index = self.client.prepare_index_params()
        bm25 = {"bm25_k1": BM25_K1, "bm25_b": BM25_B}
        index.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
        index.add_index(
            field_name="sparse",
            index_type="SPARSE_INVERTED_INDEX",
            metric_type="BM25",
            params={**bm25, "params": bm25},
        )
        self.client.create_collection(
            self.name, schema=schema, index_params=index, consistency_level="Strong"
        )

    def _state(self) -> dict[str, Any]:
        return json.loads(self.path.read_text())

    def _write_state(self, updates: dict[str, Any]) -> None:
        with self.write_lock:
            state = self._state() if self.path.is_file() else {}
            state.update(updates, uri=self.uri)
            atomic.write_json(self.path, state)

    @property
    def generation(self) -> int:
        """A number that grows with every committed write."""
        return int(self._state().get("generation", 0))

    def _bump(self, next_id: int | None = None) -> None:
        state = self._state()
        updates: dict[str, Any] = {"generation": int(state.get("generation", 0)) + 1}
        if next_id is not None:
            updates["next_id"] = next_id
        self._write_state(updates)

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        """One stored setting."""
        return self._state().get("meta", {}).get(key, default)

    def set_meta(self, values: dict[str, str]) -> None:
        """Store settings (the generation is unchanged)."""
        with self.write_lock:
            meta = {**self._state().get("meta", {}), **values}
            self._write_state({"meta": meta})

    def flush(self) -> None:
        """Seal what was inserted into segments (after an ingest)."""
        self.client.flush(self.name)

    def close(self) -> None:
        """Close the client."""
        self.client.close()

    def drop(self) -> None:
        """Drop the Milvus collection (when the lab collection is deleted)."""
        self.client.drop_collection(self.name)

    # --- reads ---------------------------------------------------------------------------

    def _query(self, expr: str, fields: list[str]) -> list[dict[str, Any]]:
        """Every row matching ``expr`` (paged by an iterator)."""
        iterator = self.client.query_iterator(
            self.name, batch_size=4096, filter=expr, output_fields=fields
        )
        rows: list[dict[str, Any]] = []
        try:
            while batch := iterator.next():
                rows.extend(batch)
        except Exception as exc:
            raise failed(self.uri, exc) from None
        finally:
            iterator.close()
        return rows

    def _by_ids(self, ids: Sequence[int], fields: list[str]) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        ids = [int(i) for i in ids]
        for start in range(0, len(ids), BATCH):
            part = ids[start : start + BATCH]
            rows = self.client.query(self.name, filter=_ids_expr(part), output_fields=fields)
            out.update((int(r["id"]), r) for r in rows)
        return out

    def _count(self, expr: str = "") -> int:
        rows = self.client.query(self.name, filter=expr, output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def counts(self) -> tuple[int, int]:
        """(documents, chunks), counted once per generation (a filtered count scans)."""
        generation = self.generation
        if self._counted is None or self._counted[0] != generation:
            self._counted = (generation, (self._count("ordinal == 0"), self._count()))
        return self._counted[1]

    def _first_chunks(self, expr: str, fields: list[str]) -> list[dict[str, Any]]:
        return self._query(f"({expr}) and ordinal == 0", fields)

    def existing(self, doc_ids: Sequence[str], hashes: Sequence[str]) -> tuple[set, set]:
        """Which of ``doc_ids`` and which content ``hashes`` are stored."""
        ids, found = set(), set()
        for start in range(0, max(len(doc_ids), len(hashes)), BATCH):
            part = list(doc_ids[start : start + BATCH])
            if part:
                rows = self._first_chunks(_strings_expr("doc_id", part), ["doc_id"])
                ids.update(r["doc_id"] for r in rows)
            part = list(hashes[start : start + BATCH])
            if part:
                rows = self._first_chunks(_strings_expr("content_hash", part), ["content_hash"])
                found.update(r["content_hash"] for r in rows)
        return ids, found

    def hashes_of(self, doc_ids: Sequence[str]) -> dict[str, str]:
        """Content hash of each stored one of ``doc_ids``."""
        out: dict[str, str] = {}
        for start in range(0, len(doc_ids), BATCH):
            expr = _strings_expr("doc_id", list(doc_ids[start : start + BATCH]))
            rows = self._first_chunks(expr, ["doc_id", "content_hash"])
            out.update((r["doc_id"], r["content_hash"]) for r in rows)
        return out

    def doc_hashes(self) -> dict[str, str]:
        """Every stored document id with its content hash."""
        rows = self._query("ordinal == 0", ["doc_id", "content_hash"])
        return {r["doc_id"]: r["content_hash"] for r in rows}

    def chunk_ids(self) -> np.ndarray:
        """Every chunk id, ascending."""
        rows = self._query("id >= 0", ["id"])
        return np.sort(np.asarray([r["id"] for r in rows], dtype=np.int64))

    def all_vectors(self, dimension: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids ascending, vectors (n, dimension))."""
        rows = sorted(self._query("id >= 0", ["id", "vector"]), key=lambda r: r["id"])
        ids = np.asarray([r["id"] for r in rows], dtype=np.int64)
        vectors = np.asarray([r["vector"] for r in rows], dtype=np.float32)
        return ids, vectors.reshape(len(rows), dimension)

    def vectors_for(self, chunk_ids: Sequence[int], dimension: int) -> np.ndarray:
        """Vectors of the given chunks, in the given order."""
        found = self._by_ids(chunk_ids, ["id", "vector"])
        rows = [np.asarray(found[int(i)]["vector"], dtype=np.float32) for i in chunk_ids]
        return np.stack(rows) if rows else np.empty((0, dimension), np.float32)

    def document_vectors(
        self, doc_ids: Sequence[str], dimension: int
    ) -> tuple[list[str], list[int], np.ndarray]:
        """Every chunk of the given documents: (document id, ordinal, vector) columns."""
        rows: list[dict[str, Any]] = []
        for start in range(0, len(doc_ids), BATCH):
            expr = _strings_expr("doc_id", list(doc_ids[start : start + BATCH]))
            rows += self._query(expr, ["doc_id", "ordinal", "vector"])
        vectors = np.asarray([r["vector"] for r in rows], dtype=np.float32)
        return (
            [r["doc_id"] for r in rows],
            [int(r["ordinal"]) for r in rows],
            vectors.reshape(len(rows), dimension),
        )

    def chunk_rows(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRow]:
        """Chunks with their documents, by chunk id."""
        rows = self._by_ids(chunk_ids, ROW_FIELDS)
        return {i: _chunk_row(r) for i, r in rows.items()}

    def chunk_texts(self, chunk_ids: Sequence[int]) -> dict[int, str]:
        """Chunk id -> text."""
        return {i: r["text"] for i, r in self._by_ids(chunk_ids, ["id", "text"]).items()}

    def chunk_id_of(self, doc_id: str, ordinal: int) -> int | None:
        """The id of chunk ``ordinal`` of ``doc_id`` (None if absent)."""
        expr = f"doc_id == {_quoted(doc_id)} and ordinal == {int(ordinal)}"
        rows = self.client.query(self.name, filter=expr, output_fields=["id"])
        return int(rows[0]["id"]) if rows else None

    def chunk_doc_ids(self) -> tuple[np.ndarray, np.ndarray]:
        """(every chunk id ascending, its document id)."""
        rows = sorted(self._query("id >= 0", ["id", "doc_id"]), key=lambda r: r["id"])
        ids = np.asarray([r["id"] for r in rows], dtype=np.int64)
        return ids, np.asarray([r["doc_id"] for r in rows], dtype=str)

    def chunk_ids_where(self, field: str, value: str) -> np.ndarray:
        """Chunk ids of documents whose metadata ``field`` equals ``value`` (as text)."""
        key = (self.generation, str(field), str(value))
        if key not in self._filters:
            rows = self._query(filter_expr(field, value), ["id"])
            ids = np.sort(np.asarray([r["id"] for r in rows], dtype=np.int64))
            ids.setflags(write=False)
            self._filters = {k: v for k, v in self._filters.items() if k[0] == key[0]}
            self._filters[key] = ids
        return self._filters[key]

    # A document's row id, in Milvus, is the id of its first chunk (ordinal 0).

    def document_rows(self, chunk_ids: Sequence[int]) -> np.ndarray:
        """Sorted row ids of the documents holding ``chunk_ids``."""
        names = sorted({r["doc_id"] for r in self._by_ids(chunk_ids, ["id", "doc_id"]).values()})
        return self.rows_of_documents(names)

    def document_names(self, rows: Sequence[int]) -> list[str]:
        """The ``doc_id`` of the documents with these row ids, in row order."""
        found = self._by_ids(rows, ["id", "doc_id", "ordinal"])
        return [found[i]["doc_id"] for i in sorted(found) if found[i]["ordinal"] == 0]

    def rows_of_documents(self, doc_ids: Sequence[str]) -> np.ndarray:
        """Sorted row ids of the stored documents among ``doc_ids``."""
        rows: list[int] = []
        for start in range(0, len(doc_ids), BATCH):
            expr = _strings_expr("doc_id", list(doc_ids[start : start + BATCH]))
            rows += [int(r["id"]) for r in self._first_chunks(expr, ["id"])]
        return np.asarray(sorted(rows), dtype=np.int64)

    def chunk_ids_of_documents(self, rows: Sequence[int]) -> np.ndarray:
        """Sorted chunk ids of the documents with these row ids."""
        names = self.document_names(rows)
        found: list[int] = []
        for start in range(0, len(names), BATCH):
            expr = _strings_expr("doc_id", names[start : start + BATCH])
            found += [int(r["id"]) for r in self._query(expr, ["id"])]
        return np.asarray(sorted(found), dtype=np.int64)

    def metadata_fields(self, limit: int = 2000) -> dict[str, list[str]]:
        """Metadata fields with a few distinct values (filter menus)."""
        rows = self.client.query(
            self.name, filter="ordinal == 0", output_fields=["metadata"], limit=limit
        )
        values: dict[str, set[str]] = {}
        for row in rows:
            for key, value in (row["metadata"] or {}).items():
                if isinstance(value, (str, int, float, bool)) and len(str(value)) <= 80:
                    values.setdefault(str(key), set()).add(str(value))
        return {k: sorted(v)[:200] for k, v in sorted(values.items())}

    def metadata_keys(self) -> list[str]:
        """Every metadata key, in first-seen order."""
        rows = sorted(self._query("ordinal == 0", ["id", "metadata"]), key=lambda r: r["id"])
        return list(dict.fromkeys(str(k) for r in rows for k in (r["metadata"] or {})))

    def documents(self, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """A page of documents: id, title, source, characters, chunks, metadata."""
        fields = ["id", "doc_id", "title", "source", "doc_chars", "chunk_count", "metadata"]
        rows = sorted(self._query("ordinal == 0", fields), key=lambda r: r["id"])
        return [
            {
                "doc_id": r["doc_id"],
                "title": r["title"],
                "source": r["source"],
                "characters": r["doc_chars"],
                "chunks": r["chunk_count"],
                "metadata": json.dumps(r["metadata"] or {}, ensure_ascii=False),
            }
            for r in rows[offset : offset + limit]
        ]

    def stored_documents(
        self, doc_ids: Sequence[str]
    ) -> tuple[list[Document], list[list[Chunk]], list[int]]:
        """The documents (text rebuilt from the chunks' spans), chunks and chunk ids."""
        fields = [*ROW_FIELDS, "doc_chars"]
        rows = self._query(_strings_expr("doc_id", list(doc_ids)), fields) if doc_ids else []
        by_doc: dict[str, list[dict[str, Any]]] = {}
        for row in sorted(rows, key=lambda r: (r["doc_id"], r["ordinal"])):
            by_doc.setdefault(row["doc_id"], []).append(row)
        docs, chunks, ids = [], [], []
        for doc_id in doc_ids:
            parts = by_doc[doc_id]
            text = [" "] * int(parts[0]["doc_chars"])
            for p in parts:
                text[p["span_start"] : p["span_end"]] = list(p["text"])
            first = parts[0]
            docs.append(
                Document(doc_id, "".join(text), first["source"], first["title"], first["metadata"])
            )
            chunks.append(
                [Chunk(p["ordinal"], p["span_start"], p["span_end"], p["text"]) for p in parts]
            )
            ids.extend(int(p["id"]) for p in parts)
        return docs, chunks, ids

    def word_chunks(self, word: str) -> Iterator[tuple[int, str, int, str, str]]:
        """(chunk id, text, start, doc id, title) of chunks holding ``word`` as a token, by id."""
        token = " ".join(re.findall(r"\w+", word.lower()))
        if not token:
            return
        fields = ["id", "text", "span_start", "doc_id", "title"]
        rows = self._query(f"TEXT_MATCH(text, {_quoted(token)})", fields)
        for r in sorted(rows, key=lambda r: r["id"]):
            yield int(r["id"]), r["text"], int(r["span_start"]), r["doc_id"], r["title"]

    # --- searches ------------------------------------------------------------------------

    def dense_search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) (q, k) of the exact inner-product top ``k``; ids -1 pad short rows."""
        k = max(1, min(int(k), MAX_LIMIT))
        expr = "" if allowed is None else _ids_expr(allowed)
        found = self.client.search(
            self.name,
            data=[q.tolist() for q in np.atleast_2d(queries)],
            anns_field="vector",
            limit=k,
            filter=expr,
            output_fields=["id"],
            search_params={"metric_type": "IP"},
        )
        scores = np.full((len(found), k), -np.inf, dtype=np.float32)
        ids = np.full((len(found), k), -1, dtype=np.int64)
        for row, hits in enumerate(found):
            for col, hit in enumerate(hits):
                scores[row, col], ids[row, col] = hit["distance"], hit["id"]
        return scores, ids

    def keyword_search(
        self,
        text: str,
        limit: int,
        where: tuple[str, str] | None = None,
        doc_ids: Sequence[str] | None = None,
        ids: Sequence[int] | None = None,
    ) -> list[tuple[int, float]]:
        """(chunk id, BM25) of the best ``limit`` chunks for ``text`` (Porter terms, space-joined,
        as :func:`porter_terms` gives them), best first, among the
        chunks matching ``where``, of ``doc_ids`` and with ``ids`` (each when given).

        Milvus returns BM25 as a positive score; Milvus Lite returns it negated (a
        distance): the magnitude is the score either way.
        """
        conditions = [filter_expr(*where)] if where is not None else []
        if doc_ids is not None:
            conditions.append(_strings_expr("doc_id", list(doc_ids)))
        if ids is not None:
            conditions.append(_ids_expr(ids))
        found = self.client.search(
            self.name,
            data=[text],
            anns_field="sparse",
            limit=max(1, min(int(limit), MAX_LIMIT)),
            filter=" and ".join(conditions),
            output_fields=["id"],
            search_params={"metric_type": "BM25"},
        )
        return [(int(h["id"]), abs(float(h["distance"]))) for h in found[0]]

    def chunks_with(self, token: str) -> int:
        """How many chunks hold ``token`` (one Porter term, :func:`porter_terms`)."""
        return self._count(f"TEXT_MATCH(terms, {_quoted(token)})")

    # --- writes --------------------------------------------------------------------------

    def add(
        self, docs: Sequence[Document], chunks: Sequence[Sequence[Chunk]], vectors: np.ndarray
    ) -> np.ndarray:
        """Store documents, their chunks and one vector per chunk (in order); return chunk ids."""
        with self.write_lock:
            first = int(self._state().get("next_id", 1))
            rows: list[dict[str, Any]] = []
            for doc, doc_chunks in zip(docs, chunks, strict=True):
                for chunk in doc_chunks:
                    rows.append(_row(first + len(rows), doc, chunk, len(doc_chunks)))
            terms = porter_terms([row["text"] for row in rows])
            for row, vector, words in zip(
                rows, np.asarray(vectors, np.float32), terms, strict=True
            ):
                row["vector"], row["terms"] = vector.tolist(), " ".join(words)
            for start in range(0, len(rows), BATCH):
                self.client.insert(self.name, rows[start : start + BATCH])
            self._bump(next_id=first + len(rows))
        return np.arange(first, first + len(rows), dtype=np.int64)

    def delete(self, doc_ids: Sequence[str]) -> tuple[int, np.ndarray]:
        """Delete documents (and their chunks); return (documents deleted, removed chunk ids)."""
        with self.write_lock:
            wanted = list(dict.fromkeys(doc_ids))
            rows = self._query(_strings_expr("doc_id", wanted), ["id", "doc_id"]) if wanted else []
            removed = np.asarray(sorted(r["id"] for r in rows), dtype=np.int64)
            for start in range(0, len(removed), BATCH):
                self.client.delete(self.name, filter=_ids_expr(removed[start : start + BATCH]))
            self._bump()
        return len({r["doc_id"] for r in rows}), removed


def _row(chunk_id: int, doc: Document, chunk: Chunk, count: int) -> dict[str, Any]:
    return {
        "id": chunk_id,
        "text": chunk.text,
        "doc_id": doc.doc_id,
        "source": doc.source[:4096],
        "title": doc.title[:1024],
        "content_hash": doc.content_hash,
        "ordinal": chunk.ordinal,
        "span_start": chunk.start,
        "span_end": chunk.end,
        "chunk_count": count,
        "doc_chars": len(doc.text),
        "metadata": json.loads(json.dumps(doc.metadata, ensure_ascii=False, default=str)),
    }


def _chunk_row(r: dict[str, Any]) -> ChunkRow:
    return ChunkRow(
        int(r["id"]),
        int(r["ordinal"]),
        int(r["span_start"]),
        int(r["span_end"]),
        r["text"],
        r["doc_id"],
        r["source"],
        r["title"],
        r["metadata"] or {},
        int(r["chunk_count"]),
    )
