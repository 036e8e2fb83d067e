"""ui.markup: the HTML and Markdown-inert text the pages build from user and document text.

HTML is escaped and on one line; text for Markdown elements shows as typed. The highlight
and contribution fragments draw exactly the spans and numbers core computed.
"""

from __future__ import annotations

import html
import random
import re

import pandas as pd
import pytest

from core.search.highlight import Explanation, query_terms, sentence_spans, term_spans
from core.search.hits import Hit
from ui import markup
from ui.markup import contributions_html, highlight_html, pieces_html

MARKDOWN = "<script>alert(1)</script>\n\n![x](http://evil.example/x.png) $x^2$ & [a](javascript:1)"


def test_html_table_escapes_every_cell_and_stays_on_one_line() -> None:
    frame = pd.DataFrame({"rank": [1, 2], "score": [0.91234, 0.5], "title": [MARKDOWN, "ok"]})
    out = markup.html_table(frame, {"score": "{:.3f}"})
    assert "\n" not in out
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "&amp; [a](javascript:1)" in out
    assert '<td class="num">0.912</td>' in out and "<th>title</th>" in out
    assert out.count("<tr>") == 3  # header and two rows


def test_hit_card_is_one_line_so_markdown_never_starts() -> None:
    hit = Hit(
        rank=1,
        doc_id='id"<b>',
        score=0.5,
        text=MARKDOWN,
        title="<i>t</i>",
        source="s.txt",
        chunk=0,
        chunks=1,
        start=0,
        end=len(MARKDOWN),
        metadata={"k<": "v\n\nw"},
    )
    card = markup.hit_card(hit, "already &lt;escaped&gt;\n\nsecond paragraph", 1.0, None)
    assert "\n" not in card and "&#10;&#10;second paragraph" in card
    assert "<i>" not in card and "&lt;i&gt;" in card and "<b>" not in card


# --- Markdown-inert text ---------------------------------------------------------------------

LINKS = [
    "![x](http://127.0.0.2:9/x.png)",
    "[t](http://127.0.0.2:9/l)",
    "<http://127.0.0.2:9/auto>",
    "www.example.com and WWW.Example.COM",
    "HTTPS://127.0.0.2:9/bare http://127.0.0.2:9/bare",
    "user@evil.example mailto:a@b.example",
    "[t][1]\n\n[1]: http://127.0.0.2:9/ref",
    ":red[colour] :material/warning: $x^2$ ~~gone~~ **bold** `code` <b>tag</b> &amp;",
    "title\n===\n# head\n> quote\n1. list\n- item\n| a | b |\n|---|---|",
]


def shown(text: str) -> str:
    """What a person reads once Markdown resolves the escapes (the word joiners are invisible)."""
    return re.sub(r"\\(.)", r"\1", text, flags=re.S).replace(markup.WORD_JOINER, "")


@pytest.mark.parametrize("text", LINKS)
def test_plain_text_reads_as_typed(text: str) -> None:
    assert shown(markup.plain(text)) == text


@pytest.mark.parametrize("text", LINKS)
def test_plain_text_has_no_markdown_left(text: str) -> None:
    out = markup.plain(text)
    unescaped = re.sub(r"\\.", "", out, flags=re.S)  # what Markdown could still act on
    assert not re.search(r"[\\`*_{}\[\]()<>#+\-.!|~$&:@=]", unescaped)
    # autolink literals (matched after escapes resolve) are broken by a word joiner
    resolved = re.sub(r"\\(.)", r"\1", out, flags=re.S)
    assert not re.search(r"(?i)(www\.|https?://|ftp://|@\w)", resolved)


def test_plain_escapes_markdown() -> None:
    assert markup.plain("![x](y) $z$") == "\\!\\[x\\]\\(y\\) \\$z\\$"
    assert markup.plain("a@b.c") == "a\\@\u2060b\\.c"
    assert markup.plain("x\n\n    [a](b)\n\tc") == "x\n\n\xa0\xa0\xa0\xa0\\[a\\]\\(b\\)\n\xa0c"


# --- highlighted hits ------------------------------------------------------------------------

HOSTILE = (
    "Intro line. <script>alert(1)</script> and <img src=x onerror=alert(1)> here!\n"
    'He said "hi" & \'bye\' <b>bold</b> </mark><mark> --> <!-- <a href="javascript:x">x</a>'
)
OUR_TAGS = re.compile(r'<mark class="passage">|</mark>|<b>|</b>')


def strip_our_tags(markup: str) -> str:
    """Remove the only tags highlight_html may emit."""
    return OUR_TAGS.sub("", markup)


def full_explanation(text: str, query: str) -> Explanation:
    """An explanation marking the last sentence and every query word."""
    return Explanation(sentence_spans(text)[-1], 0.5, term_spans(text, query_terms(query)))


@pytest.mark.parametrize(
    "explanation",
    [
        None,
        full_explanation(HOSTILE, "script img alert onerror javascript bold mark"),
        Explanation((0, len(HOSTILE)), 1.0, ()),
        Explanation((0, 0), 0.0, ((13, 19), (40, 43))),
    ],
    ids=["none", "terms", "whole", "empty-sentence"],
)
def test_hostile_html_is_escaped(explanation: Explanation | None) -> None:
    markup = highlight_html(HOSTILE, explanation)
    lowered = markup.lower()
    assert "<script" not in lowered
    assert "<img" not in lowered
    assert "<a " not in lowered
    assert "<!--" not in markup
    if explanation is None or not explanation.terms:
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup
        assert "&lt;img src=x onerror=alert(1)&gt;" in markup
    assert "&quot;hi&quot;" in markup
    assert "&#x27;bye&#x27;" in markup
    assert "&amp;" in markup
    rest = strip_our_tags(markup)
    assert "<" not in rest and ">" not in rest and '"' not in rest and "'" not in rest
    assert html.unescape(rest) == HOSTILE  # nothing lost, nothing added
    assert markup.count("<b>") == markup.count("</b>")
    assert markup.count("<mark") == markup.count("</mark>")


def marked(markup: str, tag: str) -> list[str]:
    """Plain text inside each ``tag`` element of ``markup``."""
    pattern = rf"<{tag}[^>]*>(.*?)</{tag}>" if tag == "b" else rf"<{tag}[^>]*>((?:.|\n)*?)</{tag}>"
    return [html.unescape(strip_our_tags(m)) for m in re.findall(pattern, markup)]


def test_marks_wrap_the_sentence_and_terms() -> None:
    text = "Cats & purr. Dogs <bark> loudly. Birds sing."
    sentence = (13, 32)
    assert text[slice(*sentence)] == "Dogs <bark> loudly."
    terms = term_spans(text, {"dogs", "birds", "bark"})
    markup = highlight_html(text, Explanation(sentence, 0.9, terms))
    assert "".join(marked(markup, "mark")) == "Dogs <bark> loudly."
    assert marked(markup, "b") == ["Dogs", "bark", "Birds"]
    assert markup.startswith("Cats &amp; purr. <mark")
    assert markup.endswith(" sing.")
    assert html.unescape(strip_our_tags(markup)) == text


def test_highlight_without_explanation_is_plain_escaped_text() -> None:
    assert highlight_html("a < b & c", None) == "a &lt; b &amp; c"


def test_random_texts_and_spans_round_trip() -> None:
    rnd = random.Random(0)
    alphabet = "ab <>&\"'.!?\n"
    for _ in range(300):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 40)))
        lo = rnd.randint(0, len(text))
        hi = rnd.randint(lo, len(text))
        terms = term_spans(text, {"aab", "bba", "abba"})
        markup = highlight_html(text, Explanation((lo, hi), 0.1, terms))
        rest = strip_our_tags(markup)
        assert "<" not in rest and ">" not in rest
        assert html.unescape(rest) == text
        assert markup.count("<mark") == markup.count("</mark>") == (1 if hi > lo else 0)
        whole = [t for t in terms if not (t[0] < lo < t[1] or t[0] < hi < t[1])]
        assert markup.count("<b>") == markup.count("</b>") == len(whole)
        if hi > lo:
            assert "".join(marked(markup, "mark")) == text[lo:hi]


def test_highlight_marks_a_sentence_and_its_shared_words() -> None:
    text = "The cat slept. The central bank raised interest rates. We hiked."
    explanation = Explanation((15, 55), 0.6, term_spans(text, query_terms("bank rates")))
    out = highlight_html(text, explanation)
    assert '<mark class="passage">The central <b>bank</b>' in out
    assert "<b>rates</b>" in out


# --- word pieces and contributions -----------------------------------------------------------


def test_html_escapes_tokens_and_shows_numbers() -> None:
    tokens = ["[CLS]", "<script>", "##\"x'", "&", "[SEP]"]
    out = contributions_html(tokens, [0.01, 0.2, -0.05, 0.0, 0.02])
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "&quot;x&#x27;" in out and "&amp;" in out
    assert 'title="&lt;script&gt;: +0.2000"' in out
    assert "rgba(220,53,69" in out  # a negative contribution is red
    assert len(re.findall(r"<span[ >]", out)) == len(tokens) + 1
    boxes = pieces_html(["<b>", "ok"], [7, 8], marked=[0])
    assert "&lt;b&gt;" in boxes and "<b>" not in boxes and "#fff3bf" in boxes
