"""Words in context on the tiny random BERT: shapes, invariants and bad input.

The tiny model (2 layers, 4 heads, 32 dimensions, a 64-token window) has meaningless vectors,
so these tests check what must hold for any BERT: attention rows are distributions, the
sub-layer decomposition reproduces each layer, and the layer-0 vector depends only on the
piece, its position and its segment.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError, LabError
from core.explain import attention, context, walkthrough
from core.explain.word_sense import Calibration, feature_names

RIVER = "the bank of the river"
MONEY = "the bank gave money"


@pytest.fixture(scope="module")
def pair(tiny_embedder):
    return walkthrough.analyse(tiny_embedder, [RIVER, MONEY], ["bank", "bank"], ablate=0)


def test_tokenize_keeps_pieces_ids_and_offsets(tiny_embedder) -> None:
    tokens = context.tokenize(tiny_embedder, "The Walking model")
    assert tokens.pieces[0] == "[CLS]" and tokens.pieces[-1] == "[SEP]"
    assert list(tokens.ids) == tiny_embedder.tokenizer("The Walking model")["input_ids"]
    for piece, (a, b), word in zip(tokens.pieces, tokens.offsets, tokens.words, strict=True):
        if word is not None:
            assert tokens.text[a:b].lower() == piece.removeprefix("##")
    assert not tokens.truncated


def test_find_word_whole_word_case_and_occurrence() -> None:
    assert context.find_word("The banker and the BANK", "bank") == ("BANK", 19, 23)
    assert context.find_word("bank, Bank and bank", "bank", occurrence=1)[1:] == (6, 10)
    assert context.find_word("I was walking home", "walk")[0] == "walking"
    assert context.find_word("Sound carries well", "carry")[0] == "carries"
    with pytest.raises(InputError, match="not a word of the sentence"):
        context.find_word("He went home", "go")
    with pytest.raises(InputError, match="Type the word"):
        context.find_word("anything", "  ")


def test_word_choices_point_at_the_exact_word() -> None:
    text = "A bank, a Bank and the river bank."
    choices, default = context.word_choices(text, "bank")
    assert default == 1 and choices[default].form == "bank"
    for choice in choices:
        form, start, _ = context.find_word(text, choice.form, choice.occurrence)
        assert start == choice.start and form == choice.form
    assert [c.label for c in choices][:4] == ["A", "bank", "a (#2)", "Bank (#2)"]
    assert context.word_choices(text, "money")[1] is None


def test_multi_piece_word_is_the_mean_of_its_pieces(tiny_embedder) -> None:
    tokens = context.tokenize(tiny_embedder, "they kept walking home")
    span = context.locate(tokens, "walking")
    assert [tokens.pieces[p] for p in span.positions] == ["walk", "##ing"]
    result = walkthrough.analyse(tiny_embedder, [tokens.text, tokens.text], ["walking"] * 2)
    run = attention.trace(tiny_embedder, [tokens.ids])[0]
    expected = run.hidden[:, list(span.positions)].mean(axis=1)
    np.testing.assert_allclose(result.views[0].trace.vectors, expected, atol=1e-5)


def test_shapes_and_attention_rows_sum_to_one(pair) -> None:
    view = pair.views[0]
    layers, heads, length = view.trace.attention.shape
    assert (layers, heads, length) == (2, 4, len(view.tokens.ids))
    assert pair.similarity.shape == (3, 2, 2)
    assert view.trace.vectors.shape == (3, 32)
    np.testing.assert_allclose(view.trace.attention.sum(axis=-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(view.trace.attention.mean(axis=1).sum(axis=-1), 1.0, atol=1e-5)
    for name in ("attn_update", "ffn_update", "stream", "attn_moved", "ffn_moved"):
        assert getattr(view.trace, name).shape == (2,)
    assert walkthrough.trajectory(pair).shape == (2, 3, 2)


def test_layer_zero_depends_only_on_piece_position_and_segment(pair, tiny_embedder) -> None:
    # "bank" is piece 2 in both sentences: same piece, same position, same segment.
    assert pair.static_similarity[0, 1] == pytest.approx(1.0, abs=1e-6)
    assert pair.similarity[0, 0, 1] == pytest.approx(1.0, abs=1e-6)
    first, second = (v.trace.vectors for v in pair.views)
    np.testing.assert_allclose(first[0], second[0], atol=1e-6)
    assert np.abs(first[-1] - second[-1]).max() > 1e-3  # context has changed it by layer 2
    moved = walkthrough.analyse(tiny_embedder, [RIVER, "money in the bank"], ["bank"] * 2)
    assert moved.static_similarity[0, 1] == pytest.approx(1.0, abs=1e-6)  # same lookup vector
    assert moved.similarity[0, 0, 1] < 0.9999  # another position vector was added
    ids = context.tokenize(tiny_embedder, RIVER).ids
    word, position, segment = attention.embedding_parts(tiny_embedder, ids)
    norm = attention.encoder(tiny_embedder).embeddings.LayerNorm
    import torch

    with torch.inference_mode():
        rebuilt = norm(torch.tensor(word + position + segment)).numpy()
    run = attention.trace(tiny_embedder, [ids])[0]
    np.testing.assert_allclose(run.hidden[0], rebuilt, atol=1e-5)


def test_post_layernorm_decomposition_reproduces_each_layer(tiny_embedder) -> None:
    import torch

    ids = context.tokenize(tiny_embedder, RIVER).ids
    run = attention.trace(tiny_embedder, [ids])[0]
    with torch.inference_mode():
        for layer, (norm1, norm2) in enumerate(attention.layer_norms(tiny_embedder)):
            x = torch.tensor(run.hidden[layer])
            mid = norm1(x + torch.tensor(run.attn_update[layer]))
            out = norm2(mid + torch.tensor(run.ffn_update[layer]))
            np.testing.assert_allclose(mid.numpy(), run.mid[layer], atol=1e-5)
            np.testing.assert_allclose(out.numpy(), run.hidden[layer + 1], atol=1e-5)


def test_eager_copy_matches_the_embedder(tiny_embedder) -> None:
    ids = context.tokenize(tiny_embedder, MONEY).ids
    eager = attention.trace(tiny_embedder, [ids])[0].hidden
    fused = attention.hidden_states(tiny_embedder, [ids])[:, 0]
    np.testing.assert_allclose(eager, fused, atol=1e-5)
    assert attention.eager_model(tiny_embedder) is attention.eager_model(tiny_embedder)


def test_ablation_matches_a_manual_removal(pair, tiny_embedder) -> None:
    view = pair.views[0]
    assert [w for w, _ in view.ablation] == ["the", "of", "the", "river"]
    assert pair.views[1].ablation == ()  # only the sentence asked for is ablated
    assert walkthrough.ablation(tiny_embedder, pair, 0) == view.ablation
    later = walkthrough.ablation(tiny_embedder, pair, 1)
    assert [w for w, _ in later] == ["the", "gave", "money"]
    with pytest.raises(InputError):
        walkthrough.ablation(tiny_embedder, pair, 5)
    ids = [i for i, p in zip(view.tokens.ids, view.tokens.pieces, strict=True) if p != "river"]
    state = attention.hidden_states(tiny_embedder, [ids], last_only=True)[0, 0, 2]
    final = view.trace.vectors[-1]
    expected = 1 - state @ final / (np.linalg.norm(state) * np.linalg.norm(final))
    assert view.ablation[-1][1] == pytest.approx(expected, abs=1e-5)


def test_same_sentence_twice_is_identical(tiny_embedder) -> None:
    result = walkthrough.analyse(tiny_embedder, [RIVER, RIVER], ["river", "river"], ablate=None)
    np.testing.assert_allclose(result.similarity[:, 0, 1], 1.0, atol=1e-5)


def test_bad_input_gives_actionable_errors(tiny_embedder) -> None:
    analyse = walkthrough.analyse
    with pytest.raises(InputError, match="at least one sentence"):
        analyse(tiny_embedder, ["", "  "], ["bank", "bank"])
    with pytest.raises(InputError, match="limit is 8"):
        analyse(tiny_embedder, [RIVER] * 20, ["bank"] * 20)
    with pytest.raises(InputError, match="Sentence 2 is empty"):
        analyse(tiny_embedder, [RIVER, " "], ["bank", "bank"])
    with pytest.raises(InputError, match="not a word of the sentence"):
        analyse(tiny_embedder, [RIVER, MONEY], ["river", "river"])
    with pytest.raises(InputError, match="limit is 2,000"):
        analyse(tiny_embedder, ["bank " * 500], ["bank"])
    late = " ".join(["the"] * 80) + " bank"
    with pytest.raises(InputError, match="past the model window"):
        analyse(tiny_embedder, [late], ["bank"])


def test_long_sentence_is_cut_with_a_note(tiny_embedder) -> None:
    early = "the bank " + " ".join(["of the river"] * 40)
    result = walkthrough.analyse(tiny_embedder, [early, MONEY], ["bank", "bank"])
    assert len(result.views[0].tokens.ids) == 64
    assert result.views[0].tokens.truncated
    assert any("longer than the model window" in note for note in result.notes)


def test_emoji_and_other_scripts_do_not_crash(tiny_embedder) -> None:
    result = walkthrough.analyse(
        tiny_embedder, ["i love 🙂 and 銀行 bank", "привет 🙂 bank"], ["🙂", "🙂"]
    )
    assert result.views[0].tokens.pieces[result.views[0].word.positions[0]] == "[UNK]"
    assert any("[UNK]" in note for note in result.notes)
    assert np.isfinite(result.similarity).all()


def test_walk_through_ends_at_the_search_vector(tiny_embedder) -> None:
    walk = walkthrough.walk_through(tiny_embedder, "the bank of the river")
    expected = tiny_embedder.encode(["the bank of the river"])[0]
    assert float(walk.final @ expected) == pytest.approx(1.0, abs=1e-5)
    assert walk.facts["layers"] == 2 and walk.facts["heads"] == 4
    assert walk.shapes()[0] == ("token ids", f"({len(walk.tokens.ids)},)")


def tiny_calibration(embedder) -> Calibration:
    layers, width = 3, 32
    count = len(feature_names(layers))
    rng = np.random.default_rng(0)
    return Calibration(
        fingerprint=embedder.fingerprint,
        layers=layers,
        word_centre=np.zeros((layers, width), np.float32),
        sentence_centre=np.zeros((layers, width), np.float32),
        mean=np.zeros(count),
        scale=np.ones(count),
        weights=rng.normal(size=count),
        intercept=0.0,
        threshold=0.5,
        summary={},
    )


def test_compare_pairs_keeps_order_and_reports_bad_records(tiny_embedder) -> None:
    records = [
        {"id": "a", "sentence_a": RIVER, "word_a": "bank", "sentence_b": MONEY, "word_b": "bank"},
        {"id": "b", "sentence_a": RIVER, "word_a": "money", "sentence_b": MONEY, "word_b": "bank"},
        {"id": "c", "sentence_a": RIVER, "word_a": "bank", "sentence_b": RIVER, "word_b": "bank"},
        {"id": "d", "sentence_a": None, "word_a": "bank"},
    ]
    out = context.compare_pairs(records, tiny_embedder, tiny_calibration(tiny_embedder))
    assert [o["id"] for o in out] == ["a", "b", "c", "d"]
    assert set(out[0]) == {"id", "similarity", "by_layer", "same_sense"}
    assert len(out[0]["by_layer"]) == 3 and out[0]["similarity"] == out[0]["by_layer"][-1]
    assert "not a word of the sentence" in out[1]["error"] and "error" in out[3]
    assert out[2]["similarity"] == pytest.approx(1.0, abs=1e-5)
    assert isinstance(out[0]["same_sense"], bool)


def test_calibration_for_another_model_is_refused(tiny_embedder) -> None:
    from core.explain.word_sense import calibration_for

    with pytest.raises(LabError, match="wic-fit"):
        calibration_for(tiny_embedder)
