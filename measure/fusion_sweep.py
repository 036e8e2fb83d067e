"""Which fusion wins on SciFact's train claims: the weight of meaning swept from 0 to 1, and
reciprocal rank fusion beside it, every candidate with its true cosine and BM25.

Each claim is embedded once; its dense and keyword pools (100 documents each) and the
candidates' exact components are computed once (:func:`core.search.fusion.candidates`);
only the fusion differs between the rows. Used by ``python -m measure eval scifact``.
"""

from __future__ import annotations

from typing import Any

from core.search.bm25 import keyword_documents
from core.search.dense import search_vectors
from core.search.fusion import FUSION_POOL, Candidate, candidates, fuse
from measure import evaluation

WEIGHTS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)
RRF_K = 60


def rrf(pool: list[Candidate], k: int) -> dict[str, float]:
    """Reciprocal rank fusion over the candidates, ranked by each true component."""
    scores = {c.hit.doc_id: 0.0 for c in pool}
    for key in (lambda c: -c.cosine, lambda c: -c.bm25):
        for rank, c in enumerate(sorted(pool, key=key), start=1):
            scores[c.hit.doc_id] += 1 / (RRF_K + rank)
    return dict(sorted(scores.items(), key=lambda item: -item[1])[:k])


def sweep(collection: Any, embedder: Any, queries: dict[str, str], qrels: dict) -> dict[str, Any]:
    """nDCG@10 (x100) of each weight and of RRF on ``queries`` (id -> text)."""
    ids = list(queries)
    vectors = embedder.encode([queries[q] for q in ids])
    dense = search_vectors(collection, vectors, FUSION_POOL)
    pools = []
    for number, query_id in enumerate(ids):
        keyword = keyword_documents(collection, queries[query_id], FUSION_POOL)
        pools.append(
            candidates(collection, queries[query_id], vectors[number], dense[number], keyword)
        )
    out: dict[str, Any] = {}
    for weight in WEIGHTS:
        run = {
            q: {h.doc_id: h.score for h in fuse(pool, 100, weight)}
            for q, pool in zip(ids, pools, strict=True)
        }
        out[f"hybrid_weight_{weight:.1f}_ndcg@10"] = round(
            100 * evaluation.ndcg_at_k(run, qrels), 2
        )
    run = {q: rrf(pool, 100) for q, pool in zip(ids, pools, strict=True)}
    out["hybrid_rrf60_ndcg@10"] = round(100 * evaluation.ndcg_at_k(run, qrels), 2)
    return out
