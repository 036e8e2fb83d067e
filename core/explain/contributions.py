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
    tokenizer = embedder.text_tokenizer
    out = []
    for text, tensor in zip(texts, vectors, strict=True):
        ids = tokenizer(text, truncation=True, max_length=embedder.max_length)["input_ids"]
        pieces = tuple(tokenizer.convert_ids_to_tokens(ids))
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


# --- which word matched which ----------------------------------------------------------------


@dataclass(frozen=True)
class PairMatrix:
    """The cosine split over every (query piece, document piece) pair.

    Because both search vectors are means of piece vectors,

        cos(q, d) = sum over i, j of (q_i · d_j) / (Tq Td ||q_mean|| ||d_mean||),

    so cell (i, j) is that pair's share: rows sum to the query pieces' contributions,
    columns to the document pieces', and the whole to the cosine.
    """

    query_tokens: tuple[str, ...]
    doc_tokens: tuple[str, ...]
    matrix: np.ndarray  # (Tq, Td)
    score: float

    def by_words(self) -> PairMatrix:
        """The same matrix with word pieces merged into words on both sides: a word's row
        (column) is the sum of its pieces' rows (columns), so rows and columns still sum to
        the words' shares and the whole to the cosine."""
        q_words, q_groups = merge_pieces(self.query_tokens)
        d_words, d_groups = merge_pieces(self.doc_tokens)
        rows = np.zeros((len(q_words), self.matrix.shape[1]))
        np.add.at(rows, q_groups, self.matrix)  # (Wq, Td)
        merged = np.zeros((len(q_words), len(d_words)))
        np.add.at(merged.T, d_groups, rows.T)  # (Wq, Wd)
        return PairMatrix(q_words, d_words, merged, self.score)

    def strongest(self, n: int = 10) -> list[tuple[str, str, float]]:
        """The ``n`` pairs with the largest shares: (query piece, document piece, share)."""
        flat = np.argsort(-self.matrix, axis=None, kind="stable")[:n]
        rows, cols = np.unravel_index(flat, self.matrix.shape)
        return [
            (self.query_tokens[i], self.doc_tokens[j], float(self.matrix[i, j]))
            for i, j in zip(rows, cols, strict=True)
        ]


def merge_pieces(pieces: Sequence[str]) -> tuple[tuple[str, ...], np.ndarray]:
    """Words from word pieces: a ``##`` piece joins the word before it.

    Returns:
        (the words, for each piece the index of its word (len(pieces),)).
    """
    words: list[str] = []
    groups = np.zeros(len(pieces), dtype=np.int64)
    for n, piece in enumerate(pieces):
        if piece.startswith("##") and words:
            words[-1] += piece[2:]
        else:
            words.append(piece)
        groups[n] = len(words) - 1
    return tuple(words), groups


def pair_shares(query: np.ndarray, doc: np.ndarray) -> np.ndarray:
    """(Tq, Td) shares of the cosine for query token vectors (Tq, D) and doc ones (Td, D)."""
    q_norm = float(np.linalg.norm(query.mean(axis=0)))
    d_norm = float(np.linalg.norm(doc.mean(axis=0)))
    return (query @ doc.T) / (len(query) * len(doc) * q_norm * d_norm)


def pair_matrix(embedder: Embedder, query: str, text: str) -> PairMatrix:
    """Which piece of ``query`` matched which piece of ``text`` (one model run for both).

    For a long document, ``text`` is the hit's best-matching chunk (what its score is the
    cosine of); :meth:`PairMatrix.by_words` merges the pieces into words.

    Raises:
        InputError: for an empty query.
    """
    if not query.strip():
        raise InputError("Type a question or some words to search for.")
    (q_tokens, q_vectors), (d_tokens, d_vectors) = token_vectors(embedder, [query, text])
    matrix = pair_shares(q_vectors.astype(np.float64), d_vectors.astype(np.float64))
    return PairMatrix(q_tokens, d_tokens, matrix, float(matrix.sum()))
