"""``python -m measure.sentences``: sentence segmenters side by side, and highlighting old vs new.

Candidates: the one-line regex the project used before (the baseline), ``sentencex``,
``pysbd``, and the project's :func:`core.documents.sentences.sentence_spans` (sentencex plus
its line-break rules). For each, on the same texts in one run:

- the cases named in the issue: how many split as a reader would;
- milliseconds per 1,000 passages, on the demo texts and on SciFact's abstracts;
- how many SciFact abstracts split differently between two candidates;
- how many passages lose text (a non-space character outside every span), and how many
  have a "sentence" of over 1,000 characters (nearly always missed boundaries).

Speed is the best of ``--repeat`` passes (pysbd: one pass), candidates taking turns.

Then highlighting old vs new on the demo collection (:mod:`measure.highlighting`).
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from collections.abc import Callable, Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from core.documents.sentences import sentence_spans
from measure import evaluation
from measure.highlighting import Spans, legacy_spans, report_highlight, trimmed

CASES: list[tuple[str, list[str]]] = [
    ("The rate rose to 3.5 percent. It fell.", ["The rate rose to 3.5 percent.", "It fell."]),
    (
        "Bring a tool, e.g. a hammer, i.e. a heavy one. Knock.",
        ["Bring a tool, e.g. a hammer, i.e. a heavy one.", "Knock."],
    ),
    (
        "Dr. Smith moved to the U.S. in 1990. She stayed.",
        ["Dr. Smith moved to the U.S. in 1990.", "She stayed."],
    ),
    (
        "J. R. R. Tolkien wrote it. Others read it.",
        ["J. R. R. Tolkien wrote it.", "Others read it."],
    ),
    ("Version 2.1.3 is out. Update now.", ["Version 2.1.3 is out.", "Update now."]),
    (
        "Read [notes](http://127.0.0.1:8501/n.html) first. Then ask.",
        ["Read [notes](http://127.0.0.1:8501/n.html) first.", "Then ask."],
    ),
    (
        "Write to jane.doe@example.org today. We answer.",
        ["Write to jane.doe@example.org today.", "We answer."],
    ),
    ("Wait... what? I see… fine.", ["Wait... what?", "I see… fine."]),
    ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
    ("Shopping:\n- eggs\n- milk\nThat is all.", ["Shopping:", "- eggs", "- milk", "That is all."]),
    ("Title line\nFirst sentence. Second one.", ["Title line", "First sentence.", "Second one."]),
    ("The model was\ntrained on text. Next.", ["The model was\ntrained on text.", "Next."]),
    (
        "Der Zins stieg auf 3,5 Prozent. Dr. Müller sagte das.",
        ["Der Zins stieg auf 3,5 Prozent.", "Dr. Müller sagte das."],
    ),
    ("東京は大きい。大阪も大きい。", ["東京は大きい。", "大阪も大きい。"]),
    (
        "Scores were <0.70 in small practices. Nine (n = 12) were >0.85.",
        ["Scores were <0.70 in small practices.", "Nine (n = 12) were >0.85."],
    ),
]
LONG_SENTENCE = 1000  # characters: a "sentence" this long is almost always missed boundaries


def sentencex_spans(text: str) -> Spans:
    """sentencex alone (English rules), trimmed."""
    import sentencex

    found = sentencex.get_sentence_boundaries("en", text)
    return trimmed(text, [(b["start_index"], b["end_index"]) for b in found])


@functools.cache
def pysbd_segmenter() -> Any:
    """pysbd's English segmenter, giving character spans of the original text."""
    import pysbd

    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def pysbd_spans(text: str) -> Spans:
    """pysbd alone (English), trimmed."""
    return trimmed(text, [(s.start, s.end) for s in pysbd_segmenter().segment(text)])


CANDIDATES: dict[str, Callable[[str], Spans]] = {
    "regex (before)": legacy_spans,
    "sentencex": sentencex_spans,
    "pysbd": pysbd_spans,
    "sentence_spans (now)": lambda text: trimmed(text, sentence_spans(text)),
}


def loses_text(text: str, spans: Spans) -> bool:
    """Whether some non-space character of ``text`` lies outside every span."""
    covered = np.zeros(len(text), dtype=bool)
    for start, end in spans:
        covered[start:end] = True
    return any(not covered[i] and not c.isspace() for i, c in enumerate(text))


def segment_all(
    texts: Sequence[str], repeat: int
) -> tuple[dict[str, list[Spans]], dict[str, float]]:
    """Every candidate's spans of every text, and its milliseconds per 1,000 texts (the best
    of ``repeat`` passes, candidates taking turns; pysbd, 200 times slower, gets one)."""
    spans: dict[str, list[Spans]] = {}
    best = dict.fromkeys(CANDIDATES, float("inf"))
    for n in range(repeat):
        for name, split in CANDIDATES.items():
            if n and name == "pysbd":
                continue
            split(texts[0])  # load and warm up
            started = time.perf_counter()
            spans[name] = [split(t) for t in texts]
            best[name] = min(best[name], (time.perf_counter() - started) * 1e6 / len(texts))
    return spans, best


def report_segmenters(
    demo: list[str], scifact: list[str], examples: int, repeat: int
) -> dict[str, Any]:
    """Print and return the cases, speed, disagreement and lost-text figures."""
    figures: dict[str, Any] = {"cases": len(CASES), "demo_texts": len(demo)}
    figures["scifact_abstracts"] = len(scifact)
    for name, split in CANDIDATES.items():
        right = sum([t[a:b] for a, b in split(t)] == want for t, want in CASES)
        figures[f"cases_right[{name}]"] = right
    demo_spans, demo_speed = segment_all(demo, repeat)
    sci_spans, sci_speed = segment_all(scifact, repeat)
    for name in CANDIDATES:
        figures[f"ms_per_1000_demo[{name}]"] = round(demo_speed[name], 1)
        figures[f"ms_per_1000_scifact[{name}]"] = round(sci_speed[name], 1)
        figures[f"scifact_sentences[{name}]"] = sum(map(len, sci_spans[name]))
        lost = sum(loses_text(t, s) for t, s in zip(scifact, sci_spans[name], strict=True))
        figures[f"scifact_losing_text[{name}]"] = lost
        figures[f"scifact_with_a_sentence_over_{LONG_SENTENCE}_chars[{name}]"] = sum(
            any(b - a > LONG_SENTENCE for a, b in spans) for spans in sci_spans[name]
        )
    for one, two in combinations(CANDIDATES, 2):
        pairs = zip(sci_spans[one], sci_spans[two], strict=True)
        differ = [i for i, (a, b) in enumerate(pairs) if a != b]
        figures[f"scifact_split_differently[{one} vs {two}]"] = len(differ)
        figures[f"demo_split_differently[{one} vs {two}]"] = sum(
            a != b for a, b in zip(demo_spans[one], demo_spans[two], strict=True)
        )
        if (one, two) == ("pysbd", "sentence_spans (now)"):
            _print_examples(scifact, sci_spans[one], sci_spans[two], differ[:examples])
    return figures


def _print_examples(
    texts: list[str], ones: list[Spans], twos: list[Spans], rows: list[int]
) -> None:
    """Show the sentences on which pysbd and the project's spans disagree in a few abstracts."""
    for i in rows:
        only_one = [texts[i][a:b] for a, b in ones[i] if (a, b) not in twos[i]]
        only_two = [texts[i][a:b] for a, b in twos[i] if (a, b) not in ones[i]]
        print(f"abstract {i}:\n  pysbd only: {only_one}\n  now only:   {only_two}")


def read_texts(limit: int | None) -> tuple[list[str], list[str]]:
    """The demo passages' texts and SciFact's abstracts (read in place, never copied)."""
    from core.ingest import builtin

    demo = [d.text for d in builtin.demo_documents()]
    path = evaluation.default_eval_dir() / "scifact" / "corpus.jsonl"
    with path.open(encoding="utf-8") as lines:
        scifact = [json.loads(line)["text"] for line in lines if line.strip()]
    return demo, scifact[:limit]


def main(argv: Sequence[str] | None = None) -> int:
    """Print the figures (one per line) and optionally write them as JSON."""
    parser = argparse.ArgumentParser(prog="python -m measure.sentences", description=__doc__)
    parser.add_argument("--limit", type=int, help="SciFact abstracts to use (default: all)")
    parser.add_argument("--queries", type=int, default=100, help="demo searches to highlight")
    parser.add_argument("--cold-repeat", type=int, default=3, help="cold calls (best is kept)")
    parser.add_argument("--examples", type=int, default=3, help="disagreements to show")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes (best is kept)")
    parser.add_argument("--no-highlight", action="store_true", help="skip the model timing")
    parser.add_argument("--out", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    demo, scifact = read_texts(args.limit)
    figures = report_segmenters(demo, scifact, args.examples, args.repeat)
    if not args.no_highlight:
        figures.update(report_highlight(args.queries, args.cold_repeat))
    for key, value in figures.items():
        print(f"{key}: {value}")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
