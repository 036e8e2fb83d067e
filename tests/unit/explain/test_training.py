"""The training demo on a tiny random Llama: the loss falls, the wanted continuation gets
likelier, the shared model is untouched, and the bounds give clear messages."""

from __future__ import annotations

import math

import pytest
import torch

from core.errors import BusyError, InputError
from core.explain import training
from core.explain.causal import next_token


def test_steps_make_the_wanted_continuation_likelier(tiny_llama) -> None:
    shared = {k: v.clone() for k, v in tiny_llama.model.state_dict().items()}
    demo = training.train_demo(tiny_llama, "the cat", "sand", steps=8)
    assert len(demo.losses) == 9  # before each step, and after the last
    assert demo.losses[-1] < demo.losses[0]
    assert demo.prob_after > demo.prob_before
    assert "".join(demo.wanted) == " sand"  # a space put before a new word
    assert demo.parameters == sum(p.numel() for p in tiny_llama.blocks[-1].parameters()) + sum(
        p.numel() for p in tiny_llama.final_norm.parameters()
    )
    for name, value in tiny_llama.model.state_dict().items():
        assert torch.equal(value, shared[name]), name  # the shared model never changes
    assert not any(p.requires_grad for p in tiny_llama.model.parameters())


def test_before_is_the_shared_models_own_probability(tiny_llama) -> None:
    demo = training.train_demo(tiny_llama, "the cat", "sand", steps=1)
    ids = tiny_llama.tokenizer("the cat sand", add_special_tokens=False)["input_ids"]
    prompt_len = len(tiny_llama.tokenizer("the cat")["input_ids"])
    with torch.no_grad():
        logp = torch.log_softmax(tiny_llama.model(input_ids=torch.tensor([ids])).logits[0], -1)
    expected = sum(float(logp[i - 1, ids[i]]) for i in range(prompt_len, len(ids)))
    assert demo.prob_before == pytest.approx(math.exp(expected), rel=1e-4)
    top = next_token(tiny_llama, "the cat", k=5).top
    assert [g.id for g in demo.top_before] == [g.id for g in top]
    assert [m.prompt for m in demo.others] == list(training.OTHER_PROMPTS)


@pytest.mark.parametrize(
    ("prompt", "wanted", "steps", "message"),
    [
        ("the cat", "", 5, "Type some wanted continuation"),
        ("the cat", " ", 5, "Type some wanted continuation"),
        ("the cat", "sand " * 250, 5, "the demo takes 1 to 16"),
        ("", "sand", 5, "Type some prompt"),
        ("the cat " * 40, "sand", 5, "at most 64"),
        ("the cat", "sand", 0, "1 to 20 training steps"),
        ("the cat", "sand", 21, "1 to 20 training steps"),
        ("the cat", "sa\x00nd", 5, "control character"),
    ],
)
def test_bad_input_is_a_clear_message(tiny_llama, prompt, wanted, steps, message) -> None:
    with pytest.raises(InputError, match=message):
        training.train_demo(tiny_llama, prompt, wanted, steps)


def test_one_demo_at_a_time(tiny_llama) -> None:
    assert training._BUSY.acquire(blocking=False)
    try:
        with pytest.raises(BusyError, match="Another training demo"):
            training.train_demo(tiny_llama, "the cat", "sand", 1)
    finally:
        training._BUSY.release()
    assert training.train_demo(tiny_llama, "the cat", "sand", 1).losses
