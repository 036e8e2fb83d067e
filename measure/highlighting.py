"""Highlighting old vs new on the demo collection, for ``python -m measure.sentences``.

The old code is kept here as the baseline: its sentence splitter (one regular expression:
every full stop ends a sentence) and its ``explain``.

``explain`` cuts each hit into sentences, embeds them (remembering recent sentence vectors) and
marks the one closest to the query. The old code (the regex, 400 sentences across all hits)
and the new one run on the same hits of the same searches, taking turns (the order alternates
per search): cold, the best of ``cold_repeat`` calls each made after forgetting the remembered
sentence vectors; warm, the best of WARM_REPEAT calls right after. Reported: p50 / p95 over
the searches, the ratios new / old of the p95s, and the sentences each embeds per search.
"""

from __future__ import annotations

import functools
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core import config
from core.documents.sentences import sentence_spans
from core.search.highlight import Explanation, explain_sentences

Spans = list[tuple[int, int]]
LEGACY_RE = re.compile(r"[^.!?\n]+(?:[.!?]+|\n|$)")
LEGACY_MAX_SENTENCES = 400
WARM_REPEAT = 5  # warm calls take well under a millisecond: the best of 5 drops preemption


def trimmed(text: str, spans: Sequence[tuple[int, int]]) -> Spans:
    """``spans`` less surrounding whitespace, empty ones dropped."""
    out = []
    for start, end in spans:
        piece = text[start:end]
        start += len(piece) - len(piece.lstrip())
        end -= len(piece) - len(piece.rstrip())
        if end > start:
            out.append((start, end))
    return out


def legacy_spans(text: str) -> Spans:
    """The project's splitter before sentencex: every full stop ends a sentence."""
    return trimmed(text, [m.span() for m in LEGACY_RE.finditer(text)]) or [(0, len(text))]


def legacy_explain(
    embedder: Any, query: str, query_vector: np.ndarray, texts: Sequence[str]
) -> list[Explanation]:
    """``explain`` as it was: regex sentences, 400 across all hits (the rest unexplained)."""
    spans = [legacy_spans(t) for t in texts]
    flat = [(i, s) for i, doc in enumerate(spans) for s in doc][:LEGACY_MAX_SENTENCES]
    return explain_sentences(embedder, query, query_vector, texts, flat)


def forget_sentences(embedder: Any) -> None:
    """Drop the vectors ``encode_recent`` remembers, so the next call embeds (cold)."""
    with embedder._recent_lock:
        embedder._recent.clear()


def timed(call: Callable[[], Any]) -> float:
    """Milliseconds ``call`` takes."""
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def demo_hits(embedder: Any, queries: int) -> list[tuple[str, np.ndarray, list[str]]]:
    """(question, its vector, its hits' texts) for ``queries`` searches of the demo collection
    (built in a temporary data dir); each question is a demo passage's first 8 words."""
    from core.ingest import builtin
    from core.search.query import search
    from core.storage.collection import Collection
    from measure.bench import temporary_data_dir

    found = []
    with tempfile.TemporaryDirectory() as tmp, temporary_data_dir(Path(tmp)):
        builtin.ensure_demo(embedder)
        collection = Collection(config.DEMO_COLLECTION, embedder.info)
        for doc in builtin.demo_documents()[:queries]:
            question = " ".join(doc.text.split()[:8])
            result = search(collection, embedder, question)
            found.append((question, result.vector, [h.text for h in result.hits]))
    return found


def report_highlight(queries: int, cold_repeat: int) -> dict[str, Any]:
    """Old vs new highlighting of the demo collection's search hits, taking turns (the order
    alternates per search). Cold: the best of ``cold_repeat`` calls, each after forgetting the
    sentence vectors; warm: the best of WARM_REPEAT calls right after."""
    from core.model.embedder import Embedder
    from core.search.highlight import MAX_SENTENCES_PER_HIT, explain

    embedder = Embedder()
    hits = demo_hits(embedder, queries)
    times: dict[str, list[float]] = {"old cold": [], "new cold": [], "old warm": [], "new warm": []}
    for n, (question, vector, texts) in enumerate(hits):
        calls = {
            "old": functools.partial(legacy_explain, embedder, question, vector, texts),
            "new": functools.partial(explain, embedder, question, vector, texts),
        }
        for name in ("old", "new") if n % 2 else ("new", "old"):
            cold = []
            for _ in range(cold_repeat):
                forget_sentences(embedder)
                cold.append(timed(calls[name]))
            times[f"{name} cold"].append(min(cold))
            times[f"{name} warm"].append(min(timed(calls[name]) for _ in range(WARM_REPEAT)))
    figures: dict[str, Any] = {"highlight_searches": len(hits)}
    old = [min(LEGACY_MAX_SENTENCES, sum(len(legacy_spans(t)) for t in h[2])) for h in hits]
    new = [sum(min(MAX_SENTENCES_PER_HIT, len(sentence_spans(t))) for t in h[2]) for h in hits]
    figures["highlight_sentences_embedded_per_search_old"] = round(float(np.mean(old)), 2)
    figures["highlight_sentences_embedded_per_search_new"] = round(float(np.mean(new)), 2)
    return figures | percentiles(times)


def percentiles(times: dict[str, list[float]]) -> dict[str, float]:
    """p50 and p95 of each timing, and the ratios new / old of the p95s."""
    figures = {}
    for key, values in times.items():
        for q in (50, 95):
            name = f"highlight_{key.replace(' ', '_')}_p{q}_ms"
            figures[name] = round(float(np.percentile(values, q)), 2)
    for kind in ("cold", "warm"):
        new, old = figures[f"highlight_new_{kind}_p95_ms"], figures[f"highlight_old_{kind}_p95_ms"]
        figures[f"highlight_{kind}_p95_new_over_old"] = round(new / old, 3)
    return figures
