"""Text -> sentence spans: where each sentence starts and ends, as character offsets.

Every place that cuts text into sentences (the highlighted sentence of a search hit, the
occurrences behind the senses of a word) calls :func:`sentence_spans`, so they agree.

Boundaries come from ``sentencex`` (a maintained rule-based segmenter: abbreviations such as
"e.g.", "Dr.", "U.S.", decimals, initials, URLs and e-mail addresses, ellipses, quotes after
the full stop, and the sentence marks of other scripts: 。！？ ।). Its English rules are used
for every text: the model is English, and the rules for other languages differ mostly in
abbreviation lists. It reads ``<`` and ``>`` as brackets and finds no sentence end between an
opening bracket and the next closing one of any kind, so "p <0.05 ... (n = 12)" hid every
boundary in between: it is given the text with ``<`` and ``>`` read as ``=`` (same length, so
offsets still hold). On top of that, line breaks, which a segmenter reads as spaces unless
punctuation says otherwise, end a sentence where the layout says so: a blank line, a list
item (``-``, ``*``, ``•``, ``1.``, ``a)``), or a line after which the next starts with a
capital letter (a title, a line of a list without punctuation). A line whose next line starts
in lower case is a wrapped sentence (PDF text) and stays whole.

Spans are (start, end) into the original string, trimmed of surrounding whitespace, ordered
and disjoint: ``text[start:end]`` is the sentence exactly.
"""

from __future__ import annotations

import re

import sentencex

LANGUAGE = "en"
LINE_BREAK_CHARS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"  # what str.splitlines splits on
LINE_BREAK = re.compile(r"\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")
# A list item: a bullet, or "1." / "12)" / "a)" / "(iv)", then a space.
MARKER = r"(?:[-*+•‣◦▪▫●○■□·–—>]|\d{1,3}[.)]|[A-Za-z][.)]|\(\w{1,4}\))"
LIST_ITEM = re.compile(rf"[ \t]*{MARKER}[ \t]")
ONLY_MARKER = re.compile(rf"{MARKER}$")
MARKER_CHARS = 6  # the longest MARKER: "(abcd)"
BLANK_LINE = re.compile(r"[ \t]*(?:\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029])")
NEXT_CHAR = re.compile(r"\s*(\S)")
SURROGATE = re.compile("[\ud800-\udfff]")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text``, trimmed of surrounding whitespace.

    A text without any sentence (empty, or only whitespace) gives ``[(0, len(text))]``, so
    every text has at least one span.
    """
    if not text.strip():
        return [(0, len(text))]
    cuts = [(piece["start_index"], piece["end_index"]) for piece in _boundaries(text)]
    if any(char in text for char in LINE_BREAK_CHARS):
        cuts = [piece for start, end in cuts for piece in _split_lines(text, start, end)]
    spans: list[tuple[int, int]] = []
    for start, end in cuts:
        _append_trimmed(spans, text, start, end)
    return _join_markers(text, spans) or [(0, len(text))]


def _boundaries(text: str) -> list[dict]:
    """sentencex's sentences of ``text`` with ``<`` and ``>`` read as ``=`` (see the module
    doc) and a lone surrogate, which UTF-8 cannot carry, as U+FFFD: one character for one, so
    the offsets are those of ``text``."""
    read = text.replace("<", "=").replace(">", "=")
    try:
        return sentencex.get_sentence_boundaries(LANGUAGE, read)
    except UnicodeEncodeError:
        return sentencex.get_sentence_boundaries(LANGUAGE, SURROGATE.sub("\ufffd", read))


def _split_lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Cut ``text[start:end]`` at the line breaks that end a sentence (see the module doc)."""
    pieces = []
    line_start = start
    for match in LINE_BREAK.finditer(text, start, end):
        if _ends_sentence(text, line_start, match.start(), match.end(), end):
            pieces.append((start, match.start()))
            start = match.end()
        line_start = match.end()
    pieces.append((start, end))
    return pieces


def _ends_sentence(text: str, line_start: int, brk: int, after: int, end: int) -> bool:
    """Whether the line break ``text[brk:after]`` (inside a segment ending at ``end``) ends
    the sentence of the line that began at ``line_start``."""
    if LIST_ITEM.match(text, line_start, brk) or BLANK_LINE.match(text, after, end):
        return True
    first = NEXT_CHAR.match(text, after, end)
    if first is None:
        return True
    return first.group(1).isupper() or LIST_ITEM.match(text, after, end) is not None


def _append_trimmed(spans: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    """Append ``(start, end)`` less its leading and trailing whitespace, if anything is left."""
    start, end = max(start, spans[-1][1] if spans else 0), min(end, len(text))
    piece = text[start:end]
    start += len(piece) - len(piece.lstrip())
    end -= len(piece) - len(piece.rstrip())
    if end > start:
        spans.append((start, end))


def _join_markers(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Join a span that is only a list marker ("1.", "a)", "-") or an initial ("A.") to the
    span after it on the same line: the segmenter sometimes ends a sentence there."""
    joined: list[tuple[int, int]] = []
    for start, end in spans:
        last = joined[-1] if joined else (0, 0)
        if 0 < last[1] - last[0] <= MARKER_CHARS and ONLY_MARKER.match(text, *last):
            gap = text[joined[-1][1] : start]
            if LINE_BREAK.search(gap) is None:
                start = joined.pop()[0]
        joined.append((start, end))
    return joined
