"""Ingest on Ray (``python -m core ingest ... --engine ray``): the same ingest as
``core.ingest.pipeline``, its reading, chunking and encoding run as Ray Data pipelines.

Data flow, each step in the order the single-process ingest takes it:

1. files: the driver lists them (``expand_paths``); Ray tasks read them, one row per file
   (:func:`~core.ingest.ray_workers.read_file_row`), returned in file order, so ids, refused
   files and the per-ingest limit come out as a single process gives them;
2. the driver picks what to store (``start_ingest``: skip what is stored or duplicated,
   rename a taken id): it needs the whole collection, so it is not spread out;
3. ``map_batches`` over an actor pool (:class:`~core.ingest.ray_workers.ChunkEncoder`, one
   CPU and the model loaded once per actor, with the collection's encoder) chunks and
   encodes the documents, order preserved;
4. the driver writes each batch of whole documents through ``Collection.add_vectors``, one
   transaction per batch as today: a killed run loses at most the batches in flight and a
   rerun skips what is stored.

Ray is imported only here, and only when this engine runs. Without ``RAY_ADDRESS`` it starts
on this machine (a private temp dir, no dashboard, no usage stats, worker logs kept off the
console) and stops after the ingest; with it, it joins that cluster and leaves it running.
Every node needs this project and its Python environment at the same paths, and the data dir
(the int8 encoder cache) reachable: the workers get the driver's settings
(``config.worker_environment``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import socket
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from core import config
from core.documents.chunking import Chunk
from core.documents.readers import (
    Document,
    FieldSpec,
    LoadResult,
    Problem,
    check_document_count,
    expand_paths,
)
from core.errors import EngineError, LabError
from core.ingest import ray_workers
from core.ingest.pipeline import IngestProgress, IngestReport, finish_ingest, start_ingest
from core.model.embedder import Embedder
from core.storage.collection import Collection

log = logging.getLogger(__name__)

CPUS_PER_ACTOR = 1  # one encoder thread per actor: Ray spreads actors over the cores
ENCODE_BATCH = 64  # documents per actor call
READ_BLOCKS = 64  # most blocks (tasks) the file list is split into


class RaySession:
    """Ray for one ingest: ``with RaySession() as engine: engine.load_paths(...)``.

    ``startup_s`` is how long starting (or joining) Ray took.
    """

    def __init__(self) -> None:
        self.address = config.ray_address()
        self.startup_s = 0.0
        self._temp: Path | None = None
        self._ray: Any = None

    def __enter__(self) -> RaySession:
        started = time.perf_counter()
        self._ray = _import_ray()
        _quiet_logs()
        if self.address is None:
            self._temp = Path(tempfile.mkdtemp(prefix="embedlab-ray-"))
        try:
            _init(self._ray, self.address, self._temp)
        except Exception as exc:  # ray raises ConnectionError, RuntimeError, ValueError...
            self._cleanup()
            raise EngineError(_start_failure(self.address, exc)) from None
        _quiet_data_context()
        self.startup_s = time.perf_counter() - started
        log.info("Ray %s in %.1f s", "joined" if self.address else "started", self.startup_s)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._ray.shutdown()
        self._cleanup()

    def _cleanup(self) -> None:
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)

    def load_paths(
        self, paths: Sequence[str | Path], fields: FieldSpec | None = None
    ) -> LoadResult:
        """``readers.load_paths`` with the files read by Ray tasks: the same documents and
        problems, in the same order.

        Raises:
            InputError: over the per-ingest document limit (nothing is stored).
        """
        result, listing, shown = LoadResult(), [], 0
        files = [(path, name, len(listing)) for path, name in expand_paths(paths, listing)]
        items = [{"file": i, "path": str(f[0]), "name": f[1]} for i, f in enumerate(files)]
        rows = self._read(items, fields or FieldSpec()) if items else []
        for row, (path, _, listed) in zip(rows, files, strict=True):
            result.problems.extend(listing[shown:listed])  # in the order a single process
            shown = listed  # meets them: inputs listed before this file, then the file
            result.documents.extend(ray_workers.documents_from_json(row["documents"]))
            if row["problem"]:
                result.problems.append(Problem(str(path), row["problem"]))
            check_document_count(len(result.documents), stopped_at=str(path))
        result.problems.extend(listing[shown:])
        return result

    def _read(self, items: list[dict[str, Any]], fields: FieldSpec) -> list[dict[str, Any]]:
        """Ray tasks read the files: one row per item, in the items' order."""
        dataset = self._ray.data.from_items(items, override_num_blocks=min(len(items), READ_BLOCKS))
        read = partial(ray_workers.read_file_row, fields=fields)
        with _worker_errors():
            return sorted(dataset.map(read).take_all(), key=lambda r: r["file"])

    def ingest_documents(
        self,
        collection: Collection,
        embedder: Embedder,
        documents: Sequence[Document],
        progress: IngestProgress | None = None,
        batch_size: int = 1024,
    ) -> IngestReport:
        """``pipeline.ingest_documents`` with chunking and encoding on Ray: the same report,
        the same stored documents, chunks and (to float rounding) vectors.

        Raises:
            ReadOnlyError, InputError: as ``pipeline.ingest_documents``.
            EngineError: if a Ray worker fails.
        """
        started = time.perf_counter()
        report, todo, batch_size = start_ingest(collection, documents, batch_size)
        if progress and todo:
            progress(0, len(todo))
        for docs, chunks, vectors in _guarded(self._encoded(todo, embedder, batch_size)):
            collection.add_vectors(docs, chunks, vectors)
            report.added += len(docs)
            report.chunks += len(vectors)
            if progress:
                progress(report.added, len(todo))
        return finish_ingest(collection, report, started)

    def _encoded(
        self, todo: list[Document], embedder: Embedder, batch_size: int
    ) -> Iterator[tuple[list[Document], list[list[Chunk]], np.ndarray]]:
        """(documents, their chunks, their vectors) in ``todo``'s order, ``batch_size``
        documents at a time, chunked and encoded by the actor pool."""
        if not todo:
            return
        ray = self._ray
        rows = [{"i": i, "text": d.text} for i, d in enumerate(todo)]
        actors = max(1, int(ray.cluster_resources().get("CPU", 1)) // CPUS_PER_ACTOR)
        blocks = min(len(rows), max(actors, math.ceil(len(rows) / ENCODE_BATCH)), 4096)
        encoded = ray.data.from_items(rows, override_num_blocks=blocks).map_batches(
            ray_workers.ChunkEncoder,
            fn_constructor_kwargs={
                "model": _absolute(embedder.name),
                "encoder": embedder.encoder,
                "fingerprint": embedder.fingerprint,
                "threads": CPUS_PER_ACTOR,
            },
            batch_size=ENCODE_BATCH,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=CPUS_PER_ACTOR,
        )
        log.info("encoding %d documents on %d Ray actors", len(todo), actors)
        for batch in encoded.iter_batches(batch_size=batch_size, batch_format="numpy"):
            docs = [todo[int(i)] for i in batch["i"]]
            chunks = [ray_workers.chunks_from_json(str(c)) for c in batch["chunks"]]
            parts = [
                ray_workers.vectors_from_bytes(v, embedder.dimension) for v in batch["vectors"]
            ]
            yield docs, chunks, np.concatenate(parts)


def _import_ray() -> Any:
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # before ray is imported
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise EngineError(
            f"--engine ray needs Ray ({exc}): pip install -r requirements.txt."
        ) from None
    return ray


def _init(ray: Any, address: str | None, temp: Path | None) -> None:
    """Join the cluster at ``address``, or start Ray here (``temp`` for its files)."""
    common = {
        "runtime_env": {"env_vars": config.worker_environment()},
        "log_to_driver": False,
        "configure_logging": False,
    }
    if address:
        _check_reachable(address)
        ray.init(address=address, **common)
        return
    ray.init(
        address="local",
        num_cpus=config.threads(),
        include_dashboard=False,
        _temp_dir=str(temp),
        **common,
    )


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast when nothing listens at ``host:port`` (Ray itself retries for minutes).

    Raises:
        ConnectionError: if the port does not answer (other address forms are left to Ray).
    """
    host, sep, port = address.rpartition(":")
    if "://" in address or not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ConnectionError(f"nothing answers at {address}: {exc}") from None


def _start_failure(address: str | None, exc: Exception) -> str:
    reason = f"{type(exc).__name__}: {str(exc).strip()[:300]}"
    if address is None:
        return (
            f"Could not start Ray on this machine ({reason}). Check free memory and /tmp "
            "space, or ingest without --engine ray."
        )
    return (
        f"Could not join the Ray cluster at RAY_ADDRESS={address} ({reason}). Check that "
        "`ray status` works on its head node and that the address is host:port of its GCS "
        "(the --port of `ray start --head`, 6379 by default). Ray 2.60 clusters started by "
        "`ray start --head` require a token: set RAY_AUTH_MODE=token here too (the token is "
        "read from ~/.ray/auth_token or RAY_AUTH_TOKEN). Unset RAY_ADDRESS to run Ray on "
        "this machine alone."
    )


def _quiet_data_context() -> None:
    """Ray Data settings for this driver: no progress bars, rows kept in input order."""
    from ray.data import DataContext

    context = DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False


def _quiet_logs() -> None:
    """Ray's notices only with ``-v`` (they are about Ray, not the ingest). After ``import
    ray``, which sets its loggers up; Ray Data sets its own at each run from the variable."""
    quiet = logging.getLogger("core").getEffectiveLevel() > logging.INFO
    level = "ERROR" if quiet else "INFO"
    os.environ["RAY_DATA_LOG_LEVEL"] = level
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(level)
    warnings.filterwarnings("ignore", message=".*minimum number of concurrent actors.*")


@contextlib.contextmanager
def _worker_errors() -> Iterator[None]:
    """A LabError raised in a Ray worker is raised here as itself, any other failure of Ray
    as an EngineError."""
    try:
        yield
    except LabError:
        raise
    except Exception as exc:  # Ray wraps worker errors in its own classes
        cause = _lab_cause(exc)
        if cause is not None:
            raise cause from None
        raise EngineError(f"Ray failed during the ingest ({type(exc).__name__}: {exc})") from exc


def _guarded(items: Iterator[Any]) -> Iterator[Any]:
    """``items``, with the errors of producing them (not of using them) as in
    :func:`_worker_errors`."""
    with _worker_errors():
        yield from items


def _lab_cause(exc: BaseException | None) -> LabError | None:
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, LabError):
            return exc
        exc = getattr(exc, "cause", None) or exc.__cause__
        seen += 1
    return None


def _absolute(model: str) -> str:
    """A model folder as an absolute path (workers may start in another folder)."""
    path = Path(model).expanduser()
    return str(path.resolve()) if path.is_dir() else model
