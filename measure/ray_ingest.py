"""Ingest on Ray against the single-process ingest: documents/s, same files, same run.

The corpus is SciFact's abstracts (title + text), read from the shared evaluation data
(``config.eval_dir()``, never copied into the repository) and written as JSONL files into a
temp folder, ``FILES`` of them so the reading stage has files to spread. Both engines ingest
those files into new collections in one temp data dir with the default encoder (onnx-int8,
exported before any timing), one after the other:

- single process: ``load_paths`` + ``ingest_documents``, the model already loaded;
- Ray: ``RaySession`` started on this machine (no ``RAY_ADDRESS``: one actor per core, one
  thread each), then its ``load_paths`` + ``ingest_documents``. Its start-up (``ray.init``)
  is timed apart; the actors' model loading is inside the Ray time, as it is for a user.

The ratio is Ray docs/s over single-process docs/s (above 0.8: the issue's target), with and
without the start-up; the two collections' vectors are compared too (max abs difference).
The driver's writes (``add_vectors``, the one serial step) are timed: their docs/s is the
ceiling a cluster of any size meets.

``python -m measure ray_ingest [--documents N]`` runs it alone; ``bench`` runs it as a section.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core import config
from measure import evaluation
from measure.bench import temporary_data_dir

log = logging.getLogger(__name__)

FILES = 8


def bench_ray_ingest(documents: int | None = None) -> dict[str, Any]:
    """Docs/s of Ray ingest vs single-process ingest over ``documents`` SciFact abstracts
    (all of them when None); Ray's start-up seconds; the vectors' largest difference."""
    from core.model.embedder import Embedder

    texts = scifact_abstracts(documents)
    out: dict[str, Any] = {"documents": len(texts), "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp, temporary_data_dir(Path(tmp) / "data"):
        files = write_files(texts, Path(tmp) / "corpus")
        embedder = Embedder()  # exports the int8 encoder into this data dir, before timing
        out["encoder"] = embedder.encoder
        out["load_average_start"] = [round(v, 2) for v in os.getloadavg()]
        single_s = _single(files, embedder)
        ray_s, startup_s, chunks, write_s = _on_ray(files, embedder)
        out["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
        out["max_abs_vector_difference"] = _difference(embedder)
    out.update(
        chunks=chunks,
        single_s=round(single_s, 1),
        ray_s=round(ray_s, 1),
        ray_startup_s=round(startup_s, 1),
        single_docs_per_s=round(len(texts) / single_s, 1),
        ray_docs_per_s=round(len(texts) / ray_s, 1),
        ray_docs_per_s_with_startup=round(len(texts) / (ray_s + startup_s), 1),
        ray_vs_single=round(single_s / ray_s, 2),
        ray_vs_single_with_startup=round(single_s / (ray_s + startup_s), 2),
    )
    out["ray_docs_per_s_per_worker"] = round(out["ray_docs_per_s"] / config.threads(), 1)
    out["driver_write_s"] = round(write_s, 2)  # the serial part: its docs/s bounds a cluster
    out["driver_write_docs_per_s"] = round(len(texts) / max(write_s, 1e-9))
    return out


def scifact_abstracts(limit: int | None) -> list[str]:
    """SciFact's documents as the lab embeds them (title + text), in corpus order."""
    data = evaluation.load_beir(evaluation.default_eval_dir() / "scifact", "train")
    texts = [evaluation.doc_text(d) for d in data.corpus.values()]
    return texts[:limit] if limit else texts


def write_files(texts: Sequence[str], folder: Path) -> list[Path]:
    """``texts`` as ``FILES`` JSONL files of ``{"id", "text"}`` lines."""
    folder.mkdir(parents=True)
    paths = [folder / f"part{i}.jsonl" for i in range(FILES)]
    for i, path in enumerate(paths):
        lines = [json.dumps({"id": f"d{j}", "text": texts[j]}) for j in range(i, len(texts), FILES)]
        path.write_text("\n".join(lines) + "\n")
    return paths


def _single(files: list[Path], embedder: Any) -> float:
    from core.documents.readers import load_paths
    from core.ingest.pipeline import ingest_documents
    from core.storage.collection import Collection

    started = time.perf_counter()
    loaded = load_paths(files)
    ingest_documents(Collection("single", embedder.info, create=True), embedder, loaded.documents)
    return time.perf_counter() - started


def _on_ray(files: list[Path], embedder: Any) -> tuple[float, float, int, float]:
    """(seconds after start-up, start-up seconds, chunks, seconds the driver spent writing)
    of the Ray ingest."""
    from core.ingest.ray_engine import RaySession
    from core.storage.collection import Collection

    started = time.perf_counter()
    with RaySession() as engine:
        after_startup = time.perf_counter()
        loaded = engine.load_paths(files)
        collection = Collection("ray", embedder.info, create=True)
        writing = _time_writes(collection)
        report = engine.ingest_documents(collection, embedder, loaded.documents)
        ended = time.perf_counter()
    log.info("Ray stopped in %.1f s", time.perf_counter() - ended)
    return ended - after_startup, after_startup - started, report.chunks, sum(writing)


def _time_writes(collection: Any) -> list[float]:
    """Time every ``add_vectors`` of ``collection`` (the driver's one serial step): the
    seconds land in the returned list."""
    spent: list[float] = []
    add = collection.add_vectors

    def timed(*args: Any) -> Any:
        started = time.perf_counter()
        try:
            return add(*args)
        finally:
            spent.append(time.perf_counter() - started)

    collection.add_vectors = timed
    return spent


def _difference(embedder: Any) -> float:
    """Largest |single - Ray| over every chunk vector, chunks matched by (document, ordinal)."""
    from core.storage.collection import Collection

    vectors = []
    for name in ("single", "ray"):
        store = Collection(name, embedder.info).store
        owners, ordinals, found = store.document_vectors(
            [r["doc_id"] for r in store.documents(limit=10**6)], embedder.dimension
        )
        order = sorted(range(len(owners)), key=lambda i: (owners[i], ordinals[i]))
        vectors.append(found[order])
    if vectors[0].shape != vectors[1].shape:
        return float("inf")
    return float(np.abs(vectors[0] - vectors[1]).max())


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m measure ray_ingest [--documents N]``: print the figures as JSON."""
    parser = argparse.ArgumentParser(prog="python -m measure ray_ingest", description=__doc__)
    parser.add_argument("--documents", type=int, help="first N SciFact abstracts (default all)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    print(json.dumps(bench_ray_ingest(args.documents), indent=2))
    return 0
