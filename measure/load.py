"""Load: many browser sessions searching at once while another one uploads and ingests.

Starts ``streamlit run app.py`` on a free loopback port (or uses ``--url``), measures one
user's search latency first, then runs ``--sessions`` Playwright contexts in one headless
Chromium that search the demo collection repeatedly (and now and then follow the link that
places their question on the Explore map) while one more context uploads a file on the
Collections page and ingests it. Latency runs from pressing Enter to the script run
finishing with the results on screen. Errors are exceptions or error boxes shown, and
searches that showed no results. Every request to a non-loopback address is blocked and
counted. Prints p50/p95 of both phases and their ratio, the server's memory, where the CPU
went, and the capacity bound: from what one user's session costs this machine, how much
slower every session must get when all of them share it, whatever the server does. Then
what the slowest 5% of loaded searches had beside them (``measure.timeline``); with
``--timeline FILE`` every step of the loaded phase and the machine's load are written out.

Usage::

    python -m measure.load --sessions 8 [--searches 12] [--model DIR] [--url URL] [--json]
    python -m measure.load --sessions 8 --think 15 --timeline steps.json
    python -m measure.load --rounds 5     # memory after each of 5 full session cycles
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from measure.browser import CHROMIUM, CHROMIUM_ARGS, is_loopback, streamlit_server
from measure.timeline import Timeline, cpu_seconds, tail_report

# How often a waiting page checks whether its run finished. Playwright's default checks on
# every animation frame, which keeps 9 headless pages drawing frames and takes CPU from the
# server under test; 50 ms adds at most 50 ms to a measured search, in both phases alike.
POLL_MS = 50
QUERIES = (
    "a large snake that squeezes its prey",
    "how do plants turn sunlight into energy",
    "interest rates at the bank",
    "bats flying at night",
    "the river flooded its banks",
    "apple orchards in autumn",
    "a spring of fresh water",
    "cells divide and grow",
)
# Counts finished script runs: the app root's data-test-script-state leaves "running".
RUN_WATCH = """
(() => {
  window.__runsStarted = 0;
  window.__runsDone = 0;
  let running = false;
  const watch = () => {
    const app = document.querySelector('[data-testid="stApp"]');
    const state = app ? app.getAttribute('data-test-script-state') : null;
    if (state === 'running' || state === 'rerunRequested') {
      if (!running) window.__runsStarted += 1;
      running = true;
    } else if (running && state) { running = false; window.__runsDone += 1; }
  };
  new MutationObserver(watch).observe(document, {
    attributes: true, subtree: true, attributeFilter: ['data-test-script-state'],
  });
})();
"""
RUN_FINISHED = """(n) => {
  const app = document.querySelector('[data-testid="stApp"]');
  const state = app && app.getAttribute('data-test-script-state');
  return window.__runsStarted > n && state !== 'running' && state !== 'rerunRequested';
}"""
# A search is answered when the page's link carries the question (the Search page writes it
# during the run) and no run is going on. Counting runs alone can miss an answer: a run that
# starts while another is still drawing never leaves "running" in between.
ANSWERED = """(q) => {
  const app = document.querySelector('[data-testid="stApp"]');
  const state = app && app.getAttribute('data-test-script-state');
  const shown = new URLSearchParams(location.search).get('q');
  return shown === q && state !== 'running' && state !== 'rerunRequested';
}"""
PAGE_STATE = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return [app && app.getAttribute('data-test-script-state'),
          new URLSearchParams(location.search).get('q'),
          document.querySelectorAll('.hit').length];
}"""
SERVER_FIGURE = re.compile(r"results? in (\d+) ms")
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process and its children in MB (Linux), or None."""
    total = 0
    pids = [pid]
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(child) for child in children]
    for one in pids:
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            return None
    return round(total / 1024, 1)


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` percentile (0-100) of ``values`` in ms, or None when empty."""
    return round(float(np.percentile(values, q)), 1) if values else None


@dataclass
class Phase:
    """What one phase measured."""

    latencies_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)  # as the page reports it
    searches: int = 0
    answered: int = 0
    errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    timeline: Timeline = field(default_factory=Timeline)  # when each step ran

    def summary(self) -> dict[str, Any]:
        """Counts and percentiles."""
        return {
            "searches": self.searches,
            "answered": self.answered,
            "errors": len(self.errors),
            "error_samples": self.errors[:5],
            "outbound_blocked": len(self.blocked),
            "p50_ms": percentile(self.latencies_ms, 50),
            "p95_ms": percentile(self.latencies_ms, 95),
            "max_ms": round(max(self.latencies_ms), 1) if self.latencies_ms else None,
            "search_p50_ms": percentile(self.server_ms, 50),
            "search_p95_ms": percentile(self.server_ms, 95),
        }


async def new_page(browser: Any, phase: Phase, timeout_s: float) -> Any:
    """A fresh context (its own Streamlit session) that blocks and counts outbound requests.

    Every step on its pages (navigation, typing, clicking) may take up to ``timeout_s``, the
    run's ``--timeout``, not Playwright's own 30 s: with 3 sessions and an uploader on 2 cores
    the Collections page took up to 18 s to show its form here, longer on CI, and a step that
    gives up sooner is an error of the test, not of the app.
    """
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(timeout_s * 1000)

    async def guard(route: Any) -> None:
        if is_loopback(route.request.url):
            await route.continue_()
        else:
            phase.blocked.append(route.request.url)
            await route.abort()

    await context.route("**/*", guard)
    await context.add_init_script(RUN_WATCH)
    return await context.new_page()


async def open_search(page: Any, url: str, timeout_s: float) -> None:
    """Open the Search page on the demo collection and wait for the question box."""
    await page.goto(f"{url}/Search?collection=demo", wait_until="domcontentloaded")
    await page.get_by_label("Question", exact=True).wait_for(timeout=timeout_s * 1000)
    await page.wait_for_function(RUN_FINISHED, arg=0, polling=POLL_MS, timeout=timeout_s * 1000)
    await wait_idle(page)


async def wait_idle(page: Any, quiet_s: float = 0.5) -> None:
    """Wait until no script run has started or finished for ``quiet_s`` seconds."""
    count = "window.__runsStarted + window.__runsDone"
    while True:
        before = await page.evaluate(count)
        await asyncio.sleep(quiet_s)
        if await page.evaluate(count) == before:
            return


async def timed_search(page: Any, query: str, phase: Phase, timeout_s: float, who: int = 0) -> None:
    """Type a question, press Enter, wait for its answer; record latency and errors."""
    box = page.get_by_label("Question", exact=True)
    phase.searches += 1
    try:
        await box.fill(query)
        await wait_idle(page, 0.2)
        started = time.monotonic()
        await box.press("Enter")
        await page.wait_for_function(ANSWERED, arg=query, polling=POLL_MS, timeout=timeout_s * 1000)
        # The first HTML card of a session can appear a moment after the run ends (the
        # markdown renderer loads lazily): results are "visible" when a card is on screen.
        await page.locator(f"{ERRORS}, .hit").first.wait_for(timeout=timeout_s * 1000)
    except Exception as exc:  # a timeout or a closed page: the search was not answered
        state = None
        with contextlib.suppress(Exception):
            state = await page.evaluate(PAGE_STATE)
        phase.errors.append(
            f"{query!r}: not answered ({type(exc).__name__}; run state, link q, cards: {state})"
        )
        return
    ended = time.monotonic()
    phase.latencies_ms.append((ended - started) * 1000)
    server_ms = None
    errors = await page.locator(ERRORS).all_inner_texts()
    if errors:
        phase.errors.append(f"{query!r}: {errors[0][:200]}")
    elif await page.locator(".hit").count() == 0:
        phase.errors.append(f"{query!r}: no results shown")
    else:
        phase.answered += 1
        # The page's own figure: embed + search + fetch on the server, without the script's
        # other work or drawing the page.
        with contextlib.suppress(Exception):
            line = await page.get_by_text(SERVER_FIGURE).first.inner_text(timeout=1000)
            server_ms = float(SERVER_FIGURE.search(line).group(1))
            phase.server_ms.append(server_ms)
    phase.timeline.add("search", who, started, server_ms, ended)


async def timed_explore(
    page: Any, query: str, phase: Phase, timeout_s: float, who: int = 0
) -> None:
    """From a search's results, follow the link that places the question on the map (as a
    person would: the app's own link, no reload of the page); wait for the map and the
    question's true neighbours."""
    started = time.monotonic()
    phase.searches += 1
    wait = timeout_s * 1000
    try:
        await page.get_by_role("link", name="See this question on the map").click(timeout=wait)
        await page.wait_for_url(re.compile(r"/Explore\?"), timeout=wait)
        await page.locator('[data-testid="stVegaLiteChart"]').first.wait_for(timeout=wait)
        await page.get_by_text("The query's true neighbours").wait_for(timeout=wait)
        await page.locator(f"{ERRORS}, .lab-table").first.wait_for(timeout=wait)
    except Exception as exc:  # a timeout or a closed page: the visit was not answered
        phase.errors.append(f"explore {query!r}: not answered ({type(exc).__name__})")
        return
    ended = time.monotonic()
    phase.latencies_ms.append((ended - started) * 1000)
    phase.timeline.add("explore", who, started, end=ended)
    errors = await page.locator(ERRORS).all_inner_texts()
    if errors:
        phase.errors.append(f"explore {query!r}: {errors[0][:200]}")
    else:
        phase.answered += 1


async def back_to_search(page: Any, timeout_s: float) -> None:
    """Follow the sidebar's link to Search and wait until the page is ready for a question."""
    wait = timeout_s * 1000
    await page.get_by_role("link", name="Search", exact=True).first.click(timeout=wait)
    await page.wait_for_url(re.compile(r"/Search(\?|$)"), timeout=wait)
    await page.get_by_label("Question", exact=True).wait_for(timeout=wait)
    await wait_idle(page)


async def searcher(
    browser: Any,
    url: str,
    number: int,
    count: int,
    phases: tuple[Phase, Phase],
    deadline: float,
    timeout_s: float,
    think_s: float = 0.0,
    explore_every: int = 0,
    start: asyncio.Barrier | None = None,
) -> None:
    """One session: open Search, then ask ``count`` different questions (until the deadline).

    ``start``: sessions opening together wait here until every one has its page open, so no
    timed search queues behind the others' page loads (people do not all open the app in the
    same second); with a think time each then waits a random part of it before asking.

    ``think_s``: a pause after each answer, drawn uniformly from 0.5x to 1.5x (a person
    reading the results), seeded by the session number; 0 fires the next question at once.
    ``explore_every``: one Explore visit per so many searches (see :func:`explore_after`):
    follow the Search page's link that places the last question on the Explore map (timed
    into the second phase), then the sidebar's link back to Search.
    """
    searches, explores = phases
    pause = random.Random(number)
    visits = explore_after(number, count, explore_every)
    page = await new_page(browser, searches, timeout_s)
    try:
        since = time.monotonic()
        await open_search(page, url, timeout_s)
        searches.timeline.add("open", number, since)
        opened = True
    except Exception as exc:  # the page never became usable: every search counts as lost
        searches.errors.append(f"session {number} did not open: {type(exc).__name__}")
        searches.searches += count
        opened = False
    if start is not None:  # a session that failed to open still releases the others
        await start.wait()
    if not opened:
        return
    if start is not None:
        await asyncio.sleep(pause.uniform(0, think_s))
    for i in range(count):
        if time.monotonic() > deadline:
            break
        query = f"{QUERIES[(number + i) % len(QUERIES)]} {number}-{i}"
        await timed_search(page, query, searches, timeout_s, number)
        if think_s > 0:
            await asyncio.sleep(pause.uniform(0.5 * think_s, 1.5 * think_s))
        if i in visits:
            await timed_explore(page, query, explores, timeout_s, number)
            with contextlib.suppress(Exception):  # a failed return shows in the next search
                since = time.monotonic()
                await back_to_search(page, timeout_s)
                searches.timeline.add("open", number, since)
    await page.context.close()


def explore_after(number: int, count: int, every: int) -> set[int]:
    """After which of its ``count`` searches (0-based) session ``number`` visits Explore.

    As many visits as one after every ``every``-th search gives (never after the last), but
    after searches drawn at random, seeded by the session: sessions that start within
    seconds of each other would otherwise all open the map in the same few seconds, after
    their 4th search, again after their 8th, a lockstep no group of people keeps.
    """
    if every <= 0:
        return set()
    visits = sum(1 for i in range(count) if (i + 1) % every == 0 and i + 1 < count)
    return set(random.Random(f"explore-{number}").sample(range(count - 1), visits))


def upload_file(records: int) -> bytes:
    """A JSON Lines file of ``records`` short, distinct passages to ingest."""
    lines = []
    for n in range(records):
        text = f"Upload passage {n}: {QUERIES[n % len(QUERIES)]}, noted on day {n // 8}."
        lines.append(json.dumps({"id": f"u{n}", "text": text, "batch": str(n % 5)}))
    return ("\n".join(lines) + "\n").encode()


@dataclass
class Uploads:
    """What the uploading session did."""

    done: int = 0
    seconds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def open_collections(page: Any, url: str, timeout_s: float) -> None:
    """Open the Collections page and wait until it is drawn and idle, as a person would.

    The upload's success message must name the collection typed here (not the default one),
    so a name lost between typing and uploading is an error, not a quiet pass.
    """
    await page.goto(f"{url}/Collections", wait_until="domcontentloaded")
    await collection_box(page).wait_for(timeout=timeout_s * 1000)
    await page.wait_for_function(RUN_FINISHED, arg=0, polling=POLL_MS, timeout=timeout_s * 1000)
    await wait_idle(page)


def collection_box(page: Any) -> Any:
    """The Collections page's "Collection" box that a person sees: the Upload tab's.

    The Paste tab has a box with the same label, drawn hidden; while the page is still being
    drawn it can come first, and typing into it waits for it to show, which it never does.
    """
    return page.get_by_label("Collection (new or existing)").filter(visible=True).first


async def uploader(
    browser: Any,
    url: str,
    records: int,
    phase: Phase,
    searching: asyncio.Event,
    result: Uploads,
    timeout_s: float,
) -> None:
    """Upload and ingest a new collection, again and again while the searchers run.

    One session, as a person would: the Collections page is opened once, and each further
    file is added on the page as the last upload left it (a reload would start a new
    session, and cost the shared machine a whole page load each time).
    """
    page = await new_page(browser, phase, timeout_s)
    number, opened = 0, False
    while number == 0 or (searching.is_set() and number < 5):
        name = f"load-upload-{os.getpid()}-{number}"
        started = time.perf_counter()
        try:
            since = time.monotonic()
            if opened:
                await wait_idle(page)
            else:
                await open_collections(page, url, timeout_s)
                opened = True
            await collection_box(page).fill(name)
            phase.timeline.add("upload-open", -1, since)
            files = [
                {
                    "name": f"{name}.jsonl",
                    "mimeType": "application/json",
                    "buffer": upload_file(records),
                }
            ]
            await page.locator("input[type=file]").first.set_input_files(files=files)
            since = time.monotonic()
            await page.get_by_role("button", name="Add to collection").click()
            done = page.get_by_text(re.compile(rf"^{re.escape(name)}: added \d+ documents"))
            await done.wait_for(timeout=timeout_s * 1000)
            phase.timeline.add("ingest", -1, since)
            result.done += 1
            result.seconds.append(round(time.perf_counter() - started, 1))
        except Exception as exc:  # a failed upload is an error to report, not a crash
            result.errors.append(f"{name}: {type(exc).__name__}: {str(exc)[:800]}")
            opened = False  # start the next one from a freshly opened page
        errors = await page.locator(ERRORS).all_inner_texts()
        result.errors += [f"{name}: {text[:200]}" for text in errors]
        number += 1
    await page.context.close()


async def measure(url: str, args: argparse.Namespace, pid: int | None) -> dict[str, Any]:
    """Warm up, measure one user, then the loaded phase; return the figures."""
    from playwright.async_api import async_playwright

    single, loaded, uploads = Phase(), Phase(), Uploads()
    single_explore, loaded_explore = Phase(), Phase()
    loaded_explore.timeline = loaded.timeline  # one timeline of the loaded phase's steps
    async with async_playwright() as play:
        browser = await play.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        warm = Phase()
        # builds the demo collection and its map
        await searcher(browser, url, 99, 2, (warm, warm), time.monotonic() + 900, 600, 0, 1)
        far = time.monotonic() + args.seconds
        single_before, single_started = cpu_seconds(pid), time.monotonic()
        await searcher(
            browser,
            url,
            0,
            args.single,
            (single, single_explore),
            far,
            args.timeout,
            args.think,
            args.explore_every,
        )
        single_cpu = (single_before, cpu_seconds(pid), time.monotonic() - single_started)
        memory_before = rss_mb(pid) if pid else None
        cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
        searching, stop_sampling = asyncio.Event(), asyncio.Event()
        searching.set()
        sampler = asyncio.create_task(loaded.timeline.sample(pid, stop_sampling))
        deadline = time.monotonic() + args.seconds
        upload = asyncio.create_task(
            uploader(browser, url, args.records, loaded, searching, uploads, args.timeout)
        )
        start = asyncio.Barrier(args.sessions)
        await asyncio.gather(
            *(
                searcher(
                    browser,
                    url,
                    n + 1,
                    args.searches,
                    (loaded, loaded_explore),
                    deadline,
                    args.timeout,
                    args.think,
                    args.explore_every,
                    start,
                )
                for n in range(args.sessions)
            )
        )
        searching.clear()
        await upload
        cpu_after, wall = cpu_seconds(pid), time.monotonic() - wall_before
        stop_sampling.set()
        await sampler
        await browser.close()
    figures = report(
        args, warm, single, loaded, uploads, memory_before, rss_mb(pid) if pid else None
    )
    figures["explore"] = explore_report(single_explore, loaded_explore)
    figures["loaded_cpu"] = cpu_split(cpu_before, cpu_after, wall)
    figures["capacity"] = capacity(single.searches, *single_cpu, args.sessions)
    figures["tail"] = tail_report(loaded.timeline)
    if args.timeline:
        args.timeline.write_text(json.dumps(timeline_json(loaded.timeline), indent=1))
    return figures


def timeline_json(timeline: Timeline) -> dict[str, Any]:
    """Every step of the loaded phase and every load sample, seconds from its start."""
    origin = min((s.start for s in timeline.spans), default=0.0)
    return {
        "steps": [
            {
                "kind": s.kind,
                "session": s.who,
                "start_s": round(s.start - origin, 3),
                "ms": round(s.ms, 1),
                "server_ms": s.server_ms,
            }
            for s in timeline.spans
        ],
        "load": [
            {"t_s": round(t - origin, 2), "machine": round(m, 3), "server": server}
            for t, m, server in timeline.load
        ],
    }


def capacity(searches: int, before: tuple, after: tuple, wall: float, sessions: int) -> dict:
    """What one user's session costs, and how much longer every session's cycle must get
    when ``sessions`` of them share this machine, whatever the server does.

    A session's cycle is one search with its share of typing, reading and Explore visits.
    Measured alone: ``wall / searches`` seconds, using ``demand`` CPU-seconds of the whole
    machine (server, browsers, driver). ``sessions`` cycles then need ``sessions * demand``
    CPU-seconds, and the cores give at most ``cores`` per second, so the loaded cycle is at
    least ``sessions * demand / cores`` long (the utilisation law). ``min_stretch`` is that
    over the single-user cycle: above 1, sessions must slow down by at least that factor.
    ``min_stretch_server_only`` counts only the server's CPU, as when every browser runs on
    its user's own machine.
    """
    if not searches or wall <= 0:
        return {}
    cores = os.cpu_count() or 1
    demand = (after[0] - before[0]) / searches
    server = (after[1] - before[1]) / searches if None not in (after[1], before[1]) else None
    cycle = wall / searches

    def stretch(cpu: float | None) -> float | None:
        return None if cpu is None else round(max(1.0, sessions * cpu / cores / cycle), 2)

    return {
        "cores": cores,
        "cycle_s": round(cycle, 3),
        "demand_cpu_s": round(demand, 3),
        "server_cpu_s": None if server is None else round(server, 3),
        "min_stretch": stretch(demand),
        "min_stretch_server_only": stretch(server),
    }


def p95_ratio(one: dict[str, Any], many: dict[str, Any]) -> float | None:
    """Loaded p95 over single-user p95 (two ``Phase.summary()`` dicts), or None."""
    if one["p95_ms"] and many["p95_ms"]:
        return round(many["p95_ms"] / one["p95_ms"], 2)
    return None


def explore_report(single: Phase, loaded: Phase) -> dict[str, Any]:
    """Explore visits of both phases, and the p95 ratio."""
    one, many = single.summary(), loaded.summary()
    return {"single_user": one, "loaded": many, "p95_ratio": p95_ratio(one, many)}


def cpu_split(before: tuple, after: tuple, wall: float) -> dict[str, Any]:
    """Where the CPU went during the loaded phase: the server versus everything else."""
    busy = after[0] - before[0]
    server = after[1] - before[1] if after[1] is not None and before[1] is not None else None
    return {
        "seconds": round(wall, 1),
        "cores": os.cpu_count(),
        "machine_busy_s": round(busy, 1),
        "utilisation": round(busy / (wall * (os.cpu_count() or 1)), 2) if wall else None,
        "server_s": round(server, 1) if server is not None else None,
        "browsers_and_rest_s": round(busy - server, 1) if server is not None else None,
    }


async def session_cycle(browser: Any, url: str, number: int, phase: Phase, timeout_s: float):
    """One user's full visit: search, explore with a query, context, upload; then leave."""
    page = await new_page(browser, phase, timeout_s)
    wait = timeout_s * 1000
    try:
        await open_search(page, url, timeout_s)
        await timed_search(page, f"{QUERIES[number % len(QUERIES)]} {number}", phase, timeout_s)
        for path in ("Explore?collection=demo&q=garden%20soil", "Context"):
            await page.goto(f"{url}/{path}", wait_until="domcontentloaded")
            shown = page.locator(f'[data-testid="stVegaLiteChart"], {ERRORS}').first
            await shown.wait_for(timeout=wait)
        await open_collections(page, url, timeout_s)
        await collection_box(page).fill("session-cycle")
        upload = {"name": "cycle.jsonl", "mimeType": "application/json", "buffer": upload_file(30)}
        await page.locator("input[type=file]").first.set_input_files(files=[upload])
        await page.get_by_role("button", name="Add to collection").click()
        done = page.get_by_text(re.compile(r"^session-cycle: added \d+ documents"))
        await done.first.wait_for(timeout=wait)
        errors = await page.locator(ERRORS).all_inner_texts()
        phase.errors += [f"round {number}: {text[:200]}" for text in errors]
    except Exception as exc:  # a page that never became usable is an error to report
        phase.errors.append(f"round {number}: {type(exc).__name__}: {str(exc)[:800]}")
    finally:
        await page.context.close()


async def memory_rounds(url: str, pid: int, rounds: int, timeout_s: float) -> dict[str, Any]:
    """Run ``rounds`` full session cycles one after another; the server's memory after each.

    A server that keeps something per session (or per query) grows round after round; one
    that only warms its caches levels off after the first rounds.
    """
    from playwright.async_api import async_playwright

    phase, memory = Phase(), []
    async with async_playwright() as play:
        browser = await play.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        for number in range(1, rounds + 1):
            await session_cycle(browser, url, number, phase, timeout_s)
            await asyncio.sleep(2.0)  # let the server finish the session's last run
            memory.append(rss_mb(pid))
        await browser.close()
    growth = None
    if len(memory) >= 2 and all(memory):
        growth = round(max(memory[1:]) / memory[1] - 1, 4)
    return {
        "rounds": rounds,
        "server_rss_mb": memory,
        "growth_after_round_2": growth,
        "errors": phase.errors,
        "outbound_blocked": len(phase.blocked),
    }


def report(
    args: argparse.Namespace,
    warm: Phase,
    single: Phase,
    loaded: Phase,
    uploads: Uploads,
    memory_before: float | None,
    memory_after: float | None,
) -> dict[str, Any]:
    """The figures as one dict."""
    one, many = single.summary(), loaded.summary()
    return {
        "sessions": args.sessions,
        "think_s": args.think,
        "explore_every": args.explore_every,
        "warm_up_errors": len(warm.errors),
        "single_user": one,
        "loaded": many,
        "p95_ratio": p95_ratio(one, many),
        "uploads": {"done": uploads.done, "seconds": uploads.seconds, "errors": uploads.errors},
        "server_rss_mb": {"before_load": memory_before, "after_load": memory_after},
        "errors_total": len(single.errors) + len(loaded.errors) + len(uploads.errors),
    }


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m measure.load", description=__doc__)
    parser.add_argument("--sessions", type=int, default=8, help="searching browser sessions")
    parser.add_argument("--searches", type=int, default=12, help="searches per session")
    parser.add_argument("--single", type=int, default=20, help="single-user searches first")
    parser.add_argument("--seconds", type=float, default=600, help="cap on the loaded phase")
    parser.add_argument("--timeout", type=float, default=180, help="seconds one search may take")
    parser.add_argument("--records", type=int, default=300, help="records in each upload")
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="mean seconds a session pauses after each answer (0: the next question at once)",
    )
    parser.add_argument(
        "--explore-every",
        type=int,
        default=4,
        help="one Explore visit per this many searches, after searches drawn at random "
        "per session (0: never)",
    )
    parser.add_argument("--url", help="use this running server instead of starting one")
    parser.add_argument("--model", help="EMBEDLAB_MODEL for the started server")
    parser.add_argument("--data-dir", type=Path, help="data dir for the started server")
    parser.add_argument(
        "--rounds",
        type=int,
        default=0,
        help="instead of the load test: this many full session cycles, memory after each",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--timeline",
        type=Path,
        help="write every step of the loaded phase and the machine's load to this JSON file",
    )
    return parser


def print_figures(figures: dict[str, Any]) -> None:
    """A few readable lines."""
    one, many = figures["single_user"], figures["loaded"]
    print(
        f"single user: {one['searches']} searches, p50 {one['p50_ms']} ms, "
        f"p95 {one['p95_ms']} ms, errors {one['errors']}"
    )
    print(
        f"{figures['sessions']} sessions + 1 uploading: {many['searches']} searches, "
        f"{many['answered']} answered, errors {many['errors']}, p50 {many['p50_ms']} ms, "
        f"p95 {many['p95_ms']} ms (p95 ratio {figures['p95_ratio']})"
    )
    print(
        "embed + search + fetch as the page reports it, p50/p95: single user "
        f"{one['search_p50_ms']}/{one['search_p95_ms']} ms, loaded "
        f"{many['search_p50_ms']}/{many['search_p95_ms']} ms"
    )
    explored = figures["explore"]
    print(
        f"explore visits: single user p95 {explored['single_user']['p95_ms']} ms, loaded "
        f"{explored['loaded']['searches']} visits, {explored['loaded']['answered']} answered, "
        f"p95 {explored['loaded']['p95_ms']} ms (ratio {explored['p95_ratio']})"
    )
    uploads = figures["uploads"]
    print(
        f"uploads: {uploads['done']} ingested in {uploads['seconds']} s, "
        f"errors {len(uploads['errors'])}; outbound requests blocked: "
        f"{one['outbound_blocked'] + many['outbound_blocked']}"
    )
    print(f"server memory (MB): {figures['server_rss_mb']}")
    cap = figures.get("capacity")
    if cap:
        print(
            f"one user's search cycle: {cap['cycle_s']} s using {cap['demand_cpu_s']} CPU-s "
            f"(server {cap['server_cpu_s']}); with {figures['sessions']} sessions on "
            f"{cap['cores']} cores every cycle must take at least {cap['min_stretch']}x as "
            f"long ({cap['min_stretch_server_only']}x if the browsers ran elsewhere)"
        )
    cpu = figures.get("loaded_cpu")
    if cpu:
        print(
            f"loaded phase: {cpu['seconds']} s on {cpu['cores']} cores, "
            f"{cpu['utilisation']:.0%} busy; CPU seconds: server {cpu['server_s']}, "
            f"browsers and the rest {cpu['browsers_and_rest_s']}"
        )
    tail = figures.get("tail")
    if tail:
        for label, part in (("slowest 5%", tail["slowest"]), ("other", tail["rest"])):
            side = ", ".join(f"{k} {v}" for k, v in part["overlapping"].items())
            print(
                f"{label} loaded searches: {part['count']}, mean {part['mean_ms']} ms (server "
                f"{part['mean_server_ms']} ms); machine {part['machine_busy']} busy, server "
                f"{part['server_busy']}; other sessions' steps beside each: {side}"
            )


def main(argv: list[str] | None = None) -> int:
    """Run the load test; exit status 1 on any error or unanswered search."""
    args = build_parser().parse_args(argv)
    if args.url and args.rounds:
        print("--rounds measures the server it starts itself; leave out --url.", file=sys.stderr)
        return 2
    if args.url:
        figures = asyncio.run(measure(args.url.rstrip("/"), args, None))
    else:
        data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="embedlab-load-")) / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        env = {"EMBEDLAB_MODEL": args.model} if args.model else {}
        with streamlit_server(data_dir, env) as (url, proc):
            if args.rounds:
                figures = asyncio.run(memory_rounds(url, proc.pid, args.rounds, args.timeout))
            else:
                figures = asyncio.run(measure(url, args, proc.pid))
    if args.rounds:
        print(json.dumps(figures, indent=2))
        return 1 if figures["errors"] else 0
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print_figures(figures)
    explored = figures["explore"]
    bad = figures["errors_total"] or figures["loaded"]["answered"] < figures["loaded"]["searches"]
    bad = bad or explored["loaded"]["errors"] or explored["single_user"]["errors"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
