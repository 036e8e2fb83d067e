"""AppTest for every page, on the real bundled model and a private data dir.

The demo collection is built once for this module (by the first page that runs), exactly as
on a user's first launch.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 300

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def data_dir(module_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Pages share one data dir per module, so the demo is built once."""
    monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(module_data_dir))
    return module_data_dir


def run_page(name: str) -> AppTest:
    """Run a page the way a browser reaches it: through the app's main script."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    if name != "app.py":
        at.switch_page(name)
    at.run()
    assert not at.exception, at.exception
    return at


def markdown_text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def shown(element) -> str:
    """An alert's text as a person reads it: Markdown escapes resolved, word joiners gone."""
    return re.sub(r"\\(.)", r"\1", element.value, flags=re.S).replace("\u2060", "")


def test_home_lists_demo_and_links() -> None:
    at = run_page("app.py")
    assert at.title[0].value == "Embedding Lab"
    text = markdown_text(at)
    assert "**demo**" in text
    assert len(at.get("page_link")) >= 2


def test_search_finds_the_snake_sense_of_python() -> None:
    at = run_page("pages/1_Search.py")
    assert at.info, "an empty query shows a hint"
    at.text_input(key="search_query").input("a large snake that squeezes its prey").run()
    assert not at.exception
    cards = [h.value for h in at.html if 'class="hit"' in h.value]
    assert len(cards) == 10
    assert "python" in cards[0].lower() or "snake" in cards[0].lower()
    assert any("results in" in m.value for m in at.markdown)


def why_of(box) -> tuple[float, list[float], str]:
    """(cosine, the two rows' sums, HTML) of an open "Why" box."""
    why = box.html[0].value
    score = float(re.search(r"<b>(-?[\d.]+)</b>", why).group(1))
    sums = [float(x) for x in re.findall(r"\(sum (-?[\d.]+)\)", why)]
    return score, sums, why


def test_search_explains_each_hit_word_by_word_when_asked() -> None:
    at = run_page("pages/1_Search.py")
    at.text_input(key="search_query").input("bats that hunt insects at night").run()
    assert not at.exception
    assert len(at.expander) == 10
    labels = [box.label for box in at.expander[:2]]
    assert all(
        re.fullmatch(
            r"Why #\d matched: (its cosine [\d.]+|the cosine of this passage), split word by word",
            x,
        )
        for x in labels
    )
    score, sums, why = why_of(at.expander[0])  # the first is open and explained at once
    assert len(sums) == 2 and all(abs(x - score) <= 1e-4 for x in sums)
    named = re.search(r"its cosine ([\d.]+)", labels[0])
    assert named and abs(float(named.group(1)) - score) <= 1e-3  # it splits the number it names
    card = next(h.value for h in at.html if 'class="hit"' in h.value)
    assert re.search(r"fused [\d.]+</span>", card) and "cosine scaled" in card
    assert f"cosine {named.group(1)} (rank" in card and "BM25 " in card
    assert "\n" not in why and 'title="' in why
    assert not at.expander[1].html  # closed: nothing computed
    at.session_state["search_why_2"] = True  # the person opens #2
    at.run()
    assert not at.exception
    score_2, sums_2, _ = why_of(at.expander[1])
    assert all(abs(x - score_2) <= 1e-4 for x in sums_2)
    at.toggle(key="search_why").set_value(False).run()
    assert not at.expander


def test_keyword_mode_explains_the_bm25_score_by_query_word() -> None:
    at = run_page("pages/1_Search.py")
    at.radio(key="search_mode").set_value("keyword")
    at.text_input(key="search_query").input("snakes swallow prey").run()
    assert not at.exception
    cards = [h.value for h in at.html if 'class="hit"' in h.value]
    assert cards and all("cosine" not in c for c in cards)
    shown = float(re.search(r"BM25 ([\d.]+)</span>", cards[0]).group(1))
    label = at.expander[0].label
    named = float(re.search(r"its BM25 ([\d.]+), split by query word", label).group(1))
    assert named == shown
    why = at.expander[0].html[0].value
    adds = [float(x) for x in re.findall(r"<td class='num'>([\d.e-]+)</td></tr>", why)]
    assert adds and abs(sum(adds) - shown) <= 0.02 * len(adds)
    assert "<b>" in cards[0]  # the matched words are marked in the passage


def test_weight_slider_moves_hybrid_toward_dense() -> None:
    at = run_page("pages/1_Search.py")
    at.text_input(key="search_query").input("a large snake").run()
    at.slider(key="search_weight").set_value(1.0).run()
    assert not at.exception
    card = next(h.value for h in at.html if 'class="hit"' in h.value)
    assert "1.00 × cosine scaled + 0.00 × BM25 scaled" in card


def test_search_shows_which_word_matched_which_summing_to_the_score() -> None:
    at = run_page("pages/1_Search.py")
    at.text_input(key="search_query").input("bats that hunt insects at night").run()
    score, _, _ = why_of(at.expander[0])
    at.toggle(key="search_pairs_1").set_value(True).run()
    assert not at.exception and not at.error
    note = next(c.value for c in at.expander[0].caption if "cells sum to" in c.value)
    total = float(re.search(r"cells sum to (-?[\d.]+)", note).group(1))
    assert abs(total - score) <= 2e-3  # both shown rounded (3 and 4 places)
    charts = at.expander[0].get("vega_lite_chart")
    assert len(charts) == 1 and "share of the cosine" in charts[0].proto.spec
    strongest = [h.value for h in at.expander[0].html if "query word" in h.value]
    assert len(strongest) == 1 and strongest[0].count("<tr><td") == 10
    assert "##" not in strongest[0] and "Pieces of one word are merged" in note


def test_search_filter_keeps_only_that_topic() -> None:
    at = run_page("pages/1_Search.py")
    at.selectbox(key="search_filter_field").set_value("topic").run()
    value = at.selectbox(key="search_filter_value").options[0]
    at.selectbox(key="search_filter_value").set_value(value)
    at.text_input(key="search_query").input("something interesting").run()
    assert not at.exception
    cards = [h.value for h in at.html if 'class="hit"' in h.value]
    assert cards
    assert all(f"topic: {value}" in card for card in cards)


def test_search_refuses_a_10000_character_query() -> None:
    at = run_page("pages/1_Search.py")
    at.text_input(key="search_query").input("word " * 2000).run()
    assert not at.exception
    assert at.error and "limit" in at.error[0].value


def test_paste_then_search_escapes_hostile_html() -> None:
    at = run_page("pages/2_Collections.py")
    hostile = 'Garden tips <script>alert("x")</script> <img src=x onerror=alert(1)> for tomatoes.'
    at.text_input(key="paste_target").input("hostile")
    at.text_area(key="paste_text").input(hostile)
    at.button(key="paste_go").click().run()
    assert not at.exception
    assert at.success, [e.value for e in at.error]
    search = run_page("pages/1_Search.py")
    search.selectbox(key="search_collection").set_value("hostile")
    search.text_input(key="search_query").input("growing tomatoes").run()
    card = next(h.value for h in search.html if 'class="hit"' in h.value)
    assert "&lt;script&gt;" in card and "<script" not in card and "<img" not in card


def test_collections_refuses_bad_input_and_keeps_data() -> None:
    at = run_page("pages/2_Collections.py")
    at.text_input(key="paste_target").input("../escape")
    at.text_area(key="paste_text").input("some text")
    at.button(key="paste_go").click().run()
    assert at.error and "not a valid collection name" in at.error[0].value
    at.text_input(key="paste_target").input("notes")
    at.text_area(key="paste_text").input("   ")
    at.button(key="paste_go").click().run()
    assert at.error and "empty" in at.error[-1].value
    assert not (ROOT.parent / "escape").exists()


def test_upload_good_and_bad_files() -> None:
    at = run_page("pages/2_Collections.py")
    at.text_input(key="upload_target").input("uploads")
    at.file_uploader(key="upload_files_0").set_value(
        [
            ("notes.txt", b"Bees pollinate flowers in spring.", "text/plain"),
            ("rows.csv", b'id,text\n1,"unclosed quote\n2,fine', "text/csv"),
            ("junk.txt", b"\x00\x01\x02binary", "text/plain"),
            ("empty.md", b"", "text/markdown"),
        ]
    ).run()
    at.button(key="upload_go").click().run()
    assert not at.exception
    assert at.success and "added 1 documents" in at.success[0].value
    warnings = " ".join(shown(w) for w in at.warning)
    assert "rows.csv" in warnings and "junk.txt" in warnings and "empty.md" in warnings
    # the added files leave the uploader, so "Add" waits for the next ones
    assert not at.file_uploader(key="upload_files_1").value
    assert at.button(key="upload_go").disabled


def test_delete_collection_needs_confirmation() -> None:
    at = run_page("pages/2_Collections.py")
    at.text_input(key="paste_target").input("to-delete")
    at.text_area(key="paste_text").input("A short note to delete later.")
    at.button(key="paste_go").click().run()
    at = run_page("pages/2_Collections.py")
    at.selectbox(key="manage_collection").set_value("to-delete").run()
    assert at.button(key="manage_delete_go").disabled
    at.checkbox(key="manage_confirm").check().run()
    at.button(key="manage_delete_go").click().run()
    assert not at.exception
    assert any("Deleted collection to-delete" in shown(s) for s in at.success)
    at = run_page("pages/2_Collections.py")
    assert "to-delete" not in at.selectbox(key="manage_collection").options


def test_changing_one_collection_keeps_the_others_open() -> None:
    """An upload into one collection must not make every other session reopen its own."""
    from ui import resources

    run_page("pages/1_Search.py")  # builds the demo and opens it
    demo = resources.collection("demo")
    resources.forget_collection("someone-elses-upload")
    assert resources.collection("demo") is demo
    resources.forget_collection("demo")
    assert resources.collection("demo") is not demo


def test_a_change_shows_at_once_in_the_table_and_the_pickers() -> None:
    """The table and pickers are drawn above the forms; a change must not wait for a click."""
    at = run_page("pages/2_Collections.py")
    at.text_input(key="paste_target").input("fresh")
    at.text_area(key="paste_text").input("Owls hunt at night and sleep by day.")
    at.button(key="paste_go").click().run()
    assert not at.exception
    assert any(shown(s).startswith("fresh: added 1 documents") for s in at.success)
    assert "fresh" in list(at.dataframe[0].value["name"])
    assert "fresh" in at.selectbox(key="manage_collection").options
    at.selectbox(key="manage_collection").set_value("fresh").run()
    at.checkbox(key="manage_confirm").check().run()
    at.button(key="manage_delete_go").click().run()
    assert not at.exception
    assert [shown(s) for s in at.success] == ["Deleted collection fresh."]
    assert "fresh" not in list(at.dataframe[0].value["name"])
    assert "fresh" not in at.selectbox(key="manage_collection").options
    at.run()  # the message belongs to the change, not to every later run
    assert not at.success
