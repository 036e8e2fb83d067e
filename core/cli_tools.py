"""Command-line tools beside search: export, compare-word, search-sense, next-token and
generate.

Registered on the parser by :func:`add_parsers`; :data:`COMMANDS` maps each name to its
function. Errors are raised as ``LabError`` and turned into a message by ``core.cli.main``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from core.errors import InputError


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add this module's sub-commands to ``python -m core``."""
    export = sub.add_parser("export", help="write a collection for another tool")
    export.add_argument("out_dir", type=Path, help="folder for vectors.tsv and metadata.tsv")
    export.add_argument("--collection", required=True)
    export.add_argument(
        "--format", choices=["projector"], default="projector", help="TensorFlow Projector TSV"
    )

    compare = sub.add_parser(
        "compare-word",
        help="how similar a word is in two sentences, layer by layer, and whether it is the "
        "same sense",
    )
    compare.add_argument("word", nargs="?", help="the word (single form)")
    compare.add_argument("sentence_a", nargs="?", help="first sentence (single form)")
    compare.add_argument("sentence_b", nargs="?", help="second sentence (single form)")
    compare.add_argument(
        "--pairs",
        type=Path,
        help='JSONL of {"id", "sentence_a", "word_a", "sentence_b", "word_b"} lines',
    )
    compare.add_argument("--json", action="store_true", help="print JSON")

    nxt = sub.add_parser(
        "next-token", help="the causal model's likeliest next tokens after TEXT, and by layer"
    )
    nxt.add_argument("text")
    nxt.add_argument("-k", type=int, default=10, help="how many top tokens (default 10)")
    nxt.add_argument("--temperature", type=float, default=1.0, help="softmax temperature")
    nxt.add_argument("--json", action="store_true", help="print JSON")

    gen = sub.add_parser("generate", help="continue TEXT with the causal model, token by token")
    gen.add_argument("text")
    gen.add_argument("--max-new-tokens", type=int, default=20, help="tokens to write (20)")
    gen.add_argument("--temperature", type=float, help="sample at this temperature (else greedy)")
    gen.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    gen.add_argument("-k", type=int, default=5, help="top tokens kept per step (default 5)")
    gen.add_argument("--json", action="store_true", help="print JSON")

    sense = sub.add_parser(
        "search-sense",
        help="passages of a collection that use a word in the same sense as a sentence does",
    )
    sense.add_argument("word", help="the word (its other forms are found too)")
    sense.add_argument("sentence", help="a sentence using the word in the wanted sense")
    sense.add_argument("--collection", required=True)
    sense.add_argument("-k", type=int, default=10, help="hits per list (default 10)")
    sense.add_argument("--json", action="store_true", help="print JSON")


def cmd_export(args: argparse.Namespace) -> int:
    """``export --collection NAME --format projector OUT_DIR``."""
    from core.model.embedder import Embedder
    from core.storage.collection import Collection, built_encoder
    from core.storage.export import export_projector

    collection = Collection(args.collection, Embedder(encoder=built_encoder(args.collection)).info)
    done = export_projector(collection, args.out_dir)
    print(
        f"{args.collection}: {done.rows:,} vectors of {done.dimension} dimensions -> "
        f"{done.vectors} and {done.metadata} (load both in projector.tensorflow.org)"
    )
    return 0


def cmd_compare_word(args: argparse.Namespace) -> int:
    """``compare-word --pairs FILE.jsonl --json`` or ``compare-word WORD "A" "B"``."""
    from core.explain.context import compare_pairs, compare_word

    if args.pairs is not None:
        if args.word is not None:
            raise InputError("Give either --pairs FILE.jsonl or WORD SENTENCE_A SENTENCE_B.")
        records = _read_pairs(args.pairs)
        failed = 0
        for result in compare_pairs(records):
            failed += "error" in result
            if "error" in result:
                print(f"pair {result['id']}: {result['error']}", file=sys.stderr)
            if args.json or "error" not in result:
                print(json.dumps(_rounded(result), ensure_ascii=False))
        return 1 if failed and failed == len(records) else 0
    if args.sentence_b is None:
        raise InputError(
            'Give a word and two sentences: compare-word bank "We sat on the river bank." '
            '"The bank raised its rates." (or --pairs FILE.jsonl).'
        )
    result = _rounded(compare_word(args.word, args.sentence_a, args.sentence_b))
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    verdict = "same sense" if result["same_sense"] else "different senses"
    print(
        f"'{result['word_a']}' vs '{result['word_b']}': cosine {result['similarity']:.3f} at the "
        f"last layer; {verdict} (score {result['score']:.3f}, threshold {result['threshold']:.3f})"
    )
    layers = " ".join(f"{v:.2f}" for v in result["by_layer"])
    print(f"by layer, from the embedding layer: {layers}")
    return 0


def _guesses(top: Any) -> list[dict[str, Any]]:
    return [{"token": g.token, "id": g.id, "prob": round(g.prob, 6)} for g in top]


def cmd_next_token(args: argparse.Namespace) -> int:
    """``next-token "TEXT" [-k 10] [--temperature T] [--json]``."""
    from core.explain.causal import check_text, next_token
    from core.model.causal_lm import load_causal_lm

    check_text(args.text)  # before the model loads
    result = next_token(load_causal_lm(), args.text, args.k, args.temperature)
    if result.cut_note:
        print(result.cut_note, file=sys.stderr)
    if args.json:
        out = {
            "text": args.text,
            "tokens": list(result.tokens),
            "cut": result.prompt.cut,
            "temperature": result.temperature,
            "entropy_bits": round(result.entropy, 6),
            "top": _guesses(result.top),
            "by_layer": [
                {
                    "layer": r.layer,
                    "top": _guesses(r.top),
                    "choice_rank": r.choice_rank,
                    "choice_prob": round(r.choice_prob, 6),
                }
                for r in result.by_layer
            ],
        }
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(f"{len(result.tokens)} tokens; entropy {result.entropy:.2f} bits")
    for guess in result.top:
        print(f"{guess.prob:8.4f}  {guess.id:>6}  {guess.token!r}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    """``generate "TEXT" --max-new-tokens N [--temperature T --seed S] [--json]``."""
    from core.explain.causal import check_text
    from core.explain.generation import generate
    from core.model.causal_lm import load_causal_lm

    check_text(args.text)  # before the model loads
    result = generate(
        load_causal_lm(), args.text, args.max_new_tokens, args.temperature, args.seed, args.k
    )
    if result.cut_note:
        print(result.cut_note, file=sys.stderr)
    text = result.text
    if args.json:
        steps = [
            {"token": s.token, "id": s.id, "prob": round(s.prob, 6), "top": _guesses(s.top)}
            for s in result.steps
        ]
        out = {"prompt": args.text, "text": text, "stopped": result.stopped, "steps": steps}
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(args.text + text)


def cmd_search_sense(args: argparse.Namespace) -> int:
    """``search-sense WORD "SENTENCE" --collection NAME [-k 10] [--json]``."""
    from core.explain.sense_search import as_dict, search_sense
    from core.model.embedder import Embedder
    from core.storage.collection import Collection

    embedder = Embedder()
    collection = Collection(args.collection, embedder.info)

    def progress(done: int, total: int) -> None:
        print(f"\rcontextual vectors: {done:,} of {total:,}", end="", file=sys.stderr)

    tty = sys.stderr.isatty()
    result = search_sense(
        embedder, collection.store, args.word, args.sentence, args.k, progress if tty else None
    )
    if tty:
        print(file=sys.stderr)
    if args.json:
        print(json.dumps(as_dict(result), ensure_ascii=False))
        return 0
    print(f"{result.note} Same-sense threshold: P >= {result.threshold:.2f}.")
    for heading, hits in (("Same sense", result.same), ("Other senses", result.other)):
        print(f"\n{heading} ({len(hits)}):")
        for h in hits:
            occ = h.occurrence
            marked = f"{occ.sentence[: occ.start]}[{occ.form}]{occ.sentence[occ.end :]}"
            print(f"{h.rank:3d}. cos {h.cosine:.3f}  P {h.probability:.2f}  {occ.title}: {marked}")
    return 0


def _read_pairs(path: Path) -> list[dict]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read {path}: {exc}") from None
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path} line {number} is not JSON: {exc.msg}") from None
        if not isinstance(record, dict):
            raise InputError(f"{path} line {number} is not a JSON object.")
        records.append(record)
    if not records:
        raise InputError(f"{path} holds no pairs.")
    return records


def _rounded(result: dict) -> dict:
    out = dict(result)
    for key in ("similarity", "score", "threshold"):
        if isinstance(out.get(key), float):
            out[key] = round(out[key], 6)
    if "by_layer" in out:
        out["by_layer"] = [round(float(v), 6) for v in out["by_layer"]]
    return out


COMMANDS = {
    "export": cmd_export,
    "compare-word": cmd_compare_word,
    "next-token": cmd_next_token,
    "generate": cmd_generate,
    "search-sense": cmd_search_sense,
}
