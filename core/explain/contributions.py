"""Why did this match: a search score split exactly into per-token contributions.

all-MiniLM-L6-v2 makes a text's vector by averaging its token vectors ([CLS] and [SEP]
included: the pooling config has ``include_prompt`` true and the mean runs over the attention
mask) and scaling the mean to length 1. So for a query q and a document d with token vectors
h_1..h_n (mean m_d):

    cos(q, d) = q_hat · m_d / ||m_d|| = sum over t of (q_hat · h_t) / (n ||m_d||)

Each term is one document token's contribution, and the terms add up to the score exactly.
Swapping the roles gives the query tokens' contributions, which add up to the same score.
The numbers are returned as arrays; ui.markup draws them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import InputError
from core.model.embedder import Embedder

SPECIAL = frozenset({"[CLS]", "[SEP]", "[PAD]"})


@dataclass(frozen=True)
class Contributions:
    """A score and its per-token parts, for the query and for one document."""

    query_tokens: tuple[str, ...]
    query_contribs: np.ndarray  # (Tq,) sums to score
    doc_tokens: tuple[str, ...]
    doc_contribs: np.ndarray  # (Td,) sums to score
    score: float


def token_vectors(
    embedder: Embedder, texts: Sequence[str]
) -> list[tuple[tuple[str, ...], np.ndarray]]:
    """Each text's word pieces and last-layer token vectors (T, D), exactly as pooled.

    The vectors come from the Embedder's own encoder (torch fp32 or int8 ONNX, whichever
    built the collection) with the same truncation to the model window, so their mean,
    scaled to length 1, is the text's search vector.
    """
    vectors = embedder.token_vectors(texts)
    limit = int(embedder.model.max_seq_length)
    out = []
    for text, tensor in zip(texts, vectors, strict=True):
        ids = embedder.tokenizer(text, truncation=True, max_length=limit)["input_ids"]
        pieces = tuple(embedder.tokenizer.convert_ids_to_tokens(ids))
        array = np.asarray(tensor, dtype=np.float32)  # (T, D)
        if len(pieces) != len(array):
            raise InputError("The tokenizer and the model disagree on this text's length.")
        out.append((pieces, array))
    return out


def split_score(query: np.ndarray, doc: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-token contributions of query tokens (Tq, D) and doc tokens (Td, D) to the cosine.

    Returns:
        (query contributions (Tq,), doc contributions (Td,), cosine); each array sums to it.
    """
    q_mean, d_mean = query.mean(axis=0), doc.mean(axis=0)  # (D,)
    q_norm, d_norm = float(np.linalg.norm(q_mean)), float(np.linalg.norm(d_mean))
    q_hat, d_hat = q_mean / q_norm, d_mean / d_norm
    doc_parts = doc @ q_hat / (len(doc) * d_norm)  # (Td,)
    query_parts = query @ d_hat / (len(query) * q_norm)  # (Tq,)
    return query_parts, doc_parts, float(q_hat @ d_hat)


def hit_contributions(embedder: Embedder, query: str, texts: Sequence[str]) -> list[Contributions]:
    """Contributions for a query against several documents, in one model run.

    Raises:
        InputError: for an empty query.
    """
    if not query.strip():
        raise InputError("Type a question or some words to search for.")
    runs = token_vectors(embedder, [query, *texts])
    q_tokens, q_vectors = runs[0]
    out = []
    for d_tokens, d_vectors in runs[1:]:
        q_parts, d_parts, score = split_score(q_vectors, d_vectors)
        out.append(Contributions(q_tokens, q_parts, d_tokens, d_parts, score))
    return out


def token_contributions(
    embedder: Embedder, query: str, text: str
) -> tuple[tuple[str, ...], np.ndarray, tuple[str, ...], np.ndarray, float]:
    """(query tokens, their contributions, doc tokens, their contributions, cosine score).

    Both contribution arrays sum to the score (the cosine of the two search vectors).
    """
    c = hit_contributions(embedder, query, [text])[0]
    return c.query_tokens, c.query_contribs, c.doc_tokens, c.doc_contribs, c.score
