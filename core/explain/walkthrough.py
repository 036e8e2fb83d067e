"""Following text through the model, layer by layer: what the Context and How it works pages show.

- :func:`analyse`: one word in several sentences (its vector at every layer, where it looks,
  what each sub-layer did to it, which context words matter to its final vector).
- :func:`senses`: one word across a collection, its occurrences clustered by contextual vector.
- :func:`walk_through`: one sentence from characters to the final sentence vector.
"""

from __future__ import annotations

import itertools
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core.documents.sentences import sentence_spans
from core.errors import InputError
from core.explain import attention
from core.explain.context import WordSpan, check_sentences, locate, notes_for
from core.explain.word_vectors import Tokens, cosine, span_layer_vectors, tokenize
from core.model.embedder import Embedder
from core.storage.backend import ChunkStore

if TYPE_CHECKING:
    from core.explain.word_sense import Verdict

log = logging.getLogger(__name__)

MAX_ABLATED = 40  # words removed in turn, nearest to the followed word first


@dataclass(frozen=True)
class WordView:
    """One sentence's view of the chosen word.

    Attributes:
        tokens: the sentence as word pieces.
        word: where the word is.
        trace: its vectors, attention and sub-layer updates at every layer.
        sentence: (layers + 1, D) mean of all token vectors at each layer.
        static: (D,) mean of the word's piece lookup vectors (no position, no segment).
        ablation: (context word, 1 - cosine of the word's final vector without it), in
            sentence order.
    """

    tokens: Tokens
    word: WordSpan
    trace: attention.WordTrace
    sentence: np.ndarray
    static: np.ndarray
    ablation: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class ContextResult:
    """A word followed through the model in several sentences.

    Attributes:
        views: one per sentence.
        similarity: (layers + 1, S, S) cosine of the word between sentences at every layer,
            the embedding layer first.
        static_similarity: (S, S) the same for the bare piece lookup vectors.
        notes: remarks for the reader (truncation, unknown pieces).
        seconds: time the analysis took.
    """

    views: tuple[WordView, ...]
    similarity: np.ndarray
    static_similarity: np.ndarray
    notes: tuple[str, ...]
    seconds: float


def analyse(
    embedder: Embedder,
    sentences: Sequence[str],
    words: Sequence[str],
    occurrences: Sequence[int | None] | None = None,
    ablate: int | None = None,
) -> ContextResult:
    """Follow ``words[i]`` in ``sentences[i]`` through the model.

    One forward pass for all sentences, plus one for all the ablations of sentence number
    ``ablate`` (0-based; None for no ablation): every other word of that sentence is removed in
    turn (up to the ``MAX_ABLATED`` nearest the word) and the word's final vector compared.

    Raises:
        InputError: empty or too many sentences, a word missing or past the window.
    """
    started = time.perf_counter()
    texts = check_sentences(sentences, words)
    occurrences = occurrences or [None] * len(texts)
    tokens = [tokenize(embedder, t) for t in texts]
    spans = [locate(t, w, o) for t, w, o in zip(tokens, words, occurrences, strict=True)]
    runs = attention.trace(embedder, [t.ids for t in tokens])
    traces = [attention.word_trace(r, s.positions) for r, s in zip(runs, spans, strict=True)]
    shifts: list[tuple] = [()] * len(texts)
    if ablate is not None and 0 <= ablate < len(texts):
        shifts[ablate] = _ablations(embedder, tokens[ablate], spans[ablate], traces[ablate])
    statics = _statics(embedder, tokens, spans)
    parts = zip(tokens, spans, traces, runs, statics, shifts, strict=True)
    views = tuple(WordView(t, s, w, r.hidden.mean(axis=1), v, a) for t, s, w, r, v, a in parts)
    vectors = np.stack([v.trace.vectors for v in views], axis=1)  # (L+1, S, D)
    statics = np.stack(statics)  # (S, D)
    notes = [n for i, v in enumerate(views) for n in notes_for(v.tokens, v.word, i + 1)]
    return ContextResult(
        views=views,
        similarity=cosine(vectors[:, :, None], vectors[:, None, :]),  # (L+1, S, S)
        static_similarity=cosine(statics[:, None], statics[None, :]),  # (S, S)
        notes=tuple(notes),
        seconds=time.perf_counter() - started,
    )


def pair_verdicts(embedder: Embedder, result: ContextResult) -> list[tuple[int, int, Verdict]]:
    """The same-sense verdict for every pair of sentences, as (i, j, verdict) with i < j.

    Raises:
        LabError: when the committed calibration was fitted for another model.
    """
    from core.explain.word_sense import calibration_for, verdicts

    calibration = calibration_for(embedder)
    pairs = [(i, j) for i in range(len(result.views)) for j in range(i + 1, len(result.views))]
    words = np.stack([v.trace.vectors for v in result.views])  # (S, L+1, D)
    sentences = np.stack([v.sentence for v in result.views])  # (S, L+1, D)
    a, b = [i for i, _ in pairs], [j for _, j in pairs]
    found = verdicts(calibration, (words[a], words[b]), (sentences[a], sentences[b]))
    return [(i, j, v) for (i, j), v in zip(pairs, found, strict=True)]


def _statics(embedder: Embedder, tokens: list[Tokens], spans: list[WordSpan]) -> list[np.ndarray]:
    return [
        attention.static_vectors(embedder, [t.ids[p] for p in s.positions]).mean(axis=0)
        for t, s in zip(tokens, spans, strict=True)
    ]


def word_text(tokens: Tokens, word: int) -> str:
    """The characters of word number ``word`` (as the tokenizer split the sentence)."""
    spans = [o for o, w in zip(tokens.offsets, tokens.words, strict=True) if w == word]
    return tokens.text[min(a for a, _ in spans) : max(b for _, b in spans)]


def ablation(
    embedder: Embedder, result: ContextResult, index: int
) -> tuple[tuple[str, float], ...]:
    """The removal test for sentence ``index`` of ``result``, run separately from :func:`analyse`
    so a page can show everything else first: (context word, 1 - cosine) in sentence order.

    Raises:
        InputError: for a sentence number out of range.
    """
    if not 0 <= index < len(result.views):
        raise InputError(f"There is no sentence {index + 1}.")
    view = result.views[index]
    if view.ablation:
        return view.ablation
    return _ablations(embedder, view.tokens, view.word, view.trace)


def _ablations(
    embedder: Embedder, tokens: Tokens, span: WordSpan, trace: attention.WordTrace
) -> tuple[tuple[str, float], ...]:
    mine = {tokens.words[p] for p in span.positions}
    others = {w for w in tokens.words if w is not None} - mine
    near = sorted(sorted(others, key=lambda w: abs(w - min(mine)))[:MAX_ABLATED])
    if not near:
        return ()
    cut = [attention.without_word(tokens.ids, tokens.words, w, span.positions) for w in near]
    reference = np.repeat(trace.vectors[-1][None], len(cut), axis=0)  # (N, D)
    shifts = attention.ablation_shifts(
        embedder, [c[0] for c in cut], [c[1] for c in cut], reference
    )
    return tuple((word_text(tokens, w), float(s)) for w, s in zip(near, shifts, strict=True))


def trajectory(result: ContextResult) -> np.ndarray:
    """Each sentence's word direction at every layer in one shared 2D PCA -> (S, layers+1, 2).

    Vectors are scaled to unit length first, so distances reflect cosine, as in the drift chart.
    """
    vectors = np.stack([v.trace.vectors for v in result.views])  # (S, L+1, D)
    unit = vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)
    flat = unit.reshape(-1, unit.shape[-1])  # (S*(L+1), D)
    centred = flat - flat.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)  # rows of vt: principal axes
    return (centred @ vt[:2].T).reshape(*unit.shape[:2], 2)


@dataclass(frozen=True)
class Walkthrough:
    """One sentence from characters to its final vector, every intermediate value kept.

    Attributes:
        tokens: the word pieces and their ids.
        parts: (word piece, position, segment) vectors the embedding layer adds, each (T, D).
        run: hidden states (layers + 1, T, D), attention (layers, heads, T, T), sub-layer
            updates (layers, T, D).
        pooled: (D,) the mean of the last layer's token vectors.
        final: (D,) ``pooled`` scaled to length 1: the sentence's vector in search.
        facts: sizes of the model (layers, heads, dimensions, vocabulary, window, parameters).
    """

    tokens: Tokens
    parts: tuple[np.ndarray, np.ndarray, np.ndarray]
    run: attention.Trace
    pooled: np.ndarray
    final: np.ndarray
    facts: dict[str, int]

    def shapes(self) -> list[tuple[str, str]]:
        """(step, array shape) in the order the model computes them."""
        t, d = self.run.hidden.shape[1:]
        f = self.facts
        return [
            ("token ids", f"({t},)"),
            ("input vectors (piece + position + segment, LayerNorm)", f"({t}, {d})"),
            ("attention weights, each layer", f"({f['heads']}, {t}, {t})"),
            ("feed-forward inner layer, each layer", f"({t}, {f['intermediate size']})"),
            ("token vectors after each layer", f"({t}, {d})"),
            ("sentence vector (mean over tokens, length 1)", f"({d},)"),
        ]


def walk_through(embedder: Embedder, text: str) -> Walkthrough:
    """Run one sentence through the model, keeping every step.

    Raises:
        InputError: for an empty or over-long sentence.
    """
    text = check_sentences([text])[0]
    tokens = tokenize(embedder, text)
    run = attention.trace(embedder, [tokens.ids])[0]
    pooled = run.hidden[-1].mean(axis=0)  # (D,)
    model = attention.encoder(embedder)
    config = model.config
    facts = {
        "layers": config.num_hidden_layers,
        "heads": config.num_attention_heads,
        "dimensions": config.hidden_size,
        "intermediate size": config.intermediate_size,
        "vocabulary": config.vocab_size,
        "window (tokens)": attention.max_length(embedder),
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    parts = attention.embedding_parts(embedder, tokens.ids)
    return Walkthrough(tokens, parts, run, pooled, pooled / np.linalg.norm(pooled), facts)


MAX_OCCURRENCES = 120


@dataclass(frozen=True)
class Senses:
    """Occurrences of a word in a collection, clustered by their contextual vectors.

    Attributes:
        word: the word searched for.
        sentences: (sentence, start, end of the word) for each occurrence used.
        labels: (n,) cluster of each occurrence, clusters numbered by size (0 = largest).
        points: (n, 2) the occurrences' vectors in 2D (PCA), for a scatter plot.
        examples: per cluster, indexes of up to 3 occurrences closest to its centre.
        layer: the layer whose vectors were clustered.
    """

    word: str
    sentences: tuple[tuple[str, int, int], ...]
    labels: np.ndarray
    points: np.ndarray
    examples: tuple[tuple[int, ...], ...]
    layer: int


def occurrences(store: ChunkStore, word: str, limit: int = MAX_OCCURRENCES) -> list[tuple]:
    """Sentences of a collection that use ``word`` (FTS5 whole-token match), as
    (sentence, start, end of the word), at most one per sentence and ``limit`` in all."""
    word = word.strip()
    if not word or len(word) > 60:
        raise InputError("Type one word to look for (for example: bank).")
    pattern = re.compile(rf"(?<!\w){re.escape(word)}(?!\w)", re.IGNORECASE)
    rows = itertools.islice(store.word_chunks(word), limit * 4)
    found: list[tuple] = []
    for _, text, *_ in rows:
        for start, end in sentence_spans(text):
            match = pattern.search(text, start, end)
            if match and len(found) < limit:
                found.append((text[start:end], match.start() - start, match.end() - start))
    return found


def senses(
    embedder: Embedder, store: ChunkStore, word: str, k: int = 2, layer: int | None = None
) -> Senses:
    """Cluster the occurrences of ``word`` in a collection into ``k`` groups (k-means on
    unit-length, centred contextual vectors of ``layer``, default the last).

    Raises:
        InputError: for a missing word, or fewer occurrences than needed.
    """
    from sklearn.cluster import KMeans

    found = occurrences(store, word)
    if len(found) < max(k, 2) + 1:
        raise InputError(
            f"'{word}' occurs {len(found)} time(s) in this collection; at least {max(k, 2) + 1} "
            "are needed to find senses. Try a more common word or add documents."
        )
    texts = [s for s, _, _ in found]
    words, _ = span_layer_vectors(embedder, texts, [(a, b) for _, a, b in found])
    layer = words.shape[1] - 1 if layer is None else layer
    x = words[:, layer] - words[:, layer].mean(axis=0)  # (n, D)
    x /= np.linalg.norm(x, axis=1, keepdims=True) + 1e-9
    km = KMeans(n_clusters=k, n_init=10, random_state=0).fit(x)
    by_size = np.argsort(-np.bincount(km.labels_, minlength=k), kind="stable")
    labels = np.argsort(by_size)[km.labels_]
    distance = np.linalg.norm(x - km.cluster_centers_[km.labels_], axis=1)
    examples = tuple(
        tuple(int(i) for i in sorted(np.flatnonzero(labels == c), key=lambda i: distance[i])[:3])
        for c in range(k)
    )
    _, _, vt = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    return Senses(word, tuple(found), labels, x @ vt[:2].T, examples, layer)
