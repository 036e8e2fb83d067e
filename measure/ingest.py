"""Whole-process ingest against plain ``SentenceTransformer.encode``, per encoder, in one run.

For each text set (short texts: SciFact titles; SciFact abstracts that fit the window) the
same texts are timed three ways, one after the other on the same machine:

- plain: ``SentenceTransformer.encode(batch_size=32)`` in this process, the model already
  loaded (the baseline; its model load is not counted);
- ``python -m core ingest`` as a fresh process, once per encoder: Python start, model load,
  reading, chunking, embedding, SQLite and the FAISS index all counted. The int8 export is made
  before the timing (it happens once per machine) and the processes reuse it.

Ratios are plain seconds over ingest seconds (above 1: the whole ingest beats plain encode).
A one-document ingest per encoder shows the fixed cost (start, imports, model load). With a
cached export the int8 process imports no torch (``core.model.onnx_encoder``).
Query latency: end-to-end searches (encode + hybrid search + fetch) on the demo collection,
built and searched with each encoder, questions taken alternately.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from core import config
from measure import evaluation
from measure.bench import temporary_data_dir

log = logging.getLogger(__name__)

ENCODERS = ("onnx-int8", "torch")


def bench_ingest(documents: int = 500, queries: int = 200) -> dict[str, Any]:
    """Seconds and ratios of whole-process ingest vs plain encode; demo query p50/p95."""
    from core.model.embedder import Embedder

    torch_embedder = Embedder(encoder="torch")
    plain = evaluation._load_sentence_transformer(torch_embedder.name)
    out: dict[str, Any] = {"documents": documents, "threads": config.threads()}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        with temporary_data_dir(data):
            embedders = {
                "torch": torch_embedder,
                "onnx-int8": torch_embedder.with_encoder("onnx-int8"),
            }
        for name, texts in text_sets(torch_embedder, documents).items():
            plain.encode(texts[:32], normalize_embeddings=True)  # warm-up
            started = time.perf_counter()
            plain.encode(texts, batch_size=32, normalize_embeddings=True)
            plain_s = time.perf_counter() - started
            out[f"{name}_plain_encode_s"] = round(plain_s, 2)
            for encoder in ENCODERS:
                spent = process_ingest(texts, encoder, data, Path(tmp) / f"{name}-{encoder}.jsonl")
                key = encoder.replace("-", "_")
                out[f"{name}_ingest_{key}_s"] = round(spent, 2)
                out[f"{name}_ingest_{key}_vs_plain"] = round(plain_s / spent, 2)
                log.info(
                    "%s, %s: ingest %.1f s, plain encode %.1f s", name, encoder, spent, plain_s
                )
        out.update(fixed_cost(texts[:1], data, Path(tmp)))
        out.update(demo_latency(embedders, queries, Path(tmp) / "demo"))
    return out


def text_sets(embedder: Any, limit: int) -> dict[str, list[str]]:
    """``limit`` SciFact titles (short) and ``limit`` abstracts that fit the model window."""
    data = evaluation.load_beir(evaluation.default_eval_dir() / "scifact", "train")
    titles = [d.get("title", "").strip() for d in data.corpus.values()]
    texts = [evaluation.doc_text(d) for d in data.corpus.values()]
    lengths = embedder.tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
    fits = [t for t, ids in zip(texts, lengths, strict=True) if len(ids) <= embedder.max_tokens]
    return {"short": [t for t in titles if t][:limit], "abstracts": fits[:limit]}


def process_ingest(texts: list[str], encoder: str, data: Path, corpus: Path) -> float:
    """Wall seconds of ``python -m core ingest`` over ``texts`` with ``encoder``, from start
    to exit, into a new collection in ``data``."""
    with corpus.open("w") as handle:
        for i, text in enumerate(texts):
            handle.write(json.dumps({"id": f"d{i}", "text": text}) + "\n")
    env = {**os.environ, "EMBEDLAB_DATA_DIR": str(data), "EMBEDLAB_ENCODER": encoder}
    command = [sys.executable, "-m", "core", "ingest", str(corpus), "--collection", corpus.stem]
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True, cwd=config.PROJECT_ROOT)
    return time.perf_counter() - started


def fixed_cost(texts: list[str], data: Path, tmp: Path) -> dict[str, float]:
    """Seconds of a whole-process ingest of one text per encoder: start, imports, model load,
    storage; what a small ingest pays beyond encoding."""
    out = {}
    for encoder in ENCODERS:
        spent = process_ingest(texts, encoder, data, tmp / f"one-{encoder}.jsonl")
        out[f"one_document_ingest_{encoder.replace('-', '_')}_s"] = round(spent, 2)
    return out


def demo_latency(embedders: dict[str, Any], count: int, data: Path) -> dict[str, float]:
    """End-to-end hybrid query latency on the demo collection built with each encoder; the
    encoders take turns query by query, so a busy moment falls on both alike."""
    from core.ingest import builtin
    from core.search.query import search
    from core.storage.collection import Collection

    docs = builtin.demo_documents()
    questions = [" ".join(d.text.split()[:8]) for d in docs[:count]]
    times: dict[str, list[float]] = {name: [] for name in embedders}
    collections = {}
    for name, embedder in embedders.items():
        with temporary_data_dir(data / name):
            builtin.ensure_demo(embedder)
            collections[name] = Collection(config.DEMO_COLLECTION, embedder.info)
            search(collections[name], embedder, questions[0])  # warm-up
    for question in questions:
        for name, embedder in embedders.items():
            result = search(collections[name], embedder, question)
            times[name].append(result.latency_ms)
    out: dict[str, float] = {"demo_queries": len(questions)}
    for name, spent in times.items():
        key = name.replace("-", "_")
        out[f"demo_query_p50_ms_{key}"] = round(float(np.percentile(spent, 50)), 2)
        out[f"demo_query_p95_ms_{key}"] = round(float(np.percentile(spent, 95)), 2)
    return out
