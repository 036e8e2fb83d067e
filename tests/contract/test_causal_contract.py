"""The bundled SmolLM2-135M against plain ``transformers``: the lab's numbers are the model's.

- next-token probabilities equal a plain softmax of a plainly loaded model within 1e-5;
- greedy writing equals ``model.generate(do_sample=False)`` token for token;
- the logit lens's last layer is the model's own readout (final norm, then output head);
- the float32 copy answers as the GGUF file loaded directly does.

One model per session (``real_causal_lm``); the GGUF comparison loads the file once more.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.explain import causal, generation, training
from core.model import causal_lm

pytestmark = pytest.mark.slow
PROMPTS = ["The capital of France is", "def add(a, b):\n    return", "Once upon a time, the"]


@pytest.fixture(scope="module")
def plain():
    """The copy loaded the plain way: default attention kernel, plain tokenizer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = causal_lm.copy_dir(causal_lm.bundled_gguf())
    if not folder.is_dir():
        pytest.fail(f"no float32 copy at {folder}: the real_causal_lm fixture should write it")
    return AutoModelForCausalLM.from_pretrained(str(folder)), AutoTokenizer.from_pretrained(
        str(folder)
    )


def plain_probs(plain, text: str) -> np.ndarray:
    model, tokenizer = plain
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        return torch.softmax(model(input_ids=ids).logits[0, -1], -1).numpy()


@pytest.mark.parametrize("text", PROMPTS)
def test_probabilities_equal_plain_transformers(real_causal_lm, plain, text) -> None:
    expected = plain_probs(plain, text)
    ours = causal.next_token(real_causal_lm, text, k=50)
    lens = causal.last_logits(real_causal_lm, ours.prompt.ids)
    assert np.abs(causal.softmax(lens[-1]) - expected).max() < 1e-5
    assert [g.id for g in ours.top[:5]] == list(np.argsort(-expected)[:5])
    assert np.abs(np.array([g.prob for g in ours.top]) - np.sort(expected)[::-1][:50]).max() < 1e-5


def test_paris(real_causal_lm) -> None:
    result = causal.next_token(real_causal_lm, "The capital of France is", k=3, probe="London")
    assert [g.token for g in result.top] == [" Paris", " the", " London"]
    assert result.top[0].prob == pytest.approx(0.77, abs=0.01)
    assert result.probe.rank == 3 and result.vocabulary == 49_152


@pytest.mark.parametrize(("text", "n"), [(PROMPTS[0], 20), (PROMPTS[1], 10)])
def test_greedy_equals_model_generate(real_causal_lm, text, n) -> None:
    ours = generation.generate(real_causal_lm, text, n)
    ids = torch.tensor([ours.prompt.ids])
    reference = real_causal_lm.model.generate(ids, do_sample=False, max_new_tokens=n)
    assert [s.id for s in ours.steps] == reference[0, ids.shape[1] :].tolist()


def test_lens_last_layer_is_the_models_output(real_causal_lm) -> None:
    lm = real_causal_lm
    ids = lm.tokenizer("The capital of France is", return_tensors="pt")["input_ids"]
    kept = []
    handle = lm.blocks[-1].register_forward_hook(lambda _m, _i, out: kept.append(out))
    try:
        with torch.no_grad():
            out = lm.model(input_ids=ids)
    finally:
        handle.remove()
    raw = kept[0][0] if isinstance(kept[0], tuple) else kept[0]  # the last block, before norm
    readout = lm.model.lm_head(lm.final_norm(raw[0, -1])).numpy()
    lens = causal.last_logits(lm, tuple(ids[0].tolist()))
    assert np.abs(readout - out.logits[0, -1].numpy()).max() < 1e-4
    assert np.abs(lens[-1] - readout).max() < 1e-4
    assert len(lens) == 31


def test_the_copy_answers_as_the_gguf_file(real_causal_lm) -> None:
    from transformers import AutoModelForCausalLM

    gguf = causal_lm.bundled_gguf()
    direct = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    ids = real_causal_lm.tokenizer(PROMPTS[0], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        a = direct(input_ids=ids).logits[0, -1]
        b = real_causal_lm.model(input_ids=ids).logits[0, -1]
    assert (a - b).abs().max() < 1e-3
    assert torch.equal(a.topk(10).indices, b.topk(10).indices)


def test_training_moves_the_copy_not_the_model(real_causal_lm) -> None:
    block = real_causal_lm.blocks[-1]
    before = [p.clone() for p in block.parameters()]
    demo = training.train_demo(real_causal_lm, "The capital of France is", "Berlin", steps=5)
    assert demo.prob_after > 10 * demo.prob_before
    assert demo.top_before[0].token == " Paris"
    assert all(torch.equal(a, b) for a, b in zip(before, block.parameters(), strict=True))
    again = causal.next_token(real_causal_lm, "The capital of France is", k=1)
    assert again.top[0].token == " Paris"
