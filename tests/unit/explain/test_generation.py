"""Writing by repetition on a tiny random Llama: greedy equals ``model.generate``, a seeded
run equals the same number of single steps, and the bounds give clear messages."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import InputError
from core.explain import generation
from core.explain.causal import softmax


def test_greedy_equals_model_generate(tiny_llama) -> None:
    result = generation.generate(tiny_llama, "the cat and", 12)
    ids = torch.tensor([result.prompt.ids])
    reference = tiny_llama.model.generate(ids, do_sample=False, max_new_tokens=12, pad_token_id=0)
    assert [s.id for s in result.steps] == reference[0, ids.shape[1] :].tolist()
    assert result.stopped == ("length" if len(result.steps) == 12 else "end of text")
    assert result.text == tiny_llama.tokenizer.decode([s.id for s in result.steps])


def test_each_step_reports_its_distribution(tiny_llama) -> None:
    result = generation.generate(tiny_llama, "the cat", 3, k=4)
    ids = list(result.prompt.ids)
    for step in result.steps:
        with torch.no_grad():
            logits = tiny_llama.model(input_ids=torch.tensor([ids])).logits[0, -1].numpy()
        probs = softmax(logits)
        assert step.id == int(np.argmax(logits))
        assert step.prob == pytest.approx(probs[step.id], abs=1e-5)
        assert [g.id for g in step.top] == list(np.argsort(-probs)[:4])
        ids.append(step.id)


def test_a_seeded_run_equals_single_steps(tiny_llama) -> None:
    run = generation.generate(tiny_llama, "the cat", 6, temperature=1.5, seed=7)
    earlier: tuple[int, ...] = ()
    for _ in range(6):
        earlier = generation.generate(
            tiny_llama, "the cat", 1, temperature=1.5, seed=7, earlier=earlier
        ).ids
    assert run.ids == earlier
    again = generation.generate(tiny_llama, "the cat", 6, temperature=1.5, seed=7)
    assert again.ids == run.ids


def test_sampling_follows_the_distribution(tiny_llama) -> None:
    logits = np.log(np.array([0.7, 0.2, 0.1]))
    picks = [generation.pick(logits, 1.0, seed, 0) for seed in range(3000)]
    counts = np.bincount(picks, minlength=3) / 3000
    assert np.allclose(counts, [0.7, 0.2, 0.1], atol=0.03)
    assert generation.pick(logits, None, 0, 0) == 0


def test_stops_at_the_end_of_text_token(tiny_llama) -> None:
    first = generation.generate(tiny_llama, "the cat", 1).steps[0].id
    saved = tiny_llama.model.generation_config.eos_token_id
    tiny_llama.model.generation_config.eos_token_id = first
    try:
        result = generation.generate(tiny_llama, "the cat", 10)
    finally:
        tiny_llama.model.generation_config.eos_token_id = saved
    assert len(result.steps) == 1 and result.stopped == "end of text"


@pytest.mark.parametrize(
    ("n", "options", "message"),
    [
        (0, {}, "1 to 200"),
        (201, {}, "1 to 200"),
        (5, {"earlier": tuple(range(198))}, "198 written so far"),
        (5, {"temperature": 0.0}, "divide by zero"),
        (5, {"temperature": 1e6}, "outside"),
    ],
)
def test_bad_input_is_a_clear_message(tiny_llama, n, options, message) -> None:
    with pytest.raises(InputError, match=message):
        generation.generate(tiny_llama, "the cat", n, **options)


def test_the_prompt_is_cut_to_leave_room(tiny_llama) -> None:
    text = "the cat " * 40
    total = len(tiny_llama.tokenizer(text)["input_ids"])
    result = generation.generate(tiny_llama, text, 10)
    assert len(result.prompt.ids) + 10 == tiny_llama.window
    assert result.prompt.cut == total - 54 and f"first {total - 54} were cut" in result.cut_note
