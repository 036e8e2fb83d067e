"""The HTML the pages build from user text: escaped, one line, never parsed as Markdown."""

from __future__ import annotations

import pandas as pd

from core.search.hits import Hit
from ui import components

HOSTILE = "<script>alert(1)</script>\n\n![x](http://evil.example/x.png) $x^2$ & [a](javascript:1)"


def test_html_table_escapes_every_cell_and_stays_on_one_line() -> None:
    frame = pd.DataFrame({"rank": [1, 2], "score": [0.91234, 0.5], "title": [HOSTILE, "ok"]})
    out = components.html_table(frame, {"score": "{:.3f}"})
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
        text=HOSTILE,
        title="<i>t</i>",
        source="s.txt",
        chunk=0,
        chunks=1,
        start=0,
        end=len(HOSTILE),
        metadata={"k<": "v\n\nw"},
    )
    card = components.hit_card(hit, "already &lt;escaped&gt;\n\nsecond paragraph", 1.0, None)
    assert "\n" not in card and "&#10;&#10;second paragraph" in card
    assert "<i>" not in card and "&lt;i&gt;" in card and "<b>" not in card


def test_plain_escapes_markdown() -> None:
    assert components.plain("![x](y) $z$") == "\\!\\[x\\]\\(y\\) \\$z\\$"
