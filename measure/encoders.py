"""The encoders side by side: plain sentence-transformers, our torch path and onnx-int8.

Speed: the same SciFact abstracts (those that fit the 256-token window), encoded in blocks
of 256 texts; each block goes through every encoder in turn, in a shuffled order, so the
noise of a shared CPU falls on all of them alike. Docs/s are over all blocks; ratios are
against plain ``SentenceTransformer.encode(batch_size=32)`` measured in the same run.

Quality: STS-B dev Spearman and SciFact train dense nDCG@10 (exact numpy search) for each
encoder, plus SciFact searched with int8 queries over torch document vectors (the case a
collection mixing encoders would be).

The int8 export runs in a temporary data dir, so its time and size are measured and the
user's cache is left alone.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

from core import config
from measure import evaluation

log = logging.getLogger(__name__)

Encode = Callable[[list[str]], np.ndarray]
BLOCK = 256


def bench_encoders(documents: int = 1000, passes: int = 2, quality: bool = True) -> dict[str, Any]:
    """Measure docs/s and quality of plain ST, our torch path and onnx-int8; return figures.

    Args:
        documents: how many SciFact abstracts to time.
        passes: how many times every block is timed per encoder.
        quality: also score STS-B dev and SciFact train (a few minutes on 2 cores).
    """
    from core.model import onnx_encoder
    from core.model.embedder import Embedder

    with tempfile.TemporaryDirectory() as tmp:
        with mock.patch.dict(os.environ, {"EMBEDLAB_DATA_DIR": tmp}):
            torch_embedder = Embedder(encoder="torch")
            started = time.perf_counter()
            int8 = Embedder(encoder="onnx-int8")
            export_s = time.perf_counter() - started
            size = _cache_size(onnx_encoder.cache_folder(int8.fingerprint))
        plain = evaluation._load_sentence_transformer(torch_embedder.name)
        encoders: dict[str, Encode] = {
            "plain": lambda t: plain.encode(
                t, batch_size=32, normalize_embeddings=True, show_progress_bar=False
            ),
            "torch": torch_embedder.encode,
            "onnx_int8": int8.encode,
        }
        texts = fitting_texts(torch_embedder, documents)
        out: dict[str, Any] = {
            "documents": len(texts),
            "threads": config.threads(),
            "vnni": onnx_encoder.has_vnni(),
            "export_and_load_s": round(export_s, 1),
            "int8_cache_mb": round(size / 1e6, 1),
        }
        out.update(_speed(encoders, texts, passes))
        out.update(_agreement(encoders, texts[:200]))
        if quality:
            out.update(_quality(encoders))
    log.info("\n%s", format_table(out))
    return out


def fitting_texts(embedder: Any, limit: int) -> list[str]:
    """SciFact abstracts that fit the model window (the fair case for a throughput ratio)."""
    data = evaluation.load_beir(evaluation.default_eval_dir() / "scifact", "train")
    texts = [evaluation.doc_text(d) for d in data.corpus.values()]
    lengths = embedder.tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
    fits = [t for t, ids in zip(texts, lengths, strict=True) if len(ids) <= embedder.max_tokens]
    return fits[:limit]


def _speed(encoders: dict[str, Encode], texts: list[str], passes: int) -> dict[str, float]:
    """Docs/s per encoder over interleaved blocks, and each one's ratio to plain ST."""
    for encode in encoders.values():
        encode(texts[:64])  # warm-up: first calls allocate and pick kernels
    seconds = dict.fromkeys(encoders, 0.0)
    rng = np.random.default_rng(0)
    for _ in range(passes):
        for start in range(0, len(texts), BLOCK):
            block = texts[start : start + BLOCK]
            for name in rng.permutation(list(encoders)):
                began = time.perf_counter()
                encoders[name](block)
                seconds[name] += time.perf_counter() - began
    out: dict[str, float] = {}
    for name, spent in seconds.items():
        out[f"{name}_docs_per_s"] = round(passes * len(texts) / spent, 1)
        out[f"{name}_vs_plain"] = round(seconds["plain"] / spent, 2)
    return out


def _agreement(encoders: dict[str, Encode], texts: list[str]) -> dict[str, float]:
    """How close each encoder's vectors are to plain ST's (cosine, worst and mean)."""
    reference = encoders["plain"](texts)
    out: dict[str, float] = {}
    for name in ("torch", "onnx_int8"):
        cosine = np.sum(encoders[name](texts) * reference, axis=1)
        out[f"{name}_cosine_min"] = round(float(cosine.min()), 4)
        out[f"{name}_cosine_mean"] = round(float(cosine.mean()), 4)
    return out


def _quality(encoders: dict[str, Encode]) -> dict[str, float]:
    """STS-B dev Spearman (x100) per encoder; SciFact train nDCG@10 for torch and int8."""
    folder = evaluation.default_eval_dir()
    s1, s2, gold = evaluation.load_stsb(folder / "stsb" / "sts-dev.csv")
    out: dict[str, float] = {}
    for name, encode in encoders.items():
        out[f"stsb_spearman_{name}"] = round(evaluation.stsb_spearman(encode, s1, s2, gold), 2)
    data = evaluation.load_beir(folder / "scifact", "train")
    docs = [evaluation.doc_text(d) for d in data.corpus.values()]
    queries = list(data.queries.values())
    vectors = {n: (encoders[n](docs), encoders[n](queries)) for n in ("torch", "onnx_int8")}
    pairs = {
        "torch": vectors["torch"],
        "onnx_int8": vectors["onnx_int8"],
        "torch_docs_int8_queries": (vectors["torch"][0], vectors["onnx_int8"][1]),
    }
    for name, (doc_vectors, query_vectors) in pairs.items():
        run = dense_run(list(data.corpus), doc_vectors, list(data.queries), query_vectors)
        out[f"scifact_ndcg@10_{name}"] = round(100 * evaluation.ndcg_at_k(run, data.qrels), 2)
    out["stsb_delta_int8"] = round(out["stsb_spearman_onnx_int8"] - out["stsb_spearman_torch"], 2)
    out["scifact_delta_int8"] = round(
        out["scifact_ndcg@10_onnx_int8"] - out["scifact_ndcg@10_torch"], 2
    )
    return out


def dense_run(
    doc_ids: list[str], doc_vectors: np.ndarray, query_ids: list[str], query_vectors: np.ndarray
) -> evaluation.Run:
    """Exact inner-product search of every query over every document (top 100)."""
    scores = query_vectors @ doc_vectors.T  # (queries, docs)
    hits = evaluation.top_k_from_scores(scores, doc_ids, 100)
    return dict(zip(query_ids, hits, strict=True))


def format_table(figures: dict[str, Any]) -> str:
    """The figures as a small text table (one encoder per row) plus the other figures."""
    rows = [f"{'encoder':<10} {'docs/s':>8} {'vs plain':>9} {'STS-B':>7} {'SciFact':>8}"]
    for name in ("plain", "torch", "onnx_int8"):
        rows.append(
            f"{name:<10} {figures.get(f'{name}_docs_per_s', '-'):>8} "
            f"{figures.get(f'{name}_vs_plain', '-'):>9} "
            f"{figures.get(f'stsb_spearman_{name}', '-'):>7} "
            f"{figures.get(f'scifact_ndcg@10_{name}', '-'):>8}"
        )
    shown = ("docs_per_s", "vs_plain", "stsb_spearman_", "scifact_ndcg@10_")
    rest = {k: v for k, v in figures.items() if not any(s in k for s in shown)}
    rest["scifact_ndcg@10_torch_docs_int8_queries"] = figures.get(
        "scifact_ndcg@10_torch_docs_int8_queries", "-"
    )
    return "\n".join(rows + [f"{k}: {v}" for k, v in rest.items()])


def _cache_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
