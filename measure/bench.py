"""Quality and speed measured by the project itself, always against a baseline in the same run.

- ``eval scifact``: ingest SciFact with ``python -m core ingest`` (in-process, same code),
  answer the train claims with ``python -m core search --queries --json``, score nDCG@10 and
  Recall@100; beside it, plain sentence-transformers encode + exact numpy cosine search.
- ``eval stsb``: Spearman of the project's embeddings on STS-B dev, beside plain encode.
- ``eval encoders``: both figures for int8 and fp32 side by side (``measure.encoder_quality``).
- ``bench``'s ingest and query latency figures live in ``measure.ingest``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

from core import config
from core.errors import InputError
from measure import evaluation

log = logging.getLogger(__name__)


def run_eval(
    task: str,
    run_file: Path | None = None,
    baseline: bool = True,
    collection: str | None = None,
) -> dict[str, Any]:
    """Evaluate ``task`` ("scifact" or "stsb"); return the figures as a dict.

    Args:
        task: which data set.
        run_file: score this ``search --queries --json`` output instead of searching.
        baseline: also measure plain sentence-transformers on the same data.
        collection: reuse this already-ingested SciFact collection (skip the ingest).
    """
    folder = evaluation.default_eval_dir()
    if not folder.is_dir():
        raise InputError(
            f"No evaluation data at {folder}. Set EMBEDLAB_EVAL_DIR to the folder holding "
            "scifact/ and stsb/."
        )
    if task == "stsb":
        return _eval_stsb(folder / "stsb" / "sts-dev.csv", baseline)
    return _eval_scifact(folder / "scifact", run_file, baseline, collection)


def _eval_stsb(path: Path, baseline: bool) -> dict[str, Any]:
    from core.model.embedder import Embedder

    s1, s2, gold = evaluation.load_stsb(path)
    embedder = Embedder()
    out: dict[str, Any] = {"task": "STS-B dev", "pairs": len(gold)}
    out["spearman"] = round(evaluation.stsb_spearman(embedder.encode, s1, s2, gold), 2)
    if baseline:
        model = evaluation._load_sentence_transformer(embedder.name)
        plain = lambda texts: model.encode(texts, normalize_embeddings=True)  # noqa: E731
        out["spearman_plain_sentence_transformers"] = round(
            evaluation.stsb_spearman(plain, s1, s2, gold), 2
        )
    return out


def _eval_scifact(
    folder: Path, run_file: Path | None, baseline: bool, collection: str | None
) -> dict[str, Any]:
    data = evaluation.load_beir(folder, "train")
    out: dict[str, Any] = {"task": "SciFact train", "queries": len(data.qrels)}
    if run_file is not None:
        out.update(_score("run", evaluation.read_run_jsonl(run_file), data.qrels))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            out.update(_cli_runs(folder, data, Path(tmp), collection))
    if baseline:
        started = time.perf_counter()
        plain = evaluation.baseline_dense_run(config.model_name(), data.corpus, data.queries)
        out["baseline_seconds"] = round(time.perf_counter() - started, 1)
        out.update(_score("plain_sentence_transformers", plain, data.qrels))
    return out


def _cli_runs(
    folder: Path, data: evaluation.BeirData, tmp: Path, collection: str | None
) -> dict[str, Any]:
    """Ingest (unless reusing a collection) and search in every mode, as the CLI does."""
    out: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        if collection is None:
            stack.enter_context(temporary_data_dir(tmp / "data"))
            collection, started = "scifact", time.perf_counter()
            ingest_scifact(folder, collection)
            out["ingest_seconds"] = round(time.perf_counter() - started, 1)
        out.update(mode_scores(collection, data, tmp))
        out.update(ivf_on_real(collection, [data.queries[q] for q in data.qrels]))
        out.update(_fusion_sweep(collection, data))
    return out


def ingest_scifact(folder: Path, collection: str) -> None:
    """``python -m core ingest`` of SciFact's corpus (title and text) into ``collection``,
    in this process, with the configured encoder and data dir."""
    from core.cli import main

    corpus = str(folder / "corpus.jsonl")
    args = ["ingest", corpus, "--collection", collection, "--text-fields", "title,text"]
    with contextlib.redirect_stdout(sys.stderr):
        if main([*args, "--id-field", "_id"]) != 0:
            raise InputError("ingesting SciFact failed")


def mode_scores(collection: str, data: evaluation.BeirData, tmp: Path) -> dict[str, float]:
    """nDCG@10 and Recall@100 of ``python -m core search --queries --json`` in every mode."""
    from core.cli import main
    from core.search.query import MODES

    queries = tmp / "queries.jsonl"
    evaluation.write_queries_jsonl({q: data.queries[q] for q in data.qrels}, queries)
    out: dict[str, float] = {}
    for mode in MODES:
        run_file = tmp / f"run-{collection}-{mode}.jsonl"
        search = ["search", "--collection", collection, "--queries", str(queries)]
        with run_file.open("w") as handle, contextlib.redirect_stdout(handle):
            if main([*search, "-k", "100", "--mode", mode, "--json"]) != 0:
                raise InputError("searching SciFact failed")
        out.update(_score(mode, evaluation.read_run_jsonl(run_file), data.qrels))
    return out


def ivf_on_real(name: str, questions: list[str]) -> dict[str, Any]:
    """Recall@10 of the IVF index against exact search on a collection's real embeddings.

    The collection may be below the size where the lab picks IVF; here it is built anyway, so
    the approximate index is measured on real model vectors, with real questions as queries.
    """
    from core.model.embedder import Embedder
    from core.storage.collection import Collection, built_encoder
    from core.storage.index import build_ivf, exact_top, recall_at

    embedder = Embedder(encoder=built_encoder(name))  # the encoder that built it
    collection = Collection(name, embedder.info)
    ids, vectors = collection.store.all_vectors(embedder.dimension)
    index = build_ivf(np.asarray(ids), vectors)
    queries = embedder.encode(questions)
    _, found = index.search(queries, 10)
    exact = np.asarray(ids)[exact_top(vectors, queries, 10)]
    return {
        "ivf_real_chunks": len(ids),
        "ivf_real_nprobe": index.stats.nprobe,
        "ivf_real_recall@10_tuning_queries": round(float(index.stats.recall_at_10), 4),
        "ivf_real_recall@10_claims": round(recall_at(found, exact), 4),
    }


def _fusion_sweep(name: str, data: evaluation.BeirData) -> dict[str, Any]:
    """nDCG@10 of each fusion weight and of RRF (see :mod:`measure.fusion_sweep`)."""
    from core.model.embedder import Embedder
    from core.storage.collection import Collection, built_encoder
    from measure.fusion_sweep import sweep

    embedder = Embedder(encoder=built_encoder(name))  # the encoder that built it
    collection = Collection(name, embedder.info)
    queries = {q: data.queries[q] for q in data.qrels}
    return sweep(collection, embedder, queries, data.qrels)


def _score(label: str, run: dict, qrels: dict) -> dict[str, float]:
    return {
        f"{label}_ndcg@10": round(100 * evaluation.ndcg_at_k(run, qrels, 10), 2),
        f"{label}_recall@100": round(100 * evaluation.recall_at_k(run, qrels, 100), 2),
    }


def temporary_data_dir(path: Path) -> contextlib.AbstractContextManager:
    """Point ``EMBEDLAB_DATA_DIR`` at ``path`` for a ``with`` block, then restore it."""
    return mock.patch.dict(os.environ, {"EMBEDLAB_DATA_DIR": str(path)})
