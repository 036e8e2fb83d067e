"""What every browser test shares: one headless Debian Chromium per test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from measure.browser import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Debian Chromium (never a downloaded browser), offline flags on."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install it with apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as play:
        browser = play.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
