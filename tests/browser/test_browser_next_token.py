"""The Next token page in Debian's Chromium against ``streamlit run``, with the bundled model.

/Next_token is the server's first request (a deep link), with no causal model configured: the
page loads SmolLM2-135M from the package (its float32 copy, or the GGUF file on a fresh clone),
draws the distribution, and a Step press writes " Paris" after "The capital of France is".
Every request stays on this machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from measure import browser as harness

pytestmark = [pytest.mark.slow, pytest.mark.browser]
ROOT = Path(__file__).resolve().parents[2]


def test_next_token_page_writes_paris(tmp_path: Path, real_causal_lm, monkeypatch) -> None:
    if not Path(harness.CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {harness.CHROMIUM}: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    monkeypatch.delenv("EMBEDLAB_CAUSAL_MODEL", raising=False)
    outside: list[str] = []
    with (
        harness.streamlit_server(tmp_path / "data") as (url, _),
        sync_playwright() as play,
    ):
        browser = play.chromium.launch(
            executable_path=harness.CHROMIUM, headless=True, args=harness.CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1280, "height": 2400})
        page.on("request", lambda r: outside.append(r.url) if not harness.is_loopback(r.url) else 0)
        page.set_default_timeout(240_000)
        page.goto(f"{url}/Next_token", wait_until="domcontentloaded")
        page.get_by_text("possible next tokens").wait_for()
        page.get_by_text("ranks 3 of 49,152").wait_for()
        page.locator(".vega-embed canvas, .vega-embed svg").first.wait_for()
        page.get_by_role("button", name="Step").click()
        written = page.locator(".written .new")
        written.filter(has_text="Paris").wait_for()
        text = written.inner_text()
        (ROOT / "test-artifacts").mkdir(exist_ok=True)
        page.screenshot(path=str(ROOT / "test-artifacts" / "next-token.png"), full_page=True)
        browser.close()
    assert text.strip() == "Paris"
    assert not outside, outside
