"""AppTest for the guided tour: Home draws seven steps with links that carry the example, and
each step's full view opened with those query parameters shows the example, filled in.

Real bundled models (the encoder and SmolLM2), one data dir for the module.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.explain import tour as core_tour
from core.explain.tour import EXAMPLE
from ui.views.tour import STOPS, link_params

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 300

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def data_dir(module_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(module_data_dir))
    return module_data_dir


def run(page: str = "app.py", params: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    if page != "app.py":
        at.switch_page(page)
    at.query_params.update(params or {})
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def links(at: AppTest) -> list[tuple[str, str, dict]]:
    """(page, label, query parameters) of every page link drawn."""
    found = []
    for element in at.get("page_link"):
        proto = element.proto
        found.append((proto.page, proto.label, parse_qs(proto.query_string)))
    return found


def as_query(params: dict) -> dict:
    return {k: v if isinstance(v, list) else [v] for k, v in params.items()}


def test_home_draws_seven_steps_each_linked_to_its_view_with_the_example() -> None:
    at = run()
    titles = [m.value for m in at.markdown if m.value.startswith("**") and ". " in m.value]
    assert [t.split(". ", 1)[1].rstrip("*") for t in titles[:7]] == [s.title for s in STOPS]
    opened = [link for link in links(at) if link[1].startswith("Open it in full")]
    assert len(opened) == 7
    for step, (page, _, query) in enumerate(opened, 1):
        assert page == Path(STOPS[step - 1].page).stem.split("_", 1)[1]  # the URL path
        assert query == as_query(link_params(step))
    assert len(at.get("vega_lite_chart")) == 6  # step 1 is HTML: the pieces
    assert any('class="pieces"' in h.value for h in at.html)
    assert "**demo**" in "\n".join(m.value for m in at.markdown)  # the collections summary


def test_home_search_box_opens_search_with_the_question() -> None:
    at = run()
    at.text_input(key="home_query").input("a snake that swallows its prey")
    at.button(key="home_search_go").click().run()
    assert not at.exception
    assert at.text_input(key="search_query").value == "a snake that swallows its prey"


def test_the_pictures_are_computed_once_per_example(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"encoder": 0, "next": 0}
    encoder_steps, next_token_step = core_tour.encoder_steps, core_tour.next_token_step

    def counted_encoder(*args, **kwargs):
        calls["encoder"] += 1
        return encoder_steps(*args, **kwargs)

    def counted_next(*args, **kwargs):
        calls["next"] += 1
        return next_token_step(*args, **kwargs)

    monkeypatch.setattr(core_tour, "encoder_steps", counted_encoder)
    monkeypatch.setattr(core_tour, "next_token_step", counted_next)
    st.cache_data.clear()
    run()
    run()
    assert calls == {"encoder": 1, "next": 1}


FILLED = {  # page -> (widget kind, key, the example's value it must show)
    "pages/6_How_it_works.py": ("text_input", "hiw_text", EXAMPLE.sentences[0]),
    "pages/4_Words.py": ("text_area", "words_input", ", ".join(EXAMPLE.words)),
    "pages/5_Context.py": ("text_area", "ctx_sentences", "\n".join(EXAMPLE.sentences)),
    "pages/7_Next_token.py": ("text_area", "nt_text", EXAMPLE.prompt),
    "pages/1_Search.py": ("text_input", "search_query", EXAMPLE.query),
}


@pytest.mark.parametrize("step", range(1, 8))
def test_each_step_opens_its_view_with_the_example_filled_in(step: int) -> None:
    stop = STOPS[step - 1]
    at = run(stop.page, link_params(step))
    kind, key, value = FILLED[stop.page]
    assert getattr(at, kind)(key=key).value == value
    if stop.page.endswith("Context.py"):
        assert at.text_input(key="ctx_word").value == EXAMPLE.word
    assert at.query_params["tour"] == str(step)  # the URL keeps the example and the step
    text = "\n".join(m.value for m in at.markdown)
    assert f"step {step} of 7" in text
    near = {label.split(":")[0]: query for _, label, query in links(at) if "Step " in label}
    if step > 1:
        assert near[f"← Step {step - 1}"] == as_query(link_params(step - 1))
    if step < 7:
        assert near[f"Step {step + 1}"] == as_query(link_params(step + 1))
    assert len(near) == (1 if step in (1, 7) else 2)


@pytest.mark.parametrize("params", [{}, {"tour": "99"}, {"tour": "two"}])
def test_a_page_opened_without_a_tour_step_has_no_tour_bar(params: dict) -> None:
    at = run("pages/6_How_it_works.py", params)
    assert "Guided tour" not in "\n".join(m.value for m in at.markdown)
    assert at.text_input(key="hiw_text").value == "The bank raised its interest rates."


def test_close_words_get_labels_that_do_not_overlap() -> None:
    from ui.charts.tour import label_rows

    xy = np.array([[0.0, 0.0], [0.01, 0.01], [0.02, -0.01], [1.0, 1.0], [0.5, 0.3]])
    rows = np.array(label_rows(xy, width=0.16, height=0.1))
    unit_x, unit_y = xy[:, 0], (rows - xy[:, 1].min()) / np.ptp(xy[:, 1])
    for i in range(len(xy)):
        for j in range(i):
            apart = abs(unit_x[i] - unit_x[j]) >= 0.16 or abs(unit_y[i] - unit_y[j]) >= 0.1 - 1e-9
            assert apart, (i, j, rows)
    assert rows[3] == 1.0 and rows[4] == 0.3  # a word alone keeps its label by its dot


def test_without_the_causal_model_the_other_steps_still_draw(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMBEDLAB_CAUSAL_MODEL", str(tmp_path / "no-such-model"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    assert len(at.error) == 1
    assert "no-such-model" in re.sub(r"\\(.)", r"\1", at.error[0].value)  # Markdown-escaped
    assert len(at.get("vega_lite_chart")) == 5  # every picture but step 6's
    assert len([link for link in links(at) if link[1].startswith("Open it in full")]) == 7
