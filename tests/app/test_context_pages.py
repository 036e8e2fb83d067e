"""AppTest for the Context and How it works pages, on the real model and the demo collection.

Pages run through the app's main script, as a browser reaches them. The demo collection is
built once for this module.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 300
CONTEXT = "pages/5_Context.py"
HOW = "pages/6_How_it_works.py"

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def data_dir(module_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(module_data_dir))
    monkeypatch.delenv("EMBEDLAB_CAUSAL_MODEL", raising=False)
    st.cache_data.clear()
    return module_data_dir


def run_page(name: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.switch_page(name)
    at.run()
    assert not at.exception, at.exception
    return at


def text_of(at: AppTest) -> str:
    """Markdown and HTML blocks of the page (word pieces and senses are escaped HTML)."""
    return "\n".join([m.value for m in at.markdown] + [h.value for h in at.html])


def test_context_page_default_example() -> None:
    at = run_page(CONTEXT)
    assert not at.error, [e.value for e in at.error]
    text = text_of(at)
    assert "following *model*" in text and 'class="pieces"' in text
    assert "Sentences 1 and 2:" in text and "P(same)" in text
    assert "Group 2" in text  # senses of "model" in the demo collection
    headers = [h.value for h in at.header]
    for part in ("Meaning drift", "Same sense", "Attention", "What moved", "Senses"):
        assert any(part in h for h in headers), headers
    captions = " ".join(c.value for c in at.caption)
    assert "sums to 1" in captions and "LayerNorm" in captions and "Removal test" in captions


def test_context_bank_example_and_layer_choice() -> None:
    at = run_page(CONTEXT)
    at.button(key="ctx_ex_bank").click().run()
    assert not at.exception
    assert "river" in at.text_area(key="ctx_sentences").value
    at.slider(key="ctx_att_layer").set_value(2).run()
    at.selectbox(key="ctx_att_sentence").set_value(1).run()
    assert not at.exception and not at.error


def test_context_bad_input_is_explained() -> None:
    at = run_page(CONTEXT)
    at.text_input(key="ctx_word").input("zebra").run()
    assert not at.exception
    assert any("pick the word" in w.value for w in at.warning)
    at.text_input(key="ctx_word").input("bank")
    at.text_area(key="ctx_sentences").input("\n".join(["the bank is open"] * 20)).run()
    assert at.error and "limit is 8" in at.error[0].value
    at.text_area(key="ctx_sentences").input("").run()
    assert at.info and not at.exception
    at.text_area(key="ctx_sentences").input("I 🙂 the bank\n銀行 bank 🙂 привет").run()
    assert not at.exception and not at.error
    at.text_area(key="ctx_sentences").input("the bank\nthe bank").run()
    assert not at.exception and not at.error


def test_how_it_works_walks_through_and_says_encoder() -> None:
    at = run_page(HOW)
    assert not at.error
    text = text_of(at)
    assert 'class="pieces"' in text and "LayerNorm" in text
    assert any("no next-token head" in i.value for i in at.info)
    assert len(at.dataframe) >= 4
    at.selectbox(key="hiw_token").set_value(2)
    at.slider(key="hiw_layer").set_value(6).run()
    assert not at.exception
    at.text_input(key="hiw_text").input("").run()
    assert at.error and not at.exception


def test_how_it_works_beside_the_llm(tiny_llama_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("EMBEDLAB_CAUSAL_MODEL", str(tiny_llama_dir))
    at = run_page(HOW)
    assert not at.error, [e.value for e in at.error]
    assert any("Next token" in str(link.label) for link in at.get("page_link"))
    at.toggle(key="hiw_compare").set_value(True).run()
    assert not at.exception and not at.error
    table = at.dataframe[-1].value
    assert "attention: who sees whom" in list(table.iloc[:, 0])


def test_context_follows_the_word_through_the_llm(tiny_llama_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("EMBEDLAB_CAUSAL_MODEL", str(tiny_llama_dir))
    at = run_page(CONTEXT)
    at.toggle(key="ctx_causal").set_value(True).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    (table,) = [d.value for d in at.dataframe if "the model reads" in d.value.columns]
    assert len(table) == 2 and all("model" in seen for seen in table["the model reads"])


def test_context_searches_the_demo_by_the_sense_of_model() -> None:
    import html
    import json
    import re

    from core.explain.sense_search import find_occurrences
    from core.storage.collection import Collection
    from ui import resources

    at = run_page(CONTEXT)
    fashion = at.selectbox(key="ctx_sense_sentence").options[1]
    assert "runway" in fashion
    at.selectbox(key="ctx_sense_sentence").set_value(fashion)
    at.number_input(key="ctx_sense_hits").set_value(3)
    at.button(key="ctx_sense_go").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    demo = Collection("demo", resources.embedder().info)
    uses = len(find_occurrences(demo.store, "model")[0])
    captions = " ".join(c.value for c in at.caption).replace("\\", "")  # plain text, unescaped
    assert f"Compared {uses:,} occurrences of 'model'" in captions
    tables = [h.value for h in at.html if 'class="lab-table"' in h.value]
    assert len(tables) == 2  # same sense, other senses
    same = [html.unescape(t) for t in re.findall(r"<tr><td.*?</tr>", tables[0])]
    fashion_docs = {  # the demo's fashion documents (its "topic" field)
        json.loads(line)["title"]
        for path in (ROOT / "data" / "demo").glob("*.jsonl")
        for line in path.read_text().splitlines()
        if line.strip() and json.loads(line).get("topic") == "fashion"
    }
    titles = [re.findall(r"<td>(.*?)</td>", row)[0] for row in same]
    assert len(same) == 3 and set(titles) <= fashion_docs, titles
    assert all("«model»" in row for row in same)
    at.number_input(key="ctx_sense_hits").set_value(4).run()  # other inputs: no stale result
    assert not [h for h in at.html if 'class="lab-table"' in h.value and "«" in h.value]


def test_context_sense_search_compares_at_most_the_uses_asked_for() -> None:
    """The bound on uses compared is the reader's (1,000 by default, stated): asked for 10
    of the demo's uses of "model", 10 are compared and the note says more exist."""
    from core.explain.sense_search import find_occurrences
    from core.storage.collection import Collection
    from ui import resources

    at = run_page(CONTEXT)
    assert at.number_input(key="ctx_sense_limit").value == 1000
    at.number_input(key="ctx_sense_limit").set_value(10)
    at.button(key="ctx_sense_go").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    demo = Collection("demo", resources.embedder().info)
    assert len(find_occurrences(demo.store, "model")[0]) > 10
    captions = " ".join(c.value for c in at.caption).replace("\\", "")
    assert "Compared 10 occurrences of 'model'" in captions and "more exist" in captions
