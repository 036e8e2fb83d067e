"""Screenshots: every page of the app, drawn in headless Chromium, saved as PNGs for the README.

Starts ``streamlit run app.py`` with :func:`measure.browser.streamlit_server` on a data dir of
its own (the demo collection is built there on the first page opened, as on a first launch),
opens each page in Debian's Chromium through Playwright, waits until the page is drawn (its
script run finished and nothing on it changed for a moment), types a sample question on
Search, and saves ``<out>/<page>.png`` at 1400 px wide (Home also at 800 px, as
``home-800.png``), as tall as the page up to a cap.
Requests that would leave the machine are refused. A page that shows an error or a traceback
is still saved, and the run ends with exit status 1.

Usage::

    python -m measure screenshots [--out docs/images] [--pages search,explore] [--model DIR]
        [--data-dir DIR --collection NAME]

The issue-17 pictures (word-pairs, sense-search, map-trust, selection, search-within) act on
the page first: open the first hit's pair matrix, search by the sense of "model", lay out t-SNE
shaded by neighbour recall, shift+drag a box on the map (and open the Search page restricted to
it, then ask there). ``--collection`` points them at another
collection (for instance the ten-thousand-document one of :mod:`measure.scifact_corpus`); each
picture's seconds are printed.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from measure.browser import CHROMIUM, CHROMIUM_ARGS, is_loopback, shift_drag, streamlit_server

WIDTH = 1400
SAMPLE_QUERY = "a snake that swallows its prey whole"
PAIRS_QUERY = "how do bats find insects in the dark"
PAIRS_PATH = f"/Search?collection={{c}}&q={quote(PAIRS_QUERY)}"
SENSE_HEADER = "Search by a word's sense"
# Every change to the page notes the time: "drawn" is a quiet page after the script run.
WATCH_CHANGES = """
(() => {
  window.__lastChange = performance.now();
  new MutationObserver(() => { window.__lastChange = performance.now(); }).observe(document, {
    childList: true, subtree: true, attributes: true, characterData: true,
  });
})();
"""
DRAWN = """(quietMs) => {
  const app = document.querySelector('[data-testid="stApp"]');
  const state = app && app.getAttribute('data-test-script-state');
  const titled = document.querySelector('[data-testid="stMain"] h1') !== null;
  return state === 'notRunning' && titled && performance.now() - window.__lastChange > quietMs;
}"""
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
CONTENT_HEIGHT = """() => {
  const block = document.querySelector('[data-testid="stMainBlockContainer"]');
  return Math.ceil(block ? block.getBoundingClientRect().bottom : document.body.scrollHeight);
}"""


@dataclass(frozen=True)
class Shot:
    """One page to photograph: its file name, its address in the app, its height cap, and the
    window's width."""

    name: str
    path: str
    max_height: int = 1400
    search: bool = False
    width: int = WIDTH
    action: str = ""  # a key of ACTIONS: what to do on the page before the picture
    start: str = ""  # text of the element the picture starts at (a clip of a long page)


SHOTS = (
    Shot("home", "/", 3000),
    Shot("home-800", "/", 4600, width=800),
    Shot("search", "/Search?collection=demo", 1500, search=True),
    Shot("collections", "/Collections", 1200),
    Shot("explore", f"/Explore?collection=demo&colour=clusters&q={quote(SAMPLE_QUERY)}", 1500),
    Shot("words", "/Words", 1500),
    Shot("context", "/Context", 1500),
    Shot("how-it-works", "/How_it_works", 1500),
    Shot("next-token", "/Next_token", 1500),
    Shot("word-pairs", PAIRS_PATH, 1400, action="pairs", start="Why #1"),
    Shot("sense-search", "/Context?collection={c}", 900, action="sense", start=SENSE_HEADER),
    Shot(
        "map-trust",
        "/Explore?collection={c}&method=tsne&colour=neighbour%20recall",
        1100,
        action="compute",
    ),
    Shot("selection", "/Explore?collection={c}", 1900, action="select", start="Explore the"),
    Shot("search-within", "/Explore?collection={c}", 1100, action="within"),
)


def wait_drawn(page: Any, timeout_s: float, quiet_ms: int = 1500) -> None:
    """Wait until the script run finished and the page stayed unchanged for ``quiet_ms``."""
    page.wait_for_function(DRAWN, arg=quiet_ms, polling=250, timeout=timeout_s * 1000)
    page.evaluate("document.fonts.ready.then(() => true)")


def ask(page: Any, question: str, timeout_s: float) -> None:
    """Type a question on Search, press Enter, wait for the result cards."""
    box = page.get_by_label("Question", exact=True)
    box.fill(question)
    box.press("Enter")
    answered = "(q) => new URLSearchParams(location.search).get('q') === q"
    page.wait_for_function(answered, arg=question, timeout=timeout_s * 1000)
    page.locator(".hit").first.wait_for(timeout=timeout_s * 1000)
    box.blur()  # no focus ring on the box in the picture


def fit_height(page: Any, shot: Shot, timeout_s: float) -> None:
    """Make the window as tall as the page's content (at most the shot's cap), then redraw."""
    height = min(max(int(page.evaluate(CONTENT_HEIGHT)) + 40, 700), shot.max_height)
    page.set_viewport_size({"width": shot.width, "height": height})
    page.wait_for_timeout(300)  # let charts notice the new size before the quiet check
    wait_drawn(page, timeout_s)


def shrink(path: Path) -> None:
    """Rewrite the PNG with a 256-colour palette when that is smaller (Pillow, if present)."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    packed = path.with_suffix(".tmp.png")
    small.save(packed, optimize=True)
    if packed.stat().st_size < path.stat().st_size:
        packed.replace(path)
    else:
        packed.unlink()


def shoot(
    page: Any, url: str, shot: Shot, out: Path, timeout_s: float, collection: str = "demo"
) -> list[str]:
    """Open one page, draw it, save ``<out>/<name>.png``; return the errors it shows."""
    page.set_viewport_size({"width": shot.width, "height": 900})
    page.goto(f"{url}{shot.path.format(c=quote(collection))}", wait_until="domcontentloaded")
    wait_drawn(page, timeout_s)
    if shot.search:
        ask(page, SAMPLE_QUERY, timeout_s)
        wait_drawn(page, timeout_s)
    if shot.action:
        ACTIONS[shot.action](page, timeout_s)
        wait_drawn(page, timeout_s)
    target = out / f"{shot.name}.png"
    if shot.start:
        clip(page, shot, target, timeout_s)
    else:
        fit_height(page, shot, timeout_s)
        page.screenshot(path=str(target))
    shrink(target)
    return page.locator(ERRORS).all_inner_texts()


def clip(page: Any, shot: Shot, target: Path, timeout_s: float) -> None:
    """A picture of the page from the element showing ``shot.start``, ``max_height`` tall."""
    height = min(int(page.evaluate(CONTENT_HEIGHT)) + 40, 8000)
    page.set_viewport_size({"width": shot.width, "height": height})
    page.wait_for_timeout(300)
    wait_drawn(page, timeout_s)
    top = page.get_by_text(shot.start).first.bounding_box()["y"] - 12
    tall = min(shot.max_height, height - top)
    page.screenshot(path=str(target), clip={"x": 0, "y": top, "width": shot.width, "height": tall})


def show_pairs(page: Any, timeout_s: float) -> None:
    """Search: open the first hit's word-pair matrix."""
    page.get_by_text("Which word matched which (every pair)").first.click()
    page.get_by_text("cells sum to", exact=False).first.wait_for(timeout=timeout_s * 1000)
    page.locator("[data-testid=stExpander] .vega-embed").first.wait_for(timeout=timeout_s * 1000)


def sense_search(page: Any, timeout_s: float) -> None:
    """Context: search the collection by the sense of the page's word in its first sentence."""
    page.get_by_role("button", name=re.compile(r"Find passages using")).click()
    page.get_by_text(re.compile(r"Same sense \(\d+\)")).wait_for(timeout=timeout_s * 1000)


def compute_map(page: Any, timeout_s: float) -> None:
    """Explore: press "Compute" when the layout waits for it, then wait for the map."""
    button = page.get_by_role("button", name=re.compile(r"Compute the .* map"))
    if button.count():
        button.click()
    page.get_by_text("How far to trust", exact=False).first.wait_for(timeout=timeout_s * 1000)
    page.locator(".vega-embed").first.wait_for(timeout=timeout_s * 1000)


def select_box(page: Any, timeout_s: float) -> None:
    """Explore: shift+drag a box over part of the map; wait for the selection's summary."""
    chart = page.locator(".vega-embed").first
    chart.wait_for(timeout=timeout_s * 1000)
    shift_drag(page, chart, (0.15, 0.15), (0.55, 0.6))
    page.mouse.move(0, 0)
    summary = page.get_by_text(re.compile(r"The selection: [\d,]+ chunks"))
    summary.wait_for(timeout=timeout_s * 1000)


def search_within(page: Any, timeout_s: float) -> None:
    """Explore: select a box, open the Search page restricted to it, ask a question there."""
    select_box(page, timeout_s)
    page.get_by_text("Open the Search page restricted to these documents").click()
    note = page.get_by_text("Searching only within a selection of", exact=False)
    note.wait_for(timeout=timeout_s * 1000)
    wait_drawn(page, timeout_s)
    ask(page, PAIRS_QUERY, timeout_s)


ACTIONS = {
    "pairs": show_pairs,
    "sense": sense_search,
    "compute": compute_map,
    "select": select_box,
    "within": search_within,
}


def new_page(browser: Any, refused: list[str]) -> Any:
    """A fresh browser context whose requests off this machine are refused and noted."""
    context = browser.new_context(viewport={"width": WIDTH, "height": 900})
    context.add_init_script(WATCH_CHANGES)

    def guard(route: Any) -> None:
        if is_loopback(route.request.url):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    return context.new_page()


def take_one(
    page: Any, url: str, shot: Shot, out: Path, timeout_s: float, collection: str = "demo"
) -> int:
    """Photograph one page and say how it went; return how many problems it had."""
    from playwright.sync_api import Error as PlaywrightError

    started = time.perf_counter()
    try:
        errors = shoot(page, url, shot, out, timeout_s, collection)
    except PlaywrightError as exc:  # a timeout included: the page was never drawn
        print(f"{shot.name}: not saved, {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    finally:
        page.context.close()
    size_kb = (out / f"{shot.name}.png").stat().st_size / 1024
    seconds = time.perf_counter() - started
    print(f"{out / shot.name}.png: {size_kb:.0f} KB, {seconds:.1f} s", flush=True)
    for text in errors:
        print(f"  error shown on {shot.name}: {text[:300]}", file=sys.stderr)
    return len(errors)


def take(
    shots: list[Shot], out: Path, data_dir: Path, env: dict, timeout_s: float, collection: str
) -> int:
    """Photograph ``shots`` against a server started on ``data_dir``; return the exit status."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    refused: list[str] = []
    failed = 0
    with streamlit_server(data_dir, env) as (url, _), sync_playwright() as play:
        browser = play.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for shot in shots:
            page = new_page(browser, refused)
            failed += take_one(page, url, shot, out, timeout_s, collection)
        browser.close()
    if refused:
        print(f"refused {len(refused)} outbound requests: {refused[:3]}", file=sys.stderr)
    return 1 if failed or refused else 0


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m measure screenshots",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=Path("docs/images"), help="folder for PNGs")
    names = ",".join(s.name for s in SHOTS)
    parser.add_argument("--pages", default=names, help=f"comma-separated, of: {names}")
    parser.add_argument("--model", help="EMBEDLAB_MODEL for the started server")
    parser.add_argument(
        "--data-dir", type=Path, help="data dir for the server (kept; a rerun reuses the demo)"
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds one page may take")
    parser.add_argument(
        "--collection",
        default="demo",
        help="the collection the word-pair, sense-search, "
        "map-trust and selection pictures show (one in --data-dir)",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    """Check the options, then take the screenshots on a kept or a temporary data dir."""
    by_name = {s.name: s for s in SHOTS}
    wanted = [n.strip() for n in args.pages.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in by_name]
    if unknown or not wanted:
        print(f"unknown page {unknown}; choose from: {', '.join(by_name)}", file=sys.stderr)
        return 2
    if not Path(CHROMIUM).exists():
        print(f"Chromium not found at {CHROMIUM}: apt-get install chromium", file=sys.stderr)
        return 2
    env = {"EMBEDLAB_MODEL": args.model} if args.model else {}
    shots = [by_name[n] for n in wanted]
    if args.data_dir:
        args.data_dir.mkdir(parents=True, exist_ok=True)
        folder = args.data_dir.resolve()
        return take(shots, args.out.resolve(), folder, env, args.timeout, args.collection)
    with tempfile.TemporaryDirectory(prefix="embedlab-shots-") as scratch:
        data_dir = Path(scratch) / "data"
        data_dir.mkdir()
        return take(shots, args.out.resolve(), data_dir, env, args.timeout, args.collection)


def main(argv: list[str] | None = None) -> int:
    """Take the screenshots; exit status 1 if a page showed an error, 2 on a bad option."""
    args = build_parser().parse_args(argv)
    if threading.current_thread() is not threading.main_thread():
        return run(args)
    # A plain SIGTERM (timeout, kill) would skip the clean-up that stops the server.
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return run(args)
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
