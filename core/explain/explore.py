"""The query on the map: place new points on a finished projection, compare the map's
neighbours with the true ones from the index, list a document's true neighbours, and name
automatic clusters by their most distinctive terms.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from core.explain.projection import (
    LABELS,
    PRE_DIMS,
    Projection,
    distinct_rows,
    fitted_model,
    pca,
    single_thread,
)
from core.model.embedder import Embedder
from core.search.dense import search_vectors
from core.search.hits import Hit, check_k
from core.storage.collection import Collection

PLACE_K = 10


@dataclass(frozen=True)
class Placement:
    """New points on a map and how they were placed."""

    coords: np.ndarray  # (q, 2)
    how: str


def place(projection: Projection, collection: Collection, vectors: np.ndarray) -> Placement:
    """Put new vectors (q, d) on an existing map without recomputing it.

    PCA: the exact transform. UMAP: ``UMAP.transform`` while the fitted model is in this
    process's memory. Otherwise (t-SNE has no transform; a UMAP map read back from disk):
    :func:`knn_place` over its 10 nearest map points in the full space.
    """
    vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    fit = projection.fit
    if fit.mean is not None and fit.components is not None:
        coords = (vectors - fit.mean) @ fit.components.T
        coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
        return Placement(coords, "exact PCA transform")
    model = fit.model or fitted_model(projection.key)
    if model is not None:
        basis, umap_model = model
        reduced = vectors if basis is None else (vectors - basis[0]) @ basis[1].T
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Placement(np.asarray(umap_model.transform(reduced)), "UMAP transform")
    ids = projection.chunk_ids
    scores, found = collection.index.search(vectors, PLACE_K, ids)  # (q, k) among map points
    rows = np.minimum(np.searchsorted(ids, np.maximum(found, 0)), len(ids) - 1)
    weights = np.where((found >= 0) & (ids[rows] == found), scores, -1e3)  # (q, k)
    why = "it has no transform" if fit.method == "tsne" else "its fitted model is not in memory"
    return Placement(
        knn_place(projection.coords, rows, weights),
        f"{LABELS[fit.method]} placement ({why}): the mean of the 2D positions of its "
        f"{PLACE_K} nearest map points in the full space, the closest weighing most",
    )


def knn_place(
    coords: np.ndarray, rows: np.ndarray, similarity: np.ndarray, temperature: float = 0.05
) -> np.ndarray:
    """Mean of ``coords[rows]`` weighted by softmax(similarity / temperature) -> (q, 2).

    The closest neighbours dominate: with 0.05, a neighbour 0.1 less similar weighs e^-2.
    """
    logits = np.asarray(similarity, dtype=np.float64) / temperature  # (q, k)
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    return np.einsum("qk,qkc->qc", weights, coords[rows]).astype(np.float32)


# --- how faithful is the map around a query ----------------------------------------------


@dataclass(frozen=True)
class Faithfulness:
    """Where the true (full-space) top-k documents land when ranked by 2D distance."""

    map_ranks: tuple[int, ...]  # 2D rank of each true neighbour, in full-space order
    overlap: float  # share of the true top k that are also the map's top k

    @property
    def k(self) -> int:
        """How many true neighbours were checked."""
        return len(self.map_ranks)

    @property
    def mean_rank(self) -> float:
        """Mean 2D rank of the true neighbours ((k + 1) / 2 is perfect)."""
        return float(np.mean(self.map_ranks)) if self.map_ranks else 0.0

    @property
    def verdict(self) -> str:
        """A plain-words reading of the overlap."""
        if self.overlap >= 0.7:
            return "faithful: the map keeps most true neighbours close"
        if self.overlap >= 0.4:
            return "rough: about half of the true neighbours are near on the map"
        return "misleading here: distance on the map says little about true similarity"


def faithfulness(
    query_xy: np.ndarray, coords: np.ndarray, doc_ids: np.ndarray, true_docs: list[str]
) -> Faithfulness:
    """Rank documents by 2D distance to ``query_xy`` (each at its closest point) and compare.

    Args:
        query_xy: (2,) the query's place on the map.
        coords: (n, 2) map points (plus any neighbours placed off-sample).
        doc_ids: (n,) the document of each point.
        true_docs: the true top-k documents, best first (from the index).
    """
    if not true_docs:
        return Faithfulness((), 1.0)
    distance = np.linalg.norm(np.asarray(coords) - np.asarray(query_xy)[None, :], axis=1)
    best = pd.Series(distance).groupby(np.asarray(doc_ids, dtype=str)).min()  # doc -> nearest
    order = best.sort_index().sort_values(kind="stable").index  # ties broken by document id
    rank = pd.Series(np.arange(1, len(order) + 1), index=order)
    ranks = tuple(int(rank.get(doc, len(order) + 1)) for doc in true_docs)
    overlap = len(set(order[: len(true_docs)]) & set(true_docs)) / len(true_docs)
    return Faithfulness(ranks, overlap)


# --- the query on the map ------------------------------------------------------------------


@dataclass(frozen=True)
class QueryView:
    """A query placed on a map with lines to its true top-k documents."""

    query: str
    xy: np.ndarray  # (2,)
    hits: list[Hit]
    neighbour_xy: np.ndarray  # (k, 2): each hit's best chunk on the map
    on_map: tuple[bool, ...]  # False: the chunk was outside the sample and placed like a query
    faithfulness: Faithfulness
    placement: str
    latency_ms: float


def query_view(
    collection: Collection, embedder: Embedder, projection: Projection, query: str, k: int = 10
) -> QueryView:
    """Embed ``query``, find its true top ``k`` documents (dense, exact), and map them all.

    Raises:
        InputError: for an empty or over-long query, or a bad ``k``.
    """
    k = check_k(k)
    started = time.perf_counter()
    vector = embedder.encode_query(query)  # dense only: the index's own neighbours
    hits = search_vectors(collection, vector[None, :], k)[0]
    latency_ms = (time.perf_counter() - started) * 1e3
    placed = place(projection, collection, vector)
    chunk_ids = hit_chunk_ids(collection, hits)
    ids = projection.chunk_ids
    rows = np.minimum(np.searchsorted(ids, chunk_ids), max(len(ids) - 1, 0))
    on_map = (ids[rows] == chunk_ids) if len(ids) else np.zeros(len(chunk_ids), bool)
    neighbour_xy = projection.coords[rows].copy() if len(ids) else np.zeros((0, 2))
    extra_docs = np.asarray([h.doc_id for h in hits], dtype=str)[~on_map]
    if (~on_map).any():
        vectors = collection.store.vectors_for(chunk_ids[~on_map], collection.model.dimension)
        neighbour_xy[~on_map] = place(projection, collection, vectors).coords
    coords = np.vstack([projection.coords, neighbour_xy[~on_map]])
    docs = np.concatenate([projection.doc_ids.astype(str), extra_docs])
    faith = faithfulness(placed.coords[0], coords, docs, [h.doc_id for h in hits])
    return QueryView(
        query,
        placed.coords[0],
        hits,
        neighbour_xy,
        tuple(bool(b) for b in on_map),
        faith,
        placed.how,
        latency_ms,
    )


def hit_chunk_ids(collection: Collection, hits: list[Hit]) -> np.ndarray:
    """The chunk id of each hit's best chunk."""
    store = collection.store
    return np.asarray([store.chunk_id_of(h.doc_id, h.chunk) for h in hits], dtype=np.int64)


def neighbours_of(collection: Collection, chunk_id: int, k: int = 10) -> list[Hit]:
    """The ``k`` documents closest to chunk ``chunk_id`` in the full space (itself excluded)."""
    vector = collection.store.vectors_for([int(chunk_id)], collection.model.dimension)
    own = collection.store.chunk_rows([int(chunk_id)])[int(chunk_id)].doc_id
    hits = [h for h in search_vectors(collection, vector, k + 1)[0] if h.doc_id != own][:k]
    return [replace(h, rank=i + 1) for i, h in enumerate(hits)]


# --- automatic clusters --------------------------------------------------------------------


@dataclass(frozen=True)
class Clusters:
    """k-means labels of the map's points and a name per cluster."""

    labels: np.ndarray  # (n,) int
    names: tuple[str, ...]


def clusters(collection: Collection, projection: Projection, k: int, seed: int = 0) -> Clusters:
    """k-means on the map's points (in the full space, reduced to 50 dimensions by PCA),
    each cluster named by its most distinctive terms."""
    ids = projection.chunk_ids
    vectors = collection.store.vectors_for(ids, collection.model.dimension)
    if vectors.shape[1] > PRE_DIMS:
        with single_thread():
            vectors = pca(vectors, PRE_DIMS)[0]  # keeps k-means quick at 100,000 points
    labels = kmeans_labels(vectors, k, seed)
    texts = chunk_texts(collection, ids)
    return Clusters(labels, tuple(cluster_terms([texts[int(i)] for i in ids], labels)))


def chunk_texts(collection: Collection, ids: np.ndarray) -> dict[int, str]:
    """Chunk id -> text, read in batches of 500 ids."""
    return collection.store.chunk_texts([int(i) for i in ids])


def kmeans_labels(vectors: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """k-means labels (n,); ``k`` is capped by the number of distinct vectors."""
    k = max(1, min(int(k), distinct_rows(vectors)))
    if k == 1:
        return np.zeros(len(vectors), dtype=np.int64)
    from sklearn.cluster import KMeans

    model = KMeans(n_clusters=k, n_init=3 if len(vectors) <= 20_000 else 1, random_state=seed)
    with single_thread():  # see projection.single_thread
        return model.fit_predict(np.asarray(vectors, dtype=np.float32)).astype(np.int64)


def cluster_terms(texts: list[str], labels: np.ndarray, top: int = 3) -> list[str]:
    """Name each cluster by the terms whose mean TF-IDF most exceeds the collection's."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    count = int(labels.max()) + 1 if len(labels) else 0
    fallback = [f"{c + 1}" for c in range(count)]
    vectorizer = TfidfVectorizer(
        stop_words="english",
        token_pattern=r"(?u)\b[^\W\d_]{3,}\b",
        sublinear_tf=True,
        max_features=20_000,
    )
    try:
        matrix = vectorizer.fit_transform(texts)  # (n, terms) sparse
    except ValueError:  # no usable words at all
        return fallback
    terms, overall = vectorizer.get_feature_names_out(), np.asarray(matrix.mean(axis=0))[0]
    names = []
    for cluster in range(count):
        members = labels == cluster
        lift = np.asarray(matrix[members].mean(axis=0))[0] - overall if members.any() else overall
        best = [terms[i] for i in np.argsort(-lift)[:top] if lift[i] > 0]
        names.append(f"{cluster + 1} · {', '.join(best)}" if best else fallback[cluster])
    return names
