"""AppTest for the Next token page: every view on the tiny Llama, then once on the bundled
SmolLM2-135M (the default, offline)."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
PAGE = "pages/7_Next_token.py"

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def fresh_caches():
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def run_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, at.exception
    return at


def frame_with(at: AppTest, column: str):
    """The page's table that has ``column`` (AppTest does not expose a dataframe's key)."""
    frames = [d.value for d in at.dataframe if column in getattr(d.value, "columns", ())]
    assert len(frames) == 1, column
    return frames[0]


@pytest.fixture
def tiny_page(tiny_llama_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("EMBEDLAB_CAUSAL_MODEL", str(tiny_llama_dir))
    at = run_page()
    assert not at.error, [e.value for e in at.error]
    return at


def test_every_view_is_drawn(tiny_page: AppTest) -> None:
    headers = [h.value for h in tiny_page.header]
    for part in ("distribution", "Step by step", "logit lens", "repetition", "vs LLM", "Training"):
        assert any(part in h for h in headers), headers
    assert [m.label for m in tiny_page.metric][:3] == [
        "tokens read",
        "entropy (bits)",
        "possible next tokens",
    ]
    assert len(frame_with(tiny_page, "final choice's rank")) == 3  # input vectors + 2 layers
    assert "ranks" in " ".join(m.value for m in tiny_page.markdown)  # the looked-up token


def test_step_and_run_write_the_same_text(tiny_page: AppTest) -> None:
    tiny_page.toggle(key="nt_sample").set_value(True).run()
    tiny_page.number_input(key="nt_runs").set_value(3).run()
    tiny_page.button(key="nt_run").click().run()
    ran = [s.id for s in tiny_page.session_state["nt_steps"]]
    tiny_page.button(key="nt_reset").click().run()
    for _ in range(3):
        tiny_page.button(key="nt_step").click().run()
    assert [s.id for s in tiny_page.session_state["nt_steps"]] == ran and len(ran) == 3
    assert any('class="steps"' in h.value for h in tiny_page.html)
    assert not tiny_page.exception and not tiny_page.error


def test_training_demo(tiny_page: AppTest) -> None:
    tiny_page.text_input(key="nt_train_prompt").input("the cat")
    tiny_page.text_input(key="nt_wanted").input("sand")
    tiny_page.number_input(key="nt_train_steps").set_value(3).run()
    tiny_page.button(key="nt_train").click().run()
    assert not tiny_page.exception and not tiny_page.error
    labels = [m.label for m in tiny_page.metric]
    assert "P(wanted) before" in labels and "P(wanted) after" in labels
    assert len(frame_with(tiny_page, "before")) == 4


def test_bad_input_is_a_message(tiny_page: AppTest) -> None:
    tiny_page.text_input(key="nt_wanted").input("")
    tiny_page.button(key="nt_train").click().run()
    assert tiny_page.error and "wanted continuation" in tiny_page.error[0].value
    tiny_page.text_area(key="nt_text").input("the \x00 cat").run()
    assert tiny_page.error and "control character" in tiny_page.error[0].value
    tiny_page.text_area(key="nt_text").input("").run()
    assert tiny_page.error and not tiny_page.exception


def test_the_bundled_model_by_default(real_causal_lm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMBEDLAB_CAUSAL_MODEL", raising=False)
    at = run_page()
    assert not at.error, [e.value for e in at.error]
    assert at.metric[2].value == "49,152"
    top = " ".join(m.value for m in at.markdown)
    assert "\\' London\\' is one token\\: it ranks 3 of 49,152" in top  # a space was added
    lens = frame_with(at, "final choice's rank")
    assert len(lens) == 31 and lens["its top token"].iloc[-1] == repr(" Paris")
