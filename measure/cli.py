"""``python -m measure``: every measurement of the lab, one command each.

- ``bench [--quick]``: every speed and quality figure, one table and a JSON file;
- ``eval scifact|stsb``: quality on the shared evaluation data (``EMBEDLAB_EVAL_DIR``);
  ``eval encoders``: both for int8 and fp32 side by side (SciFact train per mode, STS-B dev);
- ``wic-fit``: fit the same-sense verdict on WiC train, report dev, write the calibration;
- ``crash``, ``fuzz``, ``load``: crash trials, fuzzed files, many browsers at once (each
  takes its own options; ``python -m measure load --help``);
- ``screenshots [--out docs/images]``: every page drawn in Chromium, saved as PNGs;
- ``causal [--quick]``: the causal model's generation speed vs ``model.generate``, the
  next-token view's warm time, the first answer after a fresh clone, memory with both models;
- ``tour [--runs 5]``: Home's guided tour drawn in Chromium, cold and warm, beside a page;
- ``ray_ingest [--documents N]``: ``ingest --engine ray`` docs/s against the single-process
  ingest on SciFact abstracts, Ray's start-up apart (a ``bench`` section too).

Measurement imports the product (``core``); the product never imports it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from core.errors import LabError
from measure.suite import SECTIONS

TOOLS = ("crash", "fuzz", "load", "screenshots", "causal", "tour", "ray_ingest")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of bench, eval and wic-fit (the tools parse their own)."""
    parser = argparse.ArgumentParser(prog="python -m measure", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    bench = sub.add_parser("bench", help="every speed and quality figure, one table and JSON")
    bench.add_argument("--quick", action="store_true", help="the short run (under 3 minutes)")
    bench.add_argument(
        "--out", type=Path, default=Path("bench-results.json"), help="JSON file to write"
    )
    bench.add_argument("--collection", help="reuse an ingested SciFact collection")
    bench.add_argument(
        "--only", nargs="+", choices=SECTIONS, default=SECTIONS, help="run only these sections"
    )

    evaluate = sub.add_parser("eval", help="measure quality on ../shared/eval")
    evaluate.add_argument("task", choices=["scifact", "stsb", "encoders"])
    evaluate.add_argument("--run", type=Path, help="score this search --queries --json output")
    evaluate.add_argument("--no-baseline", action="store_true", help="skip the plain baseline")
    evaluate.add_argument("--collection", help="reuse an ingested SciFact collection")
    for key, encoder in (("int8", "onnx-int8"), ("torch", "torch")):
        evaluate.add_argument(
            f"--{key}-collection", help=f"encoders: reuse a SciFact collection built with {encoder}"
        )

    wic = sub.add_parser("wic-fit", help="fit the same-sense verdict on WiC train, report dev")
    wic.add_argument("--out", type=Path, help="calibration file (default: the committed one)")
    for name in TOOLS:
        sub.add_parser(name, help=f"python -m measure.{name} (its own options follow)")
    return parser


def cmd_bench(args: argparse.Namespace) -> int:
    """``bench [--quick]``: the one table, printed, and the figures as JSON."""
    from measure.suite import format_report, run_all

    def say(name: str) -> None:
        print(f"bench: {name}…", file=sys.stderr, flush=True)

    figures = run_all(args.quick, args.collection, args.out, say, tuple(args.only))
    print(format_report(figures))
    print(f"\nfigures written to {args.out}", file=sys.stderr)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """``eval scifact|stsb|encoders``: quality against the shared evaluation data."""
    from measure.bench import run_eval

    if args.task == "encoders":
        return _eval_encoders(args)

    figures = run_eval(args.task, args.run, not args.no_baseline, args.collection)
    print(json.dumps(figures, indent=2))
    return 0


def _eval_encoders(args: argparse.Namespace) -> int:
    """``eval encoders``: int8 and fp32 side by side, as JSON, then as a table."""
    from measure.encoder_quality import compare_encoders, format_table

    reused = {"onnx-int8": args.int8_collection, "torch": args.torch_collection}
    figures = compare_encoders(reused)
    print(json.dumps(figures, indent=2))
    print(format_table(figures))
    return 0


def cmd_wic_fit(args: argparse.Namespace) -> int:
    """``wic-fit``: fit on WiC train, score dev, write the calibration file."""
    from core.explain.word_sense import CALIBRATION_PATH, fit_wic

    summary = fit_wic(out=args.out or CALIBRATION_PATH)
    print(json.dumps(summary, indent=2))
    return 0


def run_tool(name: str, argv: Sequence[str]) -> int:
    """Hand the rest of the command line to ``measure.<name>`` (one of TOOLS)."""
    import importlib

    return importlib.import_module(f"measure.{name}").main(list(argv))


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "bench": cmd_bench,
    "eval": cmd_eval,
    "wic-fit": cmd_wic_fit,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one measurement; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in TOOLS:
        return run_tool(argv[0], argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
