"""``python -m measure bench``: every speed and quality figure in one run, one table, one JSON file.

Each speed figure is a ratio against a baseline measured in the same run, on the same
machine, at the same moment: plain ``SentenceTransformer.encode`` for encoding and ingest,
query encode + exact numpy search for query latency. The machine may be shared, so the load
average is recorded at the start and at the end; read the ratios, not the absolute times.

Sections (``--quick`` in brackets, under 3 minutes on 2 cores):

- encode: plain vs our torch path vs onnx-int8 on SciFact abstracts (800 docs [256]);
- ingest: whole-process ``core ingest`` per encoder vs plain encode, short texts and abstracts
  (500 each [128]), demo query latency per encoder (see measure/ingest.py);
- scale: query p50/p95, recall@10, build time, memory at 10k, 100k, 1M chunks [10k, 100k]
  (synthetic vectors, real SQLite + FAISS + search code);
- filtered: recall@10 against exact filtered search and p50/p95 for filters keeping 10%,
  1%, 0.1% of the chunks and 5 documents, at 100k and 1M chunks [100k]; the keyword ranking
  against a brute-force BM25 (documents returned, checks that agree);
- ray ingest: ``ingest --engine ray`` (Ray started here) vs the single-process ingest,
  docs/s on all 5,183 SciFact abstracts [800], Ray's start-up apart (measure/ray_ingest.py);
- projection: PCA, UMAP, t-SNE at 10k and 100k points [PCA and UMAP at 10k];
- quality: SciFact train nDCG@10 (dense, keyword, hybrid; plain sentence-transformers beside
  it) and STS-B dev Spearman [STS-B only];
- milvus: search latency p50/p95 per mode of the demo and of 100,000 chunks [demo only], embedded
  and copied into Milvus Lite's gRPC server, and with ``--collection`` SciFact nDCG@10 of that
  collection and its copy in Milvus (see measure/milvus_bench.py).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core import atomic, config
from measure import milvus_bench

log = logging.getLogger(__name__)

FULL = {
    "encode_docs": 800,
    "encode_passes": 2,
    "ingest_docs": 500,
    "demo_queries": 200,
    "scale": (10_000, 100_000, 1_000_000),
    "filtered": (100_000, 1_000_000),
    "projection_sizes": (10_000, 100_000),
    "projection_methods": ("pca", "umap", "tsne"),
    "projection_budget_s": 120.0,
    "scifact": True,
    "ray_docs": None,  # every SciFact abstract
    "milvus_sizes": (100_000,),
}
QUICK = {
    "encode_docs": 256,
    "encode_passes": 1,
    "ingest_docs": 128,
    "demo_queries": 50,
    "scale": (10_000, 100_000),
    "filtered": (100_000,),
    "projection_sizes": (10_000,),
    "projection_methods": ("pca", "umap"),
    "projection_budget_s": 60.0,
    "scifact": False,
    "ray_docs": 800,
    "milvus_sizes": (),  # the demo only: a copy of 10,000 chunks into Milvus Lite takes ~20 s
}


SECTIONS = (
    "encode",
    "ingest",
    "scale",
    "filtered",
    "ray_ingest",
    "projection",
    "quality",
    "milvus",
)


def run_all(
    quick: bool = False,
    collection: str | None = None,
    out: Path | None = None,
    progress: Callable[[str], None] | None = None,
    only: tuple[str, ...] = SECTIONS,
) -> dict[str, Any]:
    """Run every section (or those in ``only``); write the figures as JSON to ``out`` (if
    given) and return them.

    Args:
        quick: the short run (see the module docstring).
        collection: an already-ingested SciFact collection to reuse for the quality figures.
        out: where to write the JSON.
        progress: called with each section's name as it starts.
        only: the sections to run, by name (:data:`SECTIONS`).
    """
    plan = dict(QUICK if quick else FULL, collection=collection)
    say = progress or (lambda name: log.info("bench: %s", name))
    started = time.perf_counter()
    figures: dict[str, Any] = {
        "quick": quick,
        "cpus": os.cpu_count(),
        "threads": config.threads(),
        "load_average_start": [round(v, 2) for v in os.getloadavg()],
    }
    for name in (n for n in SECTIONS if n in only):
        figures.update(_SECTION_RUNNERS[name](plan, say))
    figures["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    figures["seconds"] = round(time.perf_counter() - started, 1)
    if out is not None:
        atomic.write_json(Path(out), figures)
    return figures


def _encode(plan: dict[str, Any], say: Callable[[str], None]) -> dict[str, Any]:
    from measure.encoders import bench_encoders

    say("encode: plain sentence-transformers vs ours vs onnx-int8")
    return {"encode": bench_encoders(plan["encode_docs"], plan["encode_passes"], quality=False)}


def _ingest(plan: dict[str, Any], say: Callable[[str], None]) -> dict[str, Any]:
    from measure.ingest import bench_ingest

    say("whole-process ingest per encoder vs plain encode, demo query latency")
    return {"ingest": bench_ingest(plan["ingest_docs"], plan["demo_queries"])}


def _scale(plan: dict[str, Any], say: Callable[[str], None]) -> dict[str, Any]:
    from core.model.embedder import Embedder
    from measure.scale import bench_scale

    say(f"query latency at {', '.join(f'{n:,}' for n in plan['scale'])} chunks")
    return {"scale": bench_scale(Embedder(encoder="torch"), plan["scale"])}


def _filtered(plan: dict[str, Any], say: Callable[[str], None]) -> dict[str, Any]:
    from core.model.embedder import Embedder
    from measure.filtered import bench_filtered, bench_keyword

    say("filtered search against exact filtered search; keyword ranking against brute force")
    embedder = Embedder(encoder="torch")
    return {
        "filtered": [bench_filtered(embedder, n) for n in plan["filtered"]],
        "keyword_contract": bench_keyword(embedder),
    }


def _ray_ingest(plan: dict[str, Any], say: Callable[[str], None]) -> dict[str, Any]:
    from measure.ray_ingest import bench_ray_ingest

    say("ingest on Ray vs the single-process ingest")
    return {"ray_ingest": bench_ray_ingest(plan["ray_docs"])}


def _projection(plan: dict[str, Any], say: Callable[[str], None]) -> dict[str, Any]:
    from measure.projections import bench_projection

    say("projection times")
    sizes, methods = plan["projection_sizes"], plan["projection_methods"]
    return {"projection": bench_projection(sizes, methods, plan["projection_budget_s"])}


def _quality(plan: dict[str, Any], say: Callable[[str], None]) -> dict[str, Any]:
    from measure.bench import run_eval

    say("quality: STS-B dev" + (", SciFact train" if plan["scifact"] else ""))
    quality = {"stsb": run_eval("stsb")}
    if plan["scifact"]:
        quality["scifact"] = run_eval("scifact", collection=plan["collection"])
    return {"quality": quality}


def _milvus(plan: dict[str, Any], say: Callable[[str], None]) -> dict[str, Any]:
    say("collections in Milvus: latency and SciFact beside the embedded store")
    return {"milvus": milvus_bench.run(plan["milvus_sizes"], plan["collection"])}


_SECTION_RUNNERS = {
    "encode": _encode,
    "ingest": _ingest,
    "scale": _scale,
    "filtered": _filtered,
    "ray_ingest": _ray_ingest,
    "projection": _projection,
    "quality": _quality,
    "milvus": _milvus,
}


def rows(figures: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(measure, ours, baseline, ratio) rows of the one table."""
    out: list[tuple[str, str, str, str]] = []
    enc = figures.get("encode", {})
    plain = enc.get("plain_docs_per_s")
    for name, label in (("torch", "torch fp32"), ("onnx_int8", "onnx-int8")):
        if f"{name}_docs_per_s" in enc:
            out.append(
                (
                    f"encode docs/s, {label}",
                    _num(enc[f"{name}_docs_per_s"]),
                    f"plain ST {_num(plain)}",
                    f"{enc[f'{name}_vs_plain']:.2f}x",
                )
            )
    ing = figures.get("ingest", {})
    for texts in ("short", "abstracts"):
        for key, label in (("onnx_int8", "onnx-int8"), ("torch", "torch fp32")):
            if f"{texts}_ingest_{key}_s" in ing:
                out.append(
                    (
                        f"whole-process ingest s, {ing['documents']} {texts}, {label}",
                        f"{ing[f'{texts}_ingest_{key}_s']:.1f}",
                        f"plain ST encode {ing[f'{texts}_plain_encode_s']:.1f}",
                        f"{ing[f'{texts}_ingest_{key}_vs_plain']:.2f}x",
                    )
                )
    if "one_document_ingest_onnx_int8_s" in ing:
        one, base = ing["one_document_ingest_onnx_int8_s"], ing["one_document_ingest_torch_s"]
        out.append(
            (
                "whole-process ingest s, 1 document (start, imports, load), onnx-int8",
                f"{one:.1f}",
                f"torch fp32 {base:.1f}",
                f"{base / one:.2f}x",
            )
        )
    if "demo_query_p95_ms_torch" in ing:
        p50, p95 = ing["demo_query_p50_ms_onnx_int8"], ing["demo_query_p95_ms_onnx_int8"]
        t50, t95 = ing["demo_query_p50_ms_torch"], ing["demo_query_p95_ms_torch"]
        out.append(
            (
                "demo query p50 / p95 ms (hybrid, end to end), onnx-int8",
                f"{p50:.1f} / {p95:.1f}",
                f"torch {t50:.1f} / {t95:.1f}",
                f"{t95 / p95:.2f}x",
            )
        )
    for row in figures.get("scale", []):
        n = f"{row['chunks']:,}"
        kind = row["index"] + (f", nprobe {row['nprobe']}" if row.get("nprobe") else "")
        out.append(
            (
                f"query p50 / p95 ms at {n} ({kind})",
                f"{row['p50_ms']:.1f} / {row['p95_ms']:.1f}",
                f"numpy {row['exact_numpy_p50_ms']:.1f} / {row['exact_numpy_p95_ms']:.1f}",
                f"{row['p50_ms'] / row['exact_numpy_p50_ms']:.2f}x / "
                f"{row['p95_ms'] / row['exact_numpy_p95_ms']:.2f}x",
            )
        )
        out.append(
            (
                f"recall@10, build s, index GB, RSS GB, disk GB at {n}",
                f"{row['recall_at_10']:.3f}, {row['build_s']:.0f}, {row['index_gb']:.2f}, "
                f"{row['rss_gb']:.2f}, {row['disk_gb']:.2f}",
                "exact 1.000",
                "",
            )
        )
        if row.get("ivf_search_ms_by_nprobe"):
            sweep = ", ".join(f"{k}: {v}" for k, v in row["ivf_search_ms_by_nprobe"].items())
            out.append((f"IVF search ms by nprobe at {n} (search only)", sweep, "", ""))
    out.extend(correctness_rows(figures))
    ray = figures.get("ray_ingest")
    if ray:
        out.append(
            (
                f"ingest docs/s on Ray, {ray['documents']:,} SciFact abstracts "
                f"(Ray start-up {ray['ray_startup_s']:.0f} s apart)",
                f"{ray['ray_docs_per_s']:.1f}",
                f"single process {ray['single_docs_per_s']:.1f}",
                f"{ray['ray_vs_single']:.2f}x ({ray['ray_vs_single_with_startup']:.2f}x with "
                "start-up)",
            )
        )
    out.extend(milvus_bench.table_rows(figures.get("milvus", {})))
    proj = figures.get("projection", {})
    for row in proj.get("runs", []):
        seconds = "skipped" if row["seconds"] is None else f"{row['seconds']:.1f}"
        out.append(
            (
                f"{row['method'].upper()} s at {row['points']:,} points",
                seconds,
                f"estimate {row['estimate_s']:.0f}",
                "",
            )
        )
    quality = figures.get("quality", {})
    stsb = quality.get("stsb")
    if stsb:
        out.append(
            (
                "STS-B dev Spearman",
                f"{stsb['spearman']:.2f}",
                f"plain ST {stsb.get('spearman_plain_sentence_transformers', '-')}",
                "",
            )
        )
    sci = quality.get("scifact")
    if sci:
        base = sci.get("plain_sentence_transformers_ndcg@10", "-")
        for mode in ("dense", "keyword", "hybrid"):
            out.append((f"SciFact train nDCG@10, {mode}", f"{sci[f'{mode}_ndcg@10']:.2f}", "", ""))
        out[-3] = (*out[-3][:2], f"plain ST {base}", "")
        if "ivf_real_recall@10_claims" in sci:
            out.append(
                (
                    f"IVF recall@10 on real SciFact vectors ({sci['ivf_real_chunks']:,} chunks, "
                    f"nprobe {sci['ivf_real_nprobe']})",
                    f"{sci['ivf_real_recall@10_claims']:.3f}",
                    "exact 1.000",
                    "",
                )
            )
    return out


def correctness_rows(figures: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Rows of filtered recall (against exact filtered search) and the keyword contract."""
    out = []
    for run in figures.get("filtered", []):
        for row in run["filters"]:
            out.append(
                (
                    f"filtered recall@10, p50 / p95 ms at {run['chunks']:,} ({run['index']}), "
                    f"filter {row['filter']} ({row['allowed']:,} chunks)",
                    f"{row['recall_at_10']:.3f}, {row['p50_ms']:.1f} / {row['p95_ms']:.1f}",
                    f"exact 1.000; first query {row['first_ms']:.0f} ms",
                    "",
                )
            )
    kw = figures.get("keyword_contract")
    if kw:
        out.append(
            (
                f"keyword top-k = brute-force BM25, {kw['chunks']:,} chunks (query x k x filter)",
                f"{kw['agree']} of {kw['checks']} agree",
                f"apple k=10: {kw['apple_k10_documents']} docs; topic b: "
                f"{kw['apple_topic_b_documents']}",
                "",
            )
        )
    return out


def format_report(figures: dict[str, Any]) -> str:
    """The one table, as GitHub Markdown, with the conditions of the run under it."""
    table = rows(figures)
    head = ("measure", "ours", "baseline (same run)", "ours / baseline")
    widths = [max(len(r[i]) for r in [head, *table]) for i in range(4)]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
        for r in [head, *table]
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    note = (
        f"{'quick' if figures.get('quick') else 'full'} run, {figures.get('cpus')} CPUs, "
        f"{figures.get('threads')} threads, load average {figures.get('load_average_start')} "
        f"at the start and {figures.get('load_average_end')} at the end, "
        f"{figures.get('seconds')} s in all. Scale rows use synthetic vectors (384-d, "
        "clustered) in a real collection; ours includes fetching the documents from SQLite, "
        "the numpy baseline does not."
    )
    return "\n".join([*lines, "", note])


def _num(value: Any) -> str:
    return "-" if value is None else f"{float(value):,.1f}"
