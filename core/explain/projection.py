"""Vectors -> 2D maps: PCA, UMAP and t-SNE over a collection, cached on disk by content.

PCA is exact and instant. UMAP and t-SNE first reduce the vectors to 50 dimensions with the
same PCA (standard practice; it makes their neighbour search about ten times faster), then
lay the points out with a fixed seed, so the same inputs always give the same picture.

A finished map is cached in the collection's folder under ``projections/<key>/`` as ``.npy``
arrays (loaded with ``allow_pickle=False``) and a JSON note; the key hashes the collection's
identity and generation, the model, the method and its parameters. In read-only mode
(``EMBEDLAB_READ_ONLY=1``) maps are kept in this process's memory instead (the last
:data:`KEEP_CACHED`), and nothing in the folder is written or pruned.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import shutil
import time
import warnings
from collections import OrderedDict
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from core import atomic, config
from core.errors import LabError
from core.storage.collection import Collection

log = logging.getLogger(__name__)

METHODS = ("pca", "umap", "tsne")
LABELS = {"pca": "PCA", "umap": "UMAP", "tsne": "t-SNE"}
MAX_POINTS = 200_000  # the most points any projection may be asked to lay out
SAMPLE = {"pca": 100_000, "umap": 20_000, "tsne": 5_000}  # default sample size per method
MIN_NONLINEAR = 10  # fewer distinct points than this: UMAP and t-SNE fall back to PCA
PRE_DIMS = 50
CACHE_VERSION = 1
KEEP_CACHED = 24
_MODELS: OrderedDict[str, Any] = OrderedDict()  # fitted UMAP models kept for .transform
_KEPT: OrderedDict[tuple[str, str], Projection] = OrderedDict()  # read-only: (folder, key)
_WARM: set[tuple[str, bool]] = set()  # (method, large) already run (compiled) in this process


class ProjectionError(LabError):
    """A projection that cannot be made as asked (nothing to draw, too many points, bad value)."""


@dataclass(frozen=True)
class Params:
    """What to project and how. ``max_points`` None: the method's default sample size."""

    method: str = "pca"
    seed: int = 0
    max_points: int | None = None
    n_neighbors: int = 15
    min_dist: float = 0.1
    perplexity: float = 30.0

    @property
    def limit(self) -> int:
        """How many points are laid out at most (a seeded sample above this)."""
        return int(self.max_points or SAMPLE[self.method])

    def checked(self) -> Params:
        """Return these parameters if they are sensible.

        Raises:
            ProjectionError: for an unknown method, a bad value or too many points.
        """
        if self.method not in METHODS:
            raise ProjectionError(f"Unknown method '{self.method}': use one of {METHODS}.")
        if not 1 <= self.limit <= MAX_POINTS:
            raise ProjectionError(
                f"A map of {self.limit:,} points was asked for; the limit is {MAX_POINTS:,} "
                "(a browser cannot show more, and the layout would take hours). Ask for fewer: "
                "a seeded sample of the collection is drawn."
            )
        if not (2 <= self.n_neighbors <= 200 and 0.0 <= self.min_dist <= 1.0):
            raise ProjectionError("UMAP needs 2-200 neighbours and a min_dist between 0 and 1.")
        if not 2.0 <= self.perplexity <= 100.0:
            raise ProjectionError("t-SNE perplexity must be between 2 and 100.")
        if not 0 <= self.seed < 2**31:
            raise ProjectionError("The seed must be a whole number from 0 to 2,147,483,647.")
        return self


@dataclass(frozen=True)
class Fit:
    """A layout of some vectors: (n, 2) coordinates and what is needed to place new ones."""

    coords: np.ndarray  # (n, 2) float32
    method: str  # the method actually used (PCA when too few points for the others)
    notes: tuple[str, ...] = ()
    mean: np.ndarray | None = None  # (d,) PCA centre
    components: np.ndarray | None = None  # (2, d) PCA axes
    explained: float | None = None  # share of the variance the two PCA axes keep
    model: Any = None  # a fitted UMAP (memory only, never written to disk)


@dataclass(frozen=True)
class Projection:
    """A collection's map: one point per chunk (a seeded sample when the collection is big)."""

    fit: Fit
    params: Params
    chunk_ids: np.ndarray  # (n,) int64, ascending
    doc_ids: np.ndarray  # (n,) str
    total: int
    seconds: float
    key: str
    cached: bool = False

    @property
    def coords(self) -> np.ndarray:
        """(n, 2) coordinates."""
        return self.fit.coords


@dataclass(frozen=True)
class Plan:
    """What a projection will do before it runs."""

    points: int
    total: int
    seconds: float
    cached: bool


def estimate_seconds(method: str, n: int) -> float:
    """Rough wall time on an idle 2-core CPU (fitted to measure.projections), plus the
    first run's compilation. A busy machine can take 2-4 times longer."""
    nlogn = n * math.log2(max(n, 2))
    cost = {"pca": 0.02 + 4e-6 * n, "umap": 1.0 + nlogn / 3.4e4, "tsne": 0.5 + 1.4e-5 * n**1.55}
    first_run = {"pca": 0.0, "umap": 15.0 if n <= 4096 else 30.0, "tsne": 1.0}  # numba compiles
    return cost[method] + (0.0 if (method, n > 4096) in _WARM else first_run[method])


def pca(vectors: np.ndarray, dims: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Exact PCA by eigen-decomposition of the covariance; deterministic signs.

    Returns:
        (coords (n, dims), mean (d,), components (dims, d), share of variance kept).
    """
    x = np.asarray(vectors, dtype=np.float32)
    mean = x.mean(axis=0, dtype=np.float64).astype(np.float32)
    centred = x - mean  # (n, d)
    values, axes = np.linalg.eigh((centred.T @ centred).astype(np.float64))  # ascending
    order = np.argsort(values)[::-1][: min(dims, x.shape[1])]
    components = axes[:, order].T  # (dims, d)
    signs = np.sign(components[np.arange(len(order)), np.abs(components).argmax(axis=1)])
    components = (components * np.where(signs == 0, 1, signs)[:, None]).astype(np.float32)
    kept = float(values[order].sum() / values.sum()) if values.sum() > 1e-12 else 0.0
    return centred @ components.T, mean, components, kept


def project_vectors(vectors: np.ndarray, params: Params) -> Fit:
    """Lay out ``vectors`` (n, d) in 2D with ``params``; handles tiny and duplicate inputs.

    Raises:
        ProjectionError: for no vectors at all.
    """
    params = params.checked()
    n = len(vectors)
    if n == 0:
        raise ProjectionError("There is nothing to draw: the collection has no vectors yet.")
    distinct = distinct_rows(vectors)
    method, notes = params.method, []
    if n == 1:
        notes.append("One point only: it sits at the centre; add documents to see a map.")
    if distinct < n:
        notes.append(f"{n - distinct} duplicate vectors sit exactly on top of others.")
    if method != "pca" and distinct < MIN_NONLINEAR:
        notes.append(
            f"{LABELS[method]} needs at least {MIN_NONLINEAR} distinct points and this has "
            f"{distinct}: showing PCA instead."
        )
        method = "pca"
    started = time.perf_counter()
    with single_thread():
        fit = _layout(vectors, replace(params, method=method))
    _WARM.add((method, n > 4096))  # UMAP compiles NN-descent only for larger inputs
    log.info("%s of %d points in %.2f s", method, n, time.perf_counter() - started)
    return replace(fit, notes=(*notes, *fit.notes))


def single_thread() -> Any:
    """Limit BLAS and OpenMP to one thread for the block (a context manager).

    Beside torch's, FAISS's and numba's thread pools on a 2-core CPU, spinning BLAS/OpenMP
    threads made PCA 4-10x and t-SNE 3-40x slower (measured under load), never faster.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def _layout(vectors: np.ndarray, params: Params) -> Fit:
    if params.method == "umap":
        return _umap(vectors, params)
    if params.method == "tsne":
        return _tsne(vectors, params)
    coords, mean, comps, kept = pca(vectors)
    coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
    return Fit(coords.astype(np.float32), "pca", (), mean, comps, kept)


def distinct_rows(vectors: np.ndarray) -> int:
    """How many different rows ``vectors`` has."""
    rows = np.ascontiguousarray(vectors)
    if rows.size == 0:
        return 0
    return len(np.unique(rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1])))))


def _reduce(vectors: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    if vectors.shape[1] <= PRE_DIMS:
        return np.asarray(vectors, dtype=np.float32), None
    coords, mean, comps, _ = pca(vectors, PRE_DIMS)
    return coords, (mean, comps)


def _umap(vectors: np.ndarray, params: Params) -> Fit:
    import umap

    reduced, basis = _reduce(vectors)
    neighbours = min(params.n_neighbors, len(vectors) - 1)
    model = umap.UMAP(
        n_neighbors=neighbours,
        min_dist=params.min_dist,
        n_epochs=200,
        random_state=params.seed,
        transform_seed=params.seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coords = model.fit_transform(reduced)
    notes = () if neighbours == params.n_neighbors else (f"UMAP used {neighbours} neighbours.",)
    return Fit(np.asarray(coords, np.float32), "umap", notes, model=(basis, model))


def _tsne(vectors: np.ndarray, params: Params) -> Fit:
    from sklearn.manifold import TSNE

    reduced, _ = _reduce(vectors)
    perplexity = min(params.perplexity, (len(vectors) - 1) / 3)
    tsne = TSNE(perplexity=perplexity, init="pca", max_iter=500, random_state=params.seed)
    coords = tsne.fit_transform(reduced)
    notes = () if perplexity == params.perplexity else (f"t-SNE perplexity {perplexity:.1f}.",)
    return Fit(np.asarray(coords, np.float32), "tsne", notes)


def plan(collection: Collection, params: Params) -> Plan:
    """How many points, how long, and whether the map is already cached."""
    params = params.checked()
    total = collection.store.counts()[1]
    points = min(total, params.limit)
    key = cache_key(collection, params)
    on_disk = (_cache_dir(collection) / key / "meta.json").is_file()
    cached = on_disk or (str(collection.path), key) in _KEPT
    # Too few points for UMAP or t-SNE: the projection falls back to PCA, and so does the estimate.
    method = params.method if points >= MIN_NONLINEAR else "pca"
    return Plan(points, total, estimate_seconds(method, points), cached)


def project_collection(collection: Collection, params: Params) -> Projection:
    """The map of ``collection``: from the disk cache when present, else computed and saved.

    Raises:
        ProjectionError: for an empty collection or bad parameters.
    """
    params = params.checked()
    collection.refresh()
    key = cache_key(collection, params)
    found = _KEPT.get((str(collection.path), key)) or _load(collection, key, params)
    if found is not None:
        return found
    ids = collection.store.chunk_ids()
    if len(ids) == 0:
        raise ProjectionError(
            f"Collection '{collection.name}' has no documents yet: add some on the "
            "Collections page, then come back to see its map."
        )
    chosen = sample_ids(ids, params.limit, params.seed)
    if len(chosen) == len(ids):  # one sequential read instead of batched lookups
        chosen, vectors = collection.store.all_vectors(collection.model.dimension)
    else:
        vectors = collection.store.vectors_for(chosen, collection.model.dimension)
    started = time.perf_counter()
    fit = project_vectors(vectors, params)
    if len(chosen) < len(ids):
        note = f"A seeded sample of {len(chosen):,} of the {len(ids):,} chunks is projected."
        fit = replace(fit, notes=(note, *fit.notes))
    doc_ids = _doc_ids(collection, chosen)
    seconds = time.perf_counter() - started
    if fit.model is not None:  # kept in memory for .transform; never pickled or saved
        _MODELS[key] = fit.model
        while len(_MODELS) > 4:
            _MODELS.popitem(last=False)
    result = Projection(replace(fit, model=None), params, chosen, doc_ids, len(ids), seconds, key)
    if config.read_only():
        _keep(collection, result)
    else:
        _save(collection, result)
    return result


def _keep(collection: Collection, result: Projection) -> None:
    """Read-only mode: keep the map in memory (the newest :data:`KEEP_CACHED`), not on disk."""
    _KEPT[(str(collection.path), result.key)] = replace(result, cached=True)
    while len(_KEPT) > KEEP_CACHED:
        _KEPT.popitem(last=False)


def _doc_ids(collection: Collection, chunk_ids: np.ndarray) -> np.ndarray:
    ids, docs = collection.store.chunk_doc_ids()
    return docs[np.searchsorted(ids, chunk_ids)]


def sample_ids(ids: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """All ``ids`` sorted, or a seeded sample of ``limit`` of them (sorted)."""
    ids = np.sort(np.asarray(ids, dtype=np.int64))
    if len(ids) <= limit:
        return ids
    return np.sort(np.random.default_rng(seed).choice(ids, size=limit, replace=False))


def cache_key(collection: Collection, params: Params) -> str:
    """A hash of the collection's identity and content generation, model, method, params."""
    store = collection.store
    ident = {
        "version": CACHE_VERSION,
        "created": store.get_meta("created_at"),
        "generation": store.generation,
        "counts": store.counts(),
        "model": collection.model.fingerprint,
        "params": asdict(params),
    }
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:24]


def _cache_dir(collection: Collection):
    return collection.path / "projections"


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def _save(collection: Collection, result: Projection) -> None:
    fit, root = result.fit, _cache_dir(collection)
    tmp = root / f".tmp-{result.key}-{time.time_ns()}"
    tmp.mkdir(parents=True)
    arrays = {"coords": fit.coords, "chunk_ids": result.chunk_ids, "doc_ids": result.doc_ids}
    if fit.mean is not None:
        arrays |= {"mean": fit.mean, "components": fit.components}
    for name, array in arrays.items():
        atomic.write_bytes(tmp / f"{name}.npy", _npy(array))
    meta = {"method": fit.method, "notes": list(fit.notes), "explained": fit.explained}
    meta |= {"total": result.total, "seconds": result.seconds, "params": asdict(result.params)}
    atomic.write_json(tmp / "meta.json", meta)
    try:
        tmp.replace(root / result.key)
        atomic.fsync_dir(root)
    except OSError:  # another session saved the same map first
        shutil.rmtree(tmp, ignore_errors=True)
    _prune(root)


def fitted_model(key: str) -> Any:
    """The fitted UMAP (basis, model) of map ``key`` if this process made it, else None."""
    return _MODELS.get(key)


def _load(collection: Collection, key: str, params: Params) -> Projection | None:
    folder = _cache_dir(collection) / key
    try:
        meta = json.loads((folder / "meta.json").read_text())
        arrays = {
            p.stem: np.load(p, allow_pickle=False) for p in folder.glob("*.npy") if p.is_file()
        }
        fit = Fit(
            arrays["coords"],
            meta["method"],
            tuple(meta["notes"]),
            arrays.get("mean"),
            arrays.get("components"),
            meta["explained"],
        )
        ids, docs = arrays["chunk_ids"], arrays["doc_ids"]
        return Projection(fit, params, ids, docs, meta["total"], meta["seconds"], key, True)
    except (OSError, ValueError, KeyError) as exc:
        if folder.exists():
            log.warning("ignoring unreadable projection cache %s: %s", folder, exc)
        return None


def _prune(root) -> None:
    maps = (p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    folders = sorted(maps, key=lambda p: p.stat().st_mtime)  # never another save's temp folder
    for old in folders[:-KEEP_CACHED]:
        shutil.rmtree(old, ignore_errors=True)
