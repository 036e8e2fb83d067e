"""A selection of map points made useful: export it, search within it, save it as a new
collection (vectors copied, not recomputed), and summarise it.

chunk ids (picked on the map) -> their rows (CSV / JSONL), an exact search restricted to them,
their documents copied with every chunk and stored vector, or a summary: size, the words that
set the selection apart from the rest of the map (TF-IDF lift), and the documents nearest its
centre (the mean of its unit vectors).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import InputError
from core.explain.explore import chunk_texts, cluster_terms
from core.model.embedder import Embedder
from core.search.hits import Hit, best_per_document, check_k
from core.storage.collection import Collection, collection_path, validate_name

COLUMNS = ("doc_id", "title", "chunk", "source", "text")


@dataclass(frozen=True)
class SelectionSummary:
    """What a selection holds."""

    chunks: int
    documents: int
    words: tuple[str, ...]  # most distinctive against the rest of the map, best first
    central: tuple[Hit, ...]  # documents nearest the selection's centre, best first


def _ids(chunk_ids) -> np.ndarray:
    ids = np.unique(np.asarray(chunk_ids, dtype=np.int64))
    if len(ids) == 0:
        raise InputError("The selection is empty: click points or drag a box on the map first.")
    return ids


def records(collection: Collection, chunk_ids) -> pd.DataFrame:
    """One row per selected chunk: doc_id, title, chunk, source, text and metadata fields."""
    rows = collection.store.chunk_rows(_ids(chunk_ids))
    out = []
    for chunk_id in sorted(rows):
        row = rows[chunk_id]
        record = {
            "doc_id": row.doc_id,
            "title": row.title,
            "chunk": row.ordinal + 1,
            "source": row.source,
            "text": row.text,
        }
        record.update({k: v for k, v in row.metadata.items() if k not in record})
        out.append(record)
    return pd.DataFrame.from_records(out)


def to_csv(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV with a header row (lists and objects as JSON text)."""
    return frame.map(_scalar).to_csv(index=False).encode("utf-8")


def to_jsonl(frame: pd.DataFrame) -> bytes:
    """One JSON object per line; missing metadata fields are left out of that line."""
    lines = io.StringIO()
    for record in frame.to_dict(orient="records"):
        kept = {k: v for k, v in record.items() if not _missing(v)}
        lines.write(json.dumps(kept, ensure_ascii=False, default=str) + "\n")
    return lines.getvalue().encode("utf-8")


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _scalar(value):
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else value


def search_within(
    collection: Collection, embedder: Embedder, query: str, chunk_ids, k: int = 10
) -> list[Hit]:
    """The ``k`` best documents for ``query`` among the selected chunks (exact cosine)."""
    k, ids = check_k(k), _ids(chunk_ids)
    if not query.strip():
        raise InputError("Type a question to search the selection.")
    vectors = collection.store.vectors_for(ids, collection.model.dimension)  # (n, D)
    scores = vectors @ embedder.encode_query(query)  # unit vectors: cosine
    order = np.lexsort((ids, -scores))  # best first, ties by chunk id
    rows = collection.store.chunk_rows(ids[order])
    return best_per_document(scores[order], ids[order], rows, k)


def summarise(
    collection: Collection, chunk_ids, background, words: int = 8, near: int = 5
) -> SelectionSummary:
    """Size, distinctive words (against ``background``, the map's chunk ids) and the
    documents nearest the centre."""
    ids = _ids(chunk_ids)
    others = np.setdiff1d(np.asarray(background, dtype=np.int64), ids)
    everything = np.concatenate([ids, others])
    texts = chunk_texts(collection, everything)
    labels = np.r_[np.zeros(len(ids), np.int64), np.ones(len(others), np.int64)]
    name = cluster_terms([texts[int(i)] for i in everything], labels, top=words)[0]
    terms = tuple(name.split(" · ", 1)[1].split(", ")) if " · " in name else ()
    vectors = collection.store.vectors_for(ids, collection.model.dimension)
    centre = vectors.mean(axis=0)
    centre /= np.linalg.norm(centre) or 1.0
    scores = vectors @ centre
    order = np.lexsort((ids, -scores))
    rows = collection.store.chunk_rows(ids)
    central = best_per_document(scores[order], ids[order], rows, near)
    documents = len({r.doc_id for r in rows.values()})
    return SelectionSummary(len(ids), documents, terms, tuple(central))


def save_as_collection(collection: Collection, chunk_ids, name: str) -> int:
    """Copy the documents holding the selected chunks, with all their chunks and stored
    vectors, into a new collection ``name``; return how many documents were copied.

    Raises:
        InputError: for a bad or taken name, or an empty selection.
    """
    name = validate_name(name)
    if collection_path(name).exists():
        raise InputError(f"A collection named '{name}' exists already: choose another name.")
    rows = collection.store.chunk_rows(_ids(chunk_ids))
    keys = sorted({r.doc_id for r in rows.values()})
    docs, chunks, vectors = _documents(collection, keys)
    target = Collection(name, collection.model, create=True, store=collection.store.kind)
    target.add_vectors(docs, chunks, vectors)
    target.save_index()
    return len(docs)


def _documents(collection: Collection, doc_ids: list[str]):
    """(documents, their chunks, the chunks' stored vectors (n, D)) for ``doc_ids``."""
    docs, chunks, ids = collection.store.stored_documents(doc_ids)
    return docs, chunks, collection.store.vectors_for(ids, collection.model.dimension)
