"""The first visit after the server starts: the demo is built there, with a progress bar.

The run that builds the demo draws one more element (the bar) than every later run. If the
elements below it moved up a place in the next run, the browser would draw them anew and drop
text typed into a box but not yet sent: a person who types a collection name and then drops
files on the uploader (no click elsewhere, so the box never loses focus) would have the files
added to the default collection instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from measure import load as loadtest

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_a_name_typed_on_the_first_visit_is_the_collection_the_files_go_to(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    if not Path(loadtest.CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {loadtest.CHROMIUM}: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    data = tmp_path / "data"  # empty: the server builds the demo on the first page opened
    env = {"EMBEDLAB_MODEL": str(tiny_model_dir)}
    with (
        loadtest.streamlit_server(data, env) as (url, _),
        sync_playwright() as play,
    ):
        browser = play.chromium.launch(
            executable_path=loadtest.CHROMIUM, headless=True, args=loadtest.CHROMIUM_ARGS
        )
        page = browser.new_page()
        page.set_default_timeout(180_000)
        page.goto(f"{url}/Collections", wait_until="domcontentloaded")
        box = page.get_by_label("Collection (new or existing)").filter(visible=True)
        box.fill("typed-first")
        page.locator("input[type=file]").first.set_input_files(  # dropped: the box keeps focus
            files=[{"name": "owls.txt", "mimeType": "text/plain", "buffer": b"Owls hunt at night."}]
        )
        page.get_by_role("button", name="Add to collection").click()
        outcome = page.locator(
            '[data-testid="stAlertContentSuccess"], [data-testid="stAlertContentError"]'
        )
        outcome.first.wait_for()
        texts = outcome.all_inner_texts()
        browser.close()
    assert texts and texts[0].startswith("typed-first: added 1 documents"), texts
    assert not (data / "my-documents").exists()
