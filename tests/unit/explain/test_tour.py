"""The guided tour's data (``core.explain.tour``) on the real bundled models.

Every step's numbers are checked against the same quantity computed another way: the encoder
walk-through of one sentence (``walkthrough.walk_through``), the Embedder's own ``encode``, the
tokenizer, or plain numpy. The claims the tour's sentences make about the example (the similar
words sit closer, "model" looks at "learning" and at "fashion", the senses drift apart, the GPT
guesses "model") are asserted on the real models, since the tour states them live.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core.errors import InputError
from core.explain import tour
from core.explain.tour import EXAMPLE
from core.explain.walkthrough import walk_through

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def steps(real_embedder) -> tour.EncoderTour:
    return tour.encoder_steps(real_embedder, EXAMPLE)


@pytest.fixture(scope="module")
def first_walk(real_embedder):
    return walk_through(real_embedder, EXAMPLE.sentences[0])


def test_the_prompt_is_the_first_sentence_up_to_the_word() -> None:
    assert EXAMPLE.prompt == "Our machine learning"
    assert EXAMPLE.words[: len(EXAMPLE.similar)] == EXAMPLE.similar


def test_step1_pieces_are_the_tokenizers_with_the_word_marked(steps, real_embedder) -> None:
    encoded = real_embedder.tokenizer(EXAMPLE.sentences[0])["input_ids"]
    assert list(steps.pieces.ids) == encoded
    assert [steps.pieces.pieces[p] for p in steps.pieces.marked] == ["model"]


def test_step2_similar_words_sit_closer_than_the_others(steps, real_embedder) -> None:
    points = steps.points
    assert points.words == EXAMPLE.words and points.xy.shape == (len(EXAMPLE.words), 2)
    assert points.within > points.across + 0.1
    # the map keeps the order: the similar words' centre is nearer to each of them than to others
    centre = points.xy[: points.similar].mean(axis=0)
    distance = np.linalg.norm(points.xy - centre, axis=1)
    assert distance[: points.similar].mean() < distance[points.similar :].mean()


def test_step3_shares_are_the_words_attention_summed_over_its_pieces(steps, first_walk) -> None:
    marked = steps.pieces.marked
    mean = first_walk.run.attention[:, :, list(marked)].mean(axis=(0, 2)).mean(axis=0)  # (T,)
    words = first_walk.tokens.words
    brute: dict[int, float] = {}
    for position, word in enumerate(words):
        if word is not None and position not in marked:
            brute[word] = brute.get(word, 0.0) + float(mean[position])
    expected = sorted(brute.values(), reverse=True)[: tour.TOP_LOOKS]
    first = steps.looks[0]
    assert np.allclose(first.weights, expected, atol=1e-5)
    assert len(first.words) == tour.TOP_LOOKS and "model" not in first.words


def test_step3_model_looks_at_learning_and_at_fashion(steps) -> None:
    assert steps.looks[0].words[0] in ("learning", "machine")
    assert steps.looks[1].words[0] == "fashion"


def test_step4_update_lengths_match_the_walk_through(steps, first_walk) -> None:
    assert steps.thinking.ffn.shape == first_walk.run.ffn_update.shape[:2]  # (layers, T)
    assert np.allclose(steps.thinking.ffn, np.linalg.norm(first_walk.run.ffn_update, axis=-1))
    assert len(steps.thinking.labels) == len(first_walk.tokens.pieces)


def test_step5_the_two_models_start_as_one_and_drift_apart(steps, first_walk) -> None:
    layers = first_walk.run.attention.shape[0]
    assert steps.drift.shape == (layers + 2,)
    assert steps.drift[0] == pytest.approx(1.0, abs=1e-6)  # the same piece, the same lookup
    assert steps.drift[-1] < steps.drift[1] - 0.2


def test_step7_search_vectors_are_the_pooled_token_vectors(steps, real_embedder, first_walk):
    question = real_embedder.encode([EXAMPLE.query])[0]
    assert steps.pooled.scores[0] == pytest.approx(float(first_walk.final @ question), abs=1e-4)
    assert steps.pooled.scores[0] > steps.pooled.scores[1] + 0.3


def test_a_word_missing_from_a_sentence_is_refused(real_embedder) -> None:
    example = dataclasses.replace(EXAMPLE, word="giraffe")
    with pytest.raises(InputError):
        tour.encoder_steps(real_embedder, example)


def test_the_example_is_changed_in_one_place(tiny_embedder) -> None:
    example = tour.Example(
        word="bank",
        sentences=("We sat on the river bank.", "The bank raised its rates."),
        similar=("cat", "dog"),
        others=("car",),
        query="money",
    )
    steps = tour.encoder_steps(tiny_embedder, example)
    assert [steps.pieces.pieces[p] for p in steps.pieces.marked] == ["bank"]
    assert steps.points.words == ("cat", "dog", "car") and len(steps.pooled.scores) == 2
    assert example.prompt == "We sat on the river"


def test_step6_the_gpt_guesses_the_word(real_causal_lm) -> None:
    after = tour.next_token_step(real_causal_lm, EXAMPLE)
    assert after.prompt == EXAMPLE.prompt and len(after.tokens) == tour.TOP_NEXT
    assert list(after.probs) == sorted(after.probs, reverse=True)
    assert after.word_rank == 1 + [t.strip() for t in after.tokens].index("model")
    assert after.word_prob == pytest.approx(after.probs[after.word_rank - 1])
