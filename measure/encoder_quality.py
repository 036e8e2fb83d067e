"""int8 against fp32 quality in one run: SciFact train nDCG@10 per mode and STS-B dev Spearman.

``python -m measure eval encoders``: for each encoder (onnx-int8, torch) a SciFact collection
is ingested with ``python -m core ingest`` (in-process, the same code; or an existing one is
reused with ``--int8-collection`` / ``--torch-collection``, from ``EMBEDLAB_DATA_DIR``), the
train claims are answered with ``python -m core search --queries --json`` in every mode
(dense, keyword, hybrid) and scored; STS-B dev is embedded with each encoder. The figures sit
side by side with int8 minus fp32 and whether it is within the bar (0.5 nDCG point every
mode, 0.005 Spearman, i.e. 0.5 on the x100 scale the figures use). Only the train split and
the dev set are read: nothing here is tuned on SciFact test.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

from core.errors import InputError
from measure import evaluation
from measure.bench import ingest_scifact, mode_scores, temporary_data_dir

ENCODERS = {"onnx-int8": "int8", "torch": "fp32"}
MODES = ("dense", "keyword", "hybrid")
NDCG_BAR = 0.5  # nDCG@10 points
STSB_BAR = 0.5  # Spearman x100 (0.005 as a correlation)


def compare_encoders(collections: dict[str, str | None] | None = None) -> dict[str, Any]:
    """SciFact train nDCG@10 per mode and STS-B dev Spearman for int8 and fp32, side by side.

    Args:
        collections: encoder -> an already-ingested SciFact collection built with it (in
            ``EMBEDLAB_DATA_DIR``), or None to ingest one in a temporary data dir.
    """
    folder = evaluation.default_eval_dir()
    if not (folder / "scifact").is_dir():
        raise InputError(f"No SciFact at {folder}. Set EMBEDLAB_EVAL_DIR to the shared data.")
    data = evaluation.load_beir(folder / "scifact", "train")
    out: dict[str, Any] = {"task": "SciFact train, STS-B dev", "queries": len(data.qrels)}
    for encoder, key in ENCODERS.items():
        given = (collections or {}).get(encoder)
        figures = _scifact(folder / "scifact", data, encoder, given)
        out.update({f"{key}_{k}": v for k, v in figures.items()})
    out.update(_stsb(folder / "stsb" / "sts-dev.csv"))
    out.update(verdict(out))
    return out


def _scifact(
    folder: Path, data: evaluation.BeirData, encoder: str, collection: str | None
) -> dict[str, Any]:
    """Ingest (unless reusing ``collection``) with ``encoder``, then score every mode."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.dict(os.environ, {"EMBEDLAB_ENCODER": encoder}))
        if collection is None:
            stack.enter_context(temporary_data_dir(Path(tmp) / "data"))
            collection, started = "scifact", time.perf_counter()
            ingest_scifact(folder, collection)
            out["ingest_seconds"] = round(time.perf_counter() - started, 1)
        else:
            check_complete(collection, len(data.corpus))
        out["collection_reused"] = "ingest_seconds" not in out
        out.update(mode_scores(collection, data, Path(tmp)))
    return out


def check_complete(name: str, documents: int) -> None:
    """Refuse to score a reused collection that does not hold the whole corpus.

    Raises:
        InputError: if ``name`` is missing or holds another number of documents.
    """
    from core.storage.collection import list_collections

    held = {info.name: info.documents for info in list_collections()}.get(name)
    if held != documents:
        raise InputError(
            f"Collection '{name}' holds {held} of SciFact's {documents:,} documents: finish its "
            "ingest (run the same python -m core ingest again) or leave the option out."
        )


def _stsb(path: Path) -> dict[str, float]:
    """STS-B dev Spearman (x100) with each encoder."""
    from core.model.embedder import Embedder

    s1, s2, gold = evaluation.load_stsb(path)
    out = {}
    for encoder, key in ENCODERS.items():
        embedder = Embedder(encoder=encoder)
        out[f"{key}_stsb_spearman"] = round(
            evaluation.stsb_spearman(embedder.encode, s1, s2, gold), 2
        )
    return out


def verdict(figures: dict[str, Any]) -> dict[str, Any]:
    """int8 minus fp32 for each figure, and whether every one is within the bar."""
    out: dict[str, Any] = {}
    ok = True
    for name, bar in [*((f"{m}_ndcg@10", NDCG_BAR) for m in MODES), ("stsb_spearman", STSB_BAR)]:
        delta = round(figures[f"int8_{name}"] - figures[f"fp32_{name}"], 2)
        out[f"int8_minus_fp32_{name}"] = delta
        ok = ok and abs(delta) <= bar
    out["within_bar"] = ok
    return out


def format_table(figures: dict[str, Any]) -> str:
    """The comparison as a small Markdown table."""
    lines = ["| measure | int8 | fp32 (torch) | int8 - fp32 |", "|---|---|---|---|"]
    names = [*((f"{m}_ndcg@10", f"SciFact train nDCG@10, {m}") for m in MODES)]
    for name, label in [*names, ("stsb_spearman", "STS-B dev Spearman x100")]:
        lines.append(
            f"| {label} | {figures[f'int8_{name}']:.2f} | {figures[f'fp32_{name}']:.2f} | "
            f"{figures[f'int8_minus_fp32_{name}']:+.2f} |"
        )
    return "\n".join(lines)
