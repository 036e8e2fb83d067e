"""``python -m measure tour``: how long Home's guided tour takes to draw, cold and warm.

Starts ``streamlit run app.py`` (:func:`measure.browser.streamlit_server`) on a data dir of its
own, with the real models, and opens Home in headless Chromium:

- cold: the first visit after the server starts (demo collection built, both models loaded,
  every step's data computed);
- warm: ``--runs`` later visits, each in a fresh browser context (a new session; the models
  and the tour's pictures come from the server's caches);
- warm, same tab: from How it works back to Home by the sidebar's link, as a person moves
  between the tour's views (no new page load, no new session);
- baseline: as many warm visits of the How it works page (one encoder view, cached per
  sentence), alternated with Home's, so the two are read side by side;
- script: Home's script run alone, warm, in this process (``AppTest``): the server's share.

A visit is timed from the request (or the click) to the moment the script run has finished
and all six charts of the tour are drawn (a canvas or an SVG inside each). The machine's load
average is printed: absolute times depend on what else runs; read the ratios.

Usage::

    python -m measure tour [--runs 5] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from measure.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server

TOUR_DRAWN = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  const charts = [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')];
  const tour = [...document.querySelectorAll('h2')].some(h => h.innerText.includes('guided tour'));
  return tour && charts.length >= 6 && charts.every(c => c.querySelector('canvas, svg'));
}"""
PAGE_DRAWN = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return app && app.getAttribute('data-test-script-state') === 'notRunning'
    && document.querySelector('[data-testid="stDataFrame"]') !== null;
}"""


def visit(browser: Any, url: str, drawn: str, timeout_s: float = 600) -> float:
    """Seconds from the request to ``drawn`` becoming true, in a fresh browser context."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    started = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_timeout(200)  # the previous document's state must not count
    page.wait_for_function(drawn, polling=50, timeout=timeout_s * 1000)
    seconds = time.perf_counter() - started
    context.close()
    return seconds


def same_tab(browser: Any, url: str, runs: int, timeout_s: float = 600) -> list[float]:
    """Seconds from a click on the sidebar's Home link (on How it works) to the tour drawn."""
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.set_default_timeout(timeout_s * 1000)
    times = []
    for _ in range(runs):
        page.goto(f"{url}/How_it_works", wait_until="domcontentloaded")
        page.wait_for_function(PAGE_DRAWN, polling=50)
        started = time.perf_counter()
        page.locator('[data-testid="stSidebar"]').get_by_role("link", name="Home").click()
        page.wait_for_function(TOUR_DRAWN, polling=50)
        times.append(time.perf_counter() - started)
    page.context.close()
    return times


def script_seconds(data_dir: Path, runs: int) -> list[float]:
    """Home's script run, warm, in this process (the first run fills the caches)."""
    from streamlit.testing.v1 import AppTest

    os.environ["EMBEDLAB_DATA_DIR"] = str(data_dir)
    app = str(Path(__file__).resolve().parents[1] / "app.py")
    times = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        AppTest.from_file(app, default_timeout=600).run()
        times.append(time.perf_counter() - started)
    return times[1:]


def measure(data_dir: Path, runs: int) -> dict[str, Any]:
    """Cold, then ``runs`` warm visits of Home and of How it works, alternated."""
    from playwright.sync_api import sync_playwright

    figures: dict[str, Any] = {"load average": os.getloadavg()}
    with streamlit_server(data_dir) as (url, _), sync_playwright() as play:
        browser = play.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        figures["home cold s"] = visit(browser, url, TOUR_DRAWN)
        visit(browser, f"{url}/How_it_works", PAGE_DRAWN)  # its sentence cached, like Home's
        home, other = [], []
        for _ in range(runs):
            home.append(visit(browser, url, TOUR_DRAWN))
            other.append(visit(browser, f"{url}/How_it_works", PAGE_DRAWN))
        figures["home warm, same tab s"] = same_tab(browser, url, runs)
        browser.close()
    figures["home script warm s"] = script_seconds(data_dir, runs)
    figures["home warm s"] = home
    figures["how it works warm s"] = other
    figures["home warm median s"] = statistics.median(home)
    figures["how it works warm median s"] = statistics.median(other)
    figures["ratio home / how it works"] = statistics.median(home) / statistics.median(other)
    for name in ("home warm, same tab", "home script warm"):
        figures[f"{name} median s"] = statistics.median(figures[f"{name} s"])
    return figures


def main(argv: list[str] | None = None) -> int:
    """Print the figures; exit status 2 when Chromium is missing."""
    parser = argparse.ArgumentParser(prog="python -m measure tour", description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="warm visits of each page")
    parser.add_argument("--data-dir", type=Path, help="data dir (kept; a rerun reuses the demo)")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"Chromium not found at {CHROMIUM}: apt-get install chromium", file=sys.stderr)
        return 2
    if args.data_dir:
        figures = measure(args.data_dir.resolve(), args.runs)
    else:
        with tempfile.TemporaryDirectory(prefix="embedlab-tour-") as scratch:
            figures = measure(Path(scratch) / "data", args.runs)
    for name, value in figures.items():
        shown = [round(v, 2) for v in value] if isinstance(value, list | tuple) else value
        print(f"{name}: {round(shown, 2) if isinstance(shown, float) else shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
