"""The next-token distribution and the logit lens, on tiny random causal models built offline.

A tiny Llama (SmolLM2's family) and a tiny GPT-2 share one 71-entry byte-level BPE vocabulary
(``tests/fixtures/tiny_gpt2``); the weights are drawn at test time. Every number is checked
against a computation written out here with plain torch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core.errors import InputError, ModelNotFoundError
from core.explain import causal
from core.model.causal_lm import load_causal_lm
from tests.tiny_model import build_tiny_gpt2


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory: pytest.TempPathFactory):
    return load_causal_lm(str(build_tiny_gpt2(tmp_path_factory.mktemp("tiny-gpt2"))))


def plain_probs(lm, text: str, temperature: float = 1.0) -> np.ndarray:
    ids = lm.tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = lm.model(input_ids=ids).logits[0, -1].double()
    return torch.softmax(logits / temperature, -1).numpy()


@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
def test_distribution_is_the_softmax_of_the_models_logits(tiny_llama, temperature) -> None:
    result = causal.next_token(tiny_llama, "the cat and the", k=50, temperature=temperature)
    probs = plain_probs(tiny_llama, "the cat and the", temperature)
    assert len(result.top) == 50
    assert [g.id for g in result.top] == list(np.argsort(-probs, kind="stable")[:50])
    assert np.allclose([g.prob for g in result.top], np.sort(probs)[::-1][:50], atol=1e-6)
    expected = -(probs * np.log2(probs)).sum()
    assert result.entropy == pytest.approx(expected, abs=1e-6)
    assert "".join(result.tokens) == "the cat and the" and result.prompt.cut == 0


def test_top_k_is_the_k_best(tiny_llama) -> None:
    result = causal.next_token(tiny_llama, "the sand", k=3)
    probs = plain_probs(tiny_llama, "the sand")
    assert [g.id for g in result.top] == list(np.argsort(-probs)[:3])


def test_higher_temperature_flattens(tiny_llama) -> None:
    cold = causal.next_token(tiny_llama, "the cat", temperature=0.2).entropy
    warm = causal.next_token(tiny_llama, "the cat", temperature=1.0).entropy
    hot = causal.next_token(tiny_llama, "the cat", temperature=5.0).entropy
    assert cold < warm < hot <= np.log2(71) + 1e-9


def test_probe_rank_and_probability(tiny_llama) -> None:
    result = causal.next_token(tiny_llama, "the cat and the", probe="sand")
    probs = plain_probs(tiny_llama, "the cat and the")
    first = tiny_llama.tokenizer(" sand", add_special_tokens=False)["input_ids"][0]
    assert result.probe.text == " sand"  # a new word after a text starts with a space
    assert result.probe.pieces[0] == tiny_llama.tokenizer.decode([first])
    assert result.probe.rank == 1 + int((probs > probs[first]).sum())
    assert result.probe.prob == pytest.approx(probs[first], abs=1e-9)


@pytest.mark.parametrize("which", ["tiny_llama", "tiny_gpt2"])
def test_logit_lens_reads_each_layer_through_norm_and_head(which, request) -> None:
    lm = request.getfixturevalue(which)
    ids = lm.tokenizer("the cat", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = lm.model(input_ids=ids, output_hidden_states=True)
        manual = [lm.model.lm_head(lm.final_norm(h[0, -1])) for h in out.hidden_states[:-1]]
    result = causal.next_token(lm, "the cat", k=1)
    assert len(result.by_layer) == len(lm.blocks) + 1  # input vectors + every layer
    for layer, logits in enumerate(manual):
        assert result.by_layer[layer].top[0].id == int(torch.argmax(logits))
    assert result.by_layer[-1].top == result.top  # the last layer is the model's own output
    assert result.by_layer[-1].choice_rank == 1


def test_choice_rank_by_layer_is_exact(tiny_llama) -> None:
    result = causal.next_token(tiny_llama, "the cat and", k=2)
    lens = causal.last_logits(tiny_llama, result.prompt.ids)
    choice = result.top[0].id
    for reading, row in zip(result.by_layer, lens, strict=True):
        assert reading.choice_rank == 1 + int((row > row[choice]).sum())


def test_a_long_text_is_cut_from_the_start_and_said_so(tiny_llama) -> None:
    text = "the cat " * 60
    total = len(tiny_llama.tokenizer(text)["input_ids"])  # past the tiny model's window of 64
    result = causal.next_token(tiny_llama, text)
    assert len(result.prompt.ids) == tiny_llama.window == 64
    assert result.prompt.ids == tuple(tiny_llama.tokenizer(text)["input_ids"][-64:])
    assert result.prompt.cut == total - 64
    assert f"first {total - 64} were cut" in result.cut_note


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        ("", {}, "Type some text"),
        ("   \n", {}, "Type some text"),
        ("the\x00cat", {}, "control character"),
        ("the\x1bcat", {}, r"U\+001B"),
        ("x" * 20_001, {}, "limit is 20,000"),
        ("the cat", {"temperature": 0.0}, "divide by zero"),
        ("the cat", {"temperature": 1e9}, "outside"),
        ("the cat", {"temperature": float("nan")}, "must be a number"),
        ("the cat", {"k": 0}, "1 to 50"),
        ("the cat", {"probe": "a\x07"}, "control character"),
    ],
)
def test_bad_input_is_a_clear_message(tiny_llama, text, options, message) -> None:
    with pytest.raises(InputError, match=message):
        causal.next_token(tiny_llama, text, **options)


def test_newlines_and_tabs_are_text(tiny_llama) -> None:
    assert causal.next_token(tiny_llama, "the\tcat\nand").top


def test_environment_variable_names_the_folder(
    tiny_llama_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMBEDLAB_CAUSAL_MODEL", str(tiny_llama_dir))
    assert load_causal_lm().name == str(tiny_llama_dir)
    monkeypatch.setenv("EMBEDLAB_CAUSAL_MODEL", "/no/such/folder")
    with pytest.raises(ModelNotFoundError, match="not a folder"):
        load_causal_lm()
