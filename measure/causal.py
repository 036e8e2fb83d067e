"""``python -m measure causal [--quick]``: the causal model's speed and memory, as ratios.

- generation: our token-by-token loop (KV cache, top tokens kept per step) vs plain
  ``model.generate(do_sample=False)``, same prompt, same tokens, alternating runs: tokens/s
  of each and the ratio;
- distribution: the next-token view for a 30-token prompt (distribution + logit lens), warm,
  vs one plain forward pass: milliseconds of each;
- first answer: ``python -m core next-token`` in a fresh process with an empty model cache
  (the GGUF file dequantised and saved: a fresh clone's first answer), then again (the copy
  read), beside a process that only imports torch and transformers;
- memory: a fresh process loads both models (the encoder embeds a query, the causal model
  answers), then runs 20 training demos: resident memory after each step.

Absolute times depend on what else runs on the machine (its load average is printed); read
the ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from core import config

ROOT = Path(__file__).resolve().parents[1]
PROMPT_30 = (  # 30 SmolLM2 tokens
    "The history of the printing press begins in the fifteenth century, when Johannes "
    "Gutenberg combined movable metal type with an oil-based ink and a wooden press to"
)


def rss_mb() -> float:
    """This process's resident memory in MB (Linux ``/proc``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def generation_ratio(lm, new_tokens: int, rounds: int) -> dict:
    """Tokens/s of ours and of ``model.generate``, alternating, medians, and the ratio."""
    import torch

    from core.explain.generation import generate

    ours, plain = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        result = generate(lm, PROMPT_30, new_tokens)
        ours.append(len(result.steps) / (time.perf_counter() - start))
        ids = torch.tensor([result.prompt.ids])
        start = time.perf_counter()
        with torch.inference_mode():
            out = lm.model.generate(ids, do_sample=False, max_new_tokens=new_tokens)
        plain.append((out.shape[1] - ids.shape[1]) / (time.perf_counter() - start))
        assert out[0, ids.shape[1] :].tolist() == [s.id for s in result.steps]
    a, b = statistics.median(ours), statistics.median(plain)
    return {"ours_tokens_per_s": a, "generate_tokens_per_s": b, "ratio": a / b}


def distribution_times(lm, repeats: int) -> dict:
    """Warm milliseconds of the next-token view and of one plain forward pass."""
    import torch

    from core.explain.causal import next_token

    result = next_token(lm, PROMPT_30, k=10)  # warm
    ids = torch.tensor([result.prompt.ids])
    ours, plain = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        next_token(lm, PROMPT_30, k=10)
        ours.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        with torch.inference_mode():
            torch.softmax(lm.model(input_ids=ids).logits[0, -1], -1)
        plain.append((time.perf_counter() - start) * 1000)
    a, b = statistics.median(ours), statistics.median(plain)
    return {"tokens": len(result.prompt.ids), "view_ms": a, "forward_ms": b, "ratio": a / b}


def timed_process(args: Sequence[str], env: dict[str, str]) -> float:
    """Seconds a fresh Python process takes to run ``args``."""
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def first_answer() -> dict:
    """A fresh clone's first answer (conversion included), the next one, and bare imports."""
    with tempfile.TemporaryDirectory(prefix="embedlab-cache-") as cache:
        env = {k: v for k, v in os.environ.items() if k != config.CAUSAL_MODEL_VAR}
        env["EMBEDLAB_MODEL_CACHE"] = cache  # empty: as on a fresh clone
        ask = ["-m", "core", "next-token", "The capital of France is", "--json"]
        first = timed_process(ask, env)
        second = timed_process(ask, env)
        imports = timed_process(["-c", "import torch, transformers"], env)
    return {"fresh_s": first, "cached_s": second, "imports_only_s": imports}


def memory_child(demos: int) -> dict:
    """In this process: both models loaded and used, then ``demos`` training demos."""
    from core.explain.causal import next_token
    from core.explain.training import train_demo
    from core.model.causal_lm import load_causal_lm
    from core.model.embedder import Embedder

    start = rss_mb()
    Embedder().encode(["how do owls hunt at night"])
    encoder = rss_mb()
    lm = load_causal_lm()
    next_token(lm, "The capital of France is")
    both = rss_mb()
    after = []
    for _ in range(demos):
        train_demo(lm, "The capital of France is", "Berlin", steps=5)
        after.append(rss_mb())
    return {"python_mb": start, "encoder_mb": encoder, "both_mb": both, "demos_mb": after}


def memory() -> dict:
    """``memory_child`` in a fresh process (this one has other models loaded)."""
    out = subprocess.run(
        [sys.executable, "-m", "measure.causal", "--memory-child"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


SECTIONS = ("generation", "distribution", "first", "memory")


def report(figures: dict) -> str:
    """The figures measured, as a few lines of text."""
    lines = [
        f"load average at start {figures['load'][0]:.1f}, end {figures['load'][1]:.1f}; "
        f"torch threads {figures.get('threads', '?')}"
    ]
    for name in SECTIONS:
        if name in figures:
            lines.append(_LINES[name](figures[name]))
    return "\n".join(lines)


def _generation_line(g: dict) -> str:
    return (
        f"generation: ours {g['ours_tokens_per_s']:.1f} tok/s, model.generate "
        f"{g['generate_tokens_per_s']:.1f} tok/s, ratio {g['ratio']:.2f}"
    )


def _distribution_line(d: dict) -> str:
    return (
        f"distribution ({d['tokens']} tokens, warm): view {d['view_ms']:.0f} ms, one plain "
        f"forward {d['forward_ms']:.0f} ms, ratio {d['ratio']:.2f}"
    )


def _first_line(f: dict) -> str:
    return (
        f"first answer, fresh cache: {f['fresh_s']:.1f} s; next process: {f['cached_s']:.1f} s; "
        f"importing torch+transformers alone {f['imports_only_s']:.1f} s"
    )


def _memory_line(m: dict) -> str:
    demos = m["demos_mb"]
    return (
        f"memory: python {m['python_mb']:.0f} MB, + encoder {m['encoder_mb']:.0f} MB, + causal "
        f"{m['both_mb']:.0f} MB; after demo 1 {demos[0]:.0f} MB, after demo {len(demos)} "
        f"{demos[-1]:.0f} MB (max {max(demos):.0f})"
    )


_LINES = {
    "generation": _generation_line,
    "distribution": _distribution_line,
    "first": _first_line,
    "memory": _memory_line,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the measurements; print the report and the JSON figures."""
    parser = argparse.ArgumentParser(prog="python -m measure causal", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and demos")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated, of: {','.join(SECTIONS)} (default: all)",
    )
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    demos = 5 if args.quick else 20
    if args.memory_child:
        print(json.dumps(memory_child(demos)))
        return 0
    import torch

    from core.model.causal_lm import load_causal_lm

    wanted = [s.strip() for s in args.sections.split(",") if s.strip()]
    if not wanted or set(wanted) - set(SECTIONS):
        parser.error(f"--sections takes some of: {','.join(SECTIONS)}")
    torch.set_num_threads(config.threads())
    load = [os.getloadavg()[0]]
    lm = load_causal_lm() if {"generation", "distribution"} & set(wanted) else None
    runs = {
        "generation": lambda: generation_ratio(
            lm, 32 if args.quick else 64, 2 if args.quick else 4
        ),
        "distribution": lambda: distribution_times(lm, 5 if args.quick else 15),
        "first": first_answer,
        "memory": memory,
    }
    figures = {name: runs[name]() for name in wanted}
    figures["load"] = [*load, os.getloadavg()[0]]
    figures["threads"] = torch.get_num_threads()
    print(report(figures))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
