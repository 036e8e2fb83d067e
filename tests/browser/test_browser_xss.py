"""XSS in a real browser: hostile text, file names, titles and metadata shown by every page.

Payloads call ``__xss(n)`` (defined by an init script, like ``alert``/``confirm``/``prompt``,
which record instead of blocking) or reach for ``http://evil.example``. They are ingested
before the server starts (as uploads would be, through ``read_bytes``) into collections of
document text, file names, and JSON Lines ids, titles and metadata keys and values; then
headless Chromium opens Search (cards with highlights), Collections (tables and the delete
list) and Explore (map tooltips) against ``streamlit run app.py`` on the tiny model. Nothing
may run, no request may leave loopback, and no event handler, ``javascript:`` URL or
injected element may reach the page.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from core.documents.chunking import Chunk
from core.documents.readers import FieldSpec, read_bytes
from core.errors import CollectionError
from core.ingest import builtin
from core.storage.collection import Collection, validate_name
from measure.browser import CHROMIUM, CHROMIUM_ARGS, is_loopback, streamlit_server

pytestmark = [pytest.mark.slow, pytest.mark.browser]

EVIL = "http://evil.example"
PAYLOADS = [
    "<script>__xss(1)</script>",
    "<img src=x onerror=__xss(2)>",
    "<svg onload=__xss(3)>",
    "<svg><script>__xss(4)</script></svg>",
    '<iframe srcdoc="<script>parent.__xss(5)</script>"></iframe>',
    '<a href="javascript:__xss(6)">click me</a>',
    "[click me](javascript:__xss(7))",
    '<div style="background:url(javascript:__xss(8))">styled</div>',
    '<div style="width:expression(__xss(9))">expr</div>',
    "<body onload=__xss(10)>",
    '"><img src=x onerror=__xss(11)>',
    "'><svg onload=__xss(12)>",
    "&lt;script&gt;__xss(13)&lt;/script&gt;",
    "&#60;img src=x onerror=__xss(14)&#62;",
    "<details open ontoggle=__xss(15)>",
    "<input autofocus onfocus=__xss(16)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=__xss(17)>",
    '<object data="javascript:__xss(18)"></object>',
    '<embed src="javascript:__xss(19)">',
    "<video><source onerror=__xss(20)></video>",
    "<marquee onstart=__xss(21)>scroll</marquee>",
    "<IMG SRC=JaVaScRiPt:__xss(22)>",
    "<scr<script>ipt>__xss(23)</scr</script>ipt>",
    "\uff1cscript\uff1e__xss(24)\uff1c/script\uff1e",
    '<a href="&#106;avascript:__xss(25)">entity link</a>',
    '<a href="java\tscript:__xss(26)">tab link</a>',
    f"![tracker]({EVIL}/markdown.png)",
    f'<img src="{EVIL}/beacon.gif">',
    f'<link rel=stylesheet href="{EVIL}/s.css">',
    f'<style>@import "{EVIL}/i.css";</style>',
    '<meta http-equiv="refresh" content="0;url=javascript:__xss(31)">',
    '<form action="javascript:__xss(32)"><button>go</button></form>',
    "$\\href{javascript:__xss(33)}{tex link}$",
    ":material/warning: :red[red] <span onmouseover=__xss(34)>hover me</span>",
    f'<base href="{EVIL}/">',
    "</div></div></div><script>__xss(36)</script><div>",
    '<!--<img src="--><img src=x onerror=__xss(37)//">',
    '<noscript><p title="</noscript><img src=x onerror=__xss(38)>">',
    "\u202e<img src=x onerror=__xss(39)>\u202c \u200b<script>__xss(40)</script>",
    "%3Cscript%3E__xss(41)%3C/script%3E",
]
INIT = """
window.__xss_calls = [];
window.__xss = (n) => { window.__xss_calls.push(String(n)); };
for (const name of ['alert', 'confirm', 'prompt', 'print']) {
  window[name] = (m) => { window.__xss_calls.push(name + ':' + m); };
}
"""
# Event handlers, script URLs and injected elements that would reach the page.
DOM_SCAN = """() => {
  const bad = [];
  const root = document.querySelector('[data-testid="stMain"]') || document.body;
  for (const el of root.querySelectorAll('*')) {
    for (const attr of Array.from(el.attributes)) {
      const value = attr.value.replace(/[\\s\\u0000-\\u001f]/g, '').toLowerCase();
      if (/^on/i.test(attr.name) || attr.name === 'srcdoc' || value.startsWith('javascript:'))
        bad.push(`${el.tagName.toLowerCase()} ${attr.name}=${attr.value.slice(0, 60)}`);
    }
  }
  const tags = 'script,iframe,img,svg,object,embed,style,link,meta,base,form,input,a,video,'
    + 'math,details,marquee,noscript';
  const shown = ['.hit', '.lab-table', '[data-testid="stTable"]']
    .map((where) => where + ' :is(' + tags + ')').join(', ');
  for (const el of document.querySelectorAll(shown))
    bad.push('<' + el.tagName.toLowerCase() + '> inside document text');
  return bad;
}"""
COLLECTIONS = ("xss-text", "xss-names", "xss-meta")


def marker(n: int) -> str:
    return f"marker{n:02d}"


def hostile_documents() -> dict[str, list]:
    """Each payload in document text, in a file name, and in jsonl ids, titles and metadata."""
    fields = FieldSpec()
    text, names, rows = [], [], []
    for n, payload in enumerate(PAYLOADS, start=1):
        body = f"Garden soil {marker(n)}.\n\n{payload}\n\nMore garden soil."
        text += read_bytes(body.encode(), f"p{n:02d}.txt", f"p{n:02d}.txt", fields)
        named = f"Named file {n} {marker(n)} about garden soil.".encode()
        names += read_bytes(named, f"{payload}.md", f"uploads/{payload}.md", fields)
        rows.append(
            {
                "id": payload,
                "title": payload,
                "text": f"Record {n} {marker(n)} about garden soil.",
                "topic": payload,
                payload[:60]: "key",
                "nested": {"html": payload},
            }
        )
    jsonl = "".join(json.dumps(row) + "\n" for row in rows).encode()
    meta = read_bytes(jsonl, "meta.jsonl", "uploads/meta.jsonl", fields)
    return {"xss-text": text, "xss-names": names, "xss-meta": meta}


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, tiny_embedder
) -> Iterator[str]:
    """``streamlit run app.py`` on the tiny model over prebuilt hostile collections."""
    data = tmp_path_factory.mktemp("xss") / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMBEDLAB_DATA_DIR", str(data))
        for name, docs in hostile_documents().items():
            # One chunk per document, so every card shows a whole payload (the tiny model's
            # window would cut the longer ones); the text and metadata are stored as parsed.
            collection = Collection(name, tiny_embedder.info, create=True)
            chunks = [[Chunk(0, 0, len(doc.text), doc.text)] for doc in docs]
            collection.add_vectors(docs, chunks, tiny_embedder.encode([d.text for d in docs]))
            collection.save_index()
            assert collection.store.counts() == (len(PAYLOADS), len(PAYLOADS))
        builtin.ensure_demo(tiny_embedder)
    with streamlit_server(data, {"EMBEDLAB_MODEL": str(tiny_model_dir)}) as (url, _):
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install it with apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as play:
        browser = play.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_page(browser: object) -> object:
    """A fresh session that records payload calls, dialogs and every non-loopback request."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(INIT)
    page = context.new_page()
    page.outbound, page.dialogs = [], []
    page.on("request", lambda r: None if is_loopback(r.url) else page.outbound.append(r.url))
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    return page


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    page = open_page(browser)
    yield page
    page.context.close()


def scripts_ran(page: object) -> list[str]:
    """Payload calls, dialogs, event handlers and script URLs that reached the page."""
    page.wait_for_timeout(500)  # give onload/onerror handlers and late requests a moment
    calls = page.evaluate("window.__xss_calls")
    for frame in page.frames[1:]:
        calls += frame.evaluate("window.__xss_calls || []")
    return (
        [f"ran: {c}" for c in calls]
        + [f"dialog: {d}" for d in page.dialogs]
        + [line for line in page.evaluate(DOM_SCAN) if " inside document text" not in line]
    )


def markup_or_requests(page: object) -> list[str]:
    """Requests that left loopback and elements a document put into the page."""
    injected = [line for line in page.evaluate(DOM_SCAN) if " inside document text" in line]
    return [f"request: {url}" for url in page.outbound] + injected


def assert_nothing_ran(page: object) -> None:
    assert scripts_ran(page) == []
    assert markup_or_requests(page) == []


def test_thirty_payloads_and_names_are_refused() -> None:
    assert len(PAYLOADS) >= 30
    for payload in PAYLOADS:
        with pytest.raises(CollectionError, match="not a valid collection name"):
            validate_name(payload)


@pytest.fixture(scope="module")
def search_views(server: str, browser: object) -> dict[str, tuple[list[str], list[str]]]:
    """Each hostile collection on the Search page, every document at once, every card hovered."""
    query = quote("garden soil script img onerror javascript href lt quot amp")
    views = {}
    for name in COLLECTIONS:
        page = open_page(browser)
        page.goto(f"{server}/Search?collection={name}&q={query}", wait_until="domcontentloaded")
        page.locator(".hit").first.wait_for(timeout=120_000)
        slider = page.get_by_role("slider").first  # "Results": show every document at once
        slider.focus()
        slider.press("End")
        page.wait_for_function(f"document.querySelectorAll('.hit').length === {len(PAYLOADS)}")
        shown = page.locator('[data-testid="stMain"]').inner_text()
        assert all(marker(n) in shown for n in range(1, len(PAYLOADS) + 1)), name
        for card in page.locator(".hit").all():
            card.hover()
        views[name] = (scripts_ran(page), markup_or_requests(page))
        page.context.close()
    return views


@pytest.mark.parametrize("name", COLLECTIONS)
def test_search_cards_run_no_script(search_views: dict, name: str) -> None:
    assert search_views[name][0] == []


@pytest.mark.parametrize("name", COLLECTIONS)
def test_search_cards_show_text_as_text_and_load_nothing(search_views: dict, name: str) -> None:
    assert search_views[name][1] == []


@pytest.mark.parametrize("name", ["xss-names", "xss-meta"])
def test_collections_tables_and_delete_list_run_nothing(
    server: str, page: object, name: str
) -> None:
    page.goto(f"{server}/Collections?collection={name}", wait_until="domcontentloaded")
    page.get_by_role("tab", name="Documents and deletion").click(timeout=120_000)
    choose = page.locator('[data-testid="stMultiSelect"] input').first
    choose.click(timeout=60_000)
    choose.press("ArrowDown")  # open the list of ids, then walk through all of them
    page.get_by_role("option").first.wait_for(timeout=30_000)
    for _ in range(len(PAYLOADS) + 1):
        choose.press("ArrowDown")
    assert page.get_by_role("option").count() >= 5
    for table in page.locator('[data-testid="stDataFrame"]').all():
        table.hover()
    assert_nothing_ran(page)


def test_explore_map_tooltips_run_no_script(server: str, page: object) -> None:
    open_explore(page, server)
    assert scripts_ran(page) == []


def test_explore_tables_show_text_as_text_and_load_nothing(server: str, page: object) -> None:
    open_explore(page, server)
    assert markup_or_requests(page) == []


def open_explore(page: object, server: str) -> None:
    """The hostile metadata collection on the map, with a query, every cell hovered."""
    page.goto(f"{server}/Explore?collection=xss-meta&q=garden", wait_until="domcontentloaded")
    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    chart.wait_for(timeout=120_000)
    box = chart.bounding_box()
    for i in range(12):
        for j in range(8):
            x = box["x"] + box["width"] * (i + 0.5) / 12
            page.mouse.move(x, box["y"] + box["height"] * (j + 0.5) / 8)
