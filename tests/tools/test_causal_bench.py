"""``python -m measure causal`` on the tiny Llama: each section measures what it says."""

from __future__ import annotations

from measure import causal as bench


def test_generation_and_distribution_sections(tiny_llama) -> None:
    gen = bench.generation_ratio(tiny_llama, 6, 1)  # asserts the same tokens as generate
    assert gen["ours_tokens_per_s"] > 0 and gen["generate_tokens_per_s"] > 0
    assert gen["ratio"] == gen["ours_tokens_per_s"] / gen["generate_tokens_per_s"]
    dist = bench.distribution_times(tiny_llama, 2)
    assert dist["tokens"] == tiny_llama.window  # the tiny window (64) cuts the prompt
    assert dist["view_ms"] > 0 and dist["forward_ms"] > 0


def test_report_states_every_figure() -> None:
    figures = {
        "load": [1.0, 2.0],
        "generation": {"ours_tokens_per_s": 30, "generate_tokens_per_s": 31, "ratio": 30 / 31},
        "distribution": {"tokens": 30, "view_ms": 120, "forward_ms": 80, "ratio": 1.5},
        "first": {"fresh_s": 60, "cached_s": 9, "imports_only_s": 6},
        "memory": {"python_mb": 20, "encoder_mb": 600, "both_mb": 1500, "demos_mb": [1600, 1610]},
    }
    text = bench.report(figures)
    assert "ratio 0.97" in text and "after demo 2 1610 MB" in text and "fresh cache: 60.0 s" in text
    assert bench.rss_mb() > 10
