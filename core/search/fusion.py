"""Hybrid ranking: fuse a dense and a keyword document ranking into one.

A weighted sum of min-max normalised scores (equal weights). On SciFact's train claims this
beat reciprocal rank fusion (73.2 vs 71.0 nDCG@10 with k=60; 72.5 at best) and both single
rankings (dense 66.9, BM25 69.3). Each fused hit records which rankings found it and its
score in each.
"""

from __future__ import annotations

from dataclasses import replace

from core.search.hits import Hit

FUSION_POOL = 100
DENSE_WEIGHT = 0.5


def fuse(dense: list[Hit], keyword: list[Hit], k: int) -> list[Hit]:
    """Fuse two document rankings: weighted sum of min-max normalised scores.

    A document missing from one ranking scores 0 there. The dense chunk represents a hit
    found by both (it is the passage closest in meaning).
    """
    dense_norm, keyword_norm = normalise(dense), normalise(keyword)
    scores = {
        doc: DENSE_WEIGHT * dense_norm.get(doc, 0.0)
        + (1 - DENSE_WEIGHT) * keyword_norm.get(doc, 0.0)
        for doc in dense_norm.keys() | keyword_norm.keys()
    }
    by_doc = {h.doc_id: h for h in reversed(keyword)} | {h.doc_id: h for h in reversed(dense)}
    dense_scores = {h.doc_id: h.score for h in dense}
    keyword_scores = {h.doc_id: h.score for h in keyword}
    ranked = sorted(scores, key=lambda d: (-scores[d], d))[:k]
    return [
        replace(
            by_doc[doc],
            rank=rank,
            score=scores[doc],
            found_by=tuple(
                name
                for name, found in (("dense", dense_scores), ("keyword", keyword_scores))
                if doc in found
            ),
            dense_score=dense_scores.get(doc),
            keyword_score=keyword_scores.get(doc),
        )
        for rank, doc in enumerate(ranked, start=1)
    ]


def normalise(hits: list[Hit]) -> dict[str, float]:
    """Scores rescaled to [0, 1] within one ranking (all 1.0 when they are all equal)."""
    if not hits:
        return {}
    low = min(h.score for h in hits)
    span = max(h.score for h in hits) - low
    return {h.doc_id: (h.score - low) / span if span > 0 else 1.0 for h in hits}
