"""The guided tour on Home: one example, seven steps from tokens to the next token.

The example (two sentences that use one word in two senses, a few words whose vectors sit
close, a search question) is defined once here, in :data:`EXAMPLE`; every step's small picture
is computed from it with the real models:

1. the first sentence as word pieces and ids (the encoder's tokenizer);
2. the input vectors of a few words, on a 2D PCA map;
3. where the word looks in each sentence (attention, averaged over layers and heads);
4. how much the feed-forward block changes each token, layer by layer;
5. how far apart the two uses of the word drift, layer by layer (cosine);
6. the causal model's next-token guesses after the first sentence's words before the word;
7. the pooled sentence vectors, compared by cosine with a question, as search does.

Data flow: :func:`encoder_steps` runs the encoder once over both sentences (steps 1-5 and 7);
:func:`next_token_step` runs the causal model once (step 6). Both return frozen dataclasses of
small arrays; ``ui.views.tour`` draws them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from core.explain import attention
from core.explain.causal import next_token
from core.explain.context import locate
from core.explain.projection import pca
from core.explain.walkthrough import word_text
from core.explain.word_vectors import Tokens, cosine, tokenize
from core.model.causal_lm import CausalLM
from core.model.embedder import Embedder

log = logging.getLogger(__name__)

TOP_LOOKS = 4  # context words shown per sentence in step 3
TOP_NEXT = 5  # next tokens shown in step 6


@dataclass(frozen=True)
class Example:
    """What the whole tour is about.

    Attributes:
        word: the word followed (it must occur in both sentences).
        sentences: two sentences that use ``word`` in different senses.
        similar: words whose input vectors should sit close together.
        others: words to set them against on the same map.
        query: a search question, for the last step.
    """

    word: str
    sentences: tuple[str, str]
    similar: tuple[str, ...]
    others: tuple[str, ...]
    query: str

    @property
    def words(self) -> tuple[str, ...]:
        """Every word on the step-2 map, the similar ones first."""
        return (*self.similar, *self.others)

    @property
    def prompt(self) -> str:
        """The first sentence up to the word: what the causal model continues in step 6."""
        text = self.sentences[0]
        start = text.lower().find(self.word.lower())
        return text[:start].rstrip() if start > 0 else text


EXAMPLE = Example(
    word="model",
    sentences=(
        "Our machine learning model needs more labelled photos to recognise cats.",
        "She worked as a fashion model in Paris and walked the runway in a silk gown.",
    ),
    similar=("bound", "jump", "leap", "hop", "skip"),
    others=("cat", "photo", "silk", "runway"),
    query="teaching a computer to recognise animals in pictures",
)


@dataclass(frozen=True)
class Pieces:
    """Step 1: the first sentence as word pieces; ``marked`` are the word's positions."""

    pieces: tuple[str, ...]
    ids: tuple[int, ...]
    marked: tuple[int, ...]


@dataclass(frozen=True)
class WordPoints:
    """Step 2: input vectors of a few words on a 2D map.

    Attributes:
        words: the words, the similar ones first.
        xy: (n, 2) PCA of their unit-length input vectors.
        similar: how many of ``words`` (from the start) are the similar ones.
        within: mean cosine between two similar words.
        across: mean cosine between a similar word and another.
    """

    words: tuple[str, ...]
    xy: np.ndarray
    similar: int
    within: float
    across: float


@dataclass(frozen=True)
class Looks:
    """Step 3: the context words the word attends to most in one sentence.

    ``weights`` are shares of the word's attention (mean over layers and heads; [CLS], [SEP]
    and the word itself are left out, so they need not sum to 1), largest first.
    """

    words: tuple[str, ...]
    weights: tuple[float, ...]


@dataclass(frozen=True)
class Thinking:
    """Step 4: the length of each feed-forward update, (layers, T), for the first sentence."""

    labels: tuple[str, ...]
    ffn: np.ndarray


@dataclass(frozen=True)
class Pooled:
    """Step 7: a question against the two pooled sentence vectors (cosine each)."""

    query: str
    scores: tuple[float, ...]
    between: float


@dataclass(frozen=True)
class EncoderTour:
    """Steps 1-5 and 7, from one encoder run over both sentences.

    ``drift`` holds the cosine of the word's two vectors: the bare lookup vectors first, then
    after the embedding layer and after each layer, (layers + 2,).
    """

    pieces: Pieces
    points: WordPoints
    looks: tuple[Looks, ...]
    thinking: Thinking
    drift: np.ndarray
    pooled: Pooled
    seconds: float


@dataclass(frozen=True)
class NextStep:
    """Step 6: the likeliest next tokens after ``prompt``, and where the word itself ranks."""

    prompt: str
    tokens: tuple[str, ...]
    probs: tuple[float, ...]
    word_rank: int
    word_prob: float


def encoder_steps(embedder: Embedder, example: Example = EXAMPLE) -> EncoderTour:
    """Every encoder step of the tour on ``example`` (one traced forward pass, one encode).

    Raises:
        InputError: when the word is missing from a sentence or a sentence is unreadable.
    """
    started = time.perf_counter()
    tokens = [tokenize(embedder, s) for s in example.sentences]
    spans = [locate(t, example.word).positions for t in tokens]
    runs = attention.trace(embedder, [t.ids for t in tokens])
    traces = [attention.word_trace(r, s) for r, s in zip(runs, spans, strict=True)]
    lookups = [
        attention.static_vectors(embedder, [t.ids[p] for p in s]).mean(axis=0)  # (D,)
        for t, s in zip(tokens, spans, strict=True)
    ]
    drift = cosine(traces[0].vectors, traces[1].vectors)  # (L+1,)
    result = EncoderTour(
        pieces=Pieces(tokens[0].pieces, tokens[0].ids, spans[0]),
        points=word_points(embedder, example),
        looks=tuple(
            looks(t, s, w.attention) for t, s, w in zip(tokens, spans, traces, strict=True)
        ),
        thinking=thinking(tokens[0], runs[0]),
        drift=np.concatenate([[float(cosine(lookups[0], lookups[1]))], drift]),
        pooled=pooled(embedder, example),
        seconds=time.perf_counter() - started,
    )
    log.info("tour: encoder steps in %.2f s", result.seconds)
    return result


def word_points(embedder: Embedder, example: Example = EXAMPLE) -> WordPoints:
    """Step 2: the words' input vectors (mean of their pieces' rows), unit length, PCA."""
    tokenizer = embedder.tokenizer
    rows = []
    for word in example.words:
        ids = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(word))
        rows.append(attention.static_vectors(embedder, ids).mean(axis=0))
    unit = np.stack(rows)  # (n, D)
    unit = unit / np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
    sims = unit @ unit.T  # (n, n)
    n = len(example.similar)
    inside = sims[:n, :n][~np.eye(n, dtype=bool)]
    return WordPoints(
        words=example.words,
        xy=pca(unit)[0],
        similar=n,
        within=float(inside.mean()) if inside.size else 1.0,
        across=float(sims[:n, n:].mean()) if sims[:n, n:].size else 0.0,
    )


def looks(tokens: Tokens, positions: tuple[int, ...], weights: np.ndarray) -> Looks:
    """Step 3: the ``TOP_LOOKS`` words that the word's pieces attend to most.

    Args:
        tokens: the sentence.
        positions: the word's pieces.
        weights: (layers, heads, T) the word's attention to each token.
    """
    mean = weights.mean(axis=(0, 1))  # (T,)
    per_word: dict[int, float] = {}
    for position, word in enumerate(tokens.words):
        if word is not None and position not in positions:
            per_word[word] = per_word.get(word, 0.0) + float(mean[position])
    top = sorted(per_word.items(), key=lambda item: -item[1])[:TOP_LOOKS]
    return Looks(tuple(word_text(tokens, w) for w, _ in top), tuple(v for _, v in top))


def thinking(tokens: Tokens, run: attention.Trace) -> Thinking:
    """Step 4: how long each token's feed-forward update is, per layer."""
    return Thinking(
        labels=tuple(f"{i}:{p}" for i, p in enumerate(tokens.pieces)),
        ffn=np.linalg.norm(run.ffn_update, axis=-1),  # (L, T)
    )


def pooled(embedder: Embedder, example: Example = EXAMPLE) -> Pooled:
    """Step 7: the sentences and the question embedded as search embeds them, compared."""
    vectors = embedder.encode([*example.sentences, example.query])  # (3, D), unit length
    sentences, question = vectors[:-1], vectors[-1]
    return Pooled(
        query=example.query,
        scores=tuple(float(v @ question) for v in sentences),
        between=float(sentences[0] @ sentences[1]),
    )


def next_token_step(lm: CausalLM, example: Example = EXAMPLE) -> NextStep:
    """Step 6: the causal model's next-token distribution after ``example.prompt``.

    Raises:
        InputError: for an empty prompt.
    """
    guess = next_token(lm, example.prompt, TOP_NEXT, 1.0, example.word)
    probe = guess.probe
    return NextStep(
        prompt=example.prompt,
        tokens=tuple(g.token for g in guess.top),
        probs=tuple(g.prob for g in guess.top),
        word_rank=probe.rank if probe else 0,
        word_prob=probe.prob if probe else 0.0,
    )
