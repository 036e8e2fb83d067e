"""XSS and Markdown in a real browser: hostile text, file names, headers and queries on every page.

HTML payloads call ``__xss(n)`` (defined by an init script, like ``alert``/``confirm``/``prompt``,
which record instead of blocking) or reach for ``http://evil.example``; Markdown payloads are
images, links, autolinks, bare ``www.`` and ``http://`` links, e-mail addresses and reference
links to ``http://127.0.0.2:9`` (not loopback here) or ``http://tracker:9``. They are ingested
before the server starts (as uploads would be, through ``read_bytes``) into collections of
document text, file names, JSON Lines ids, titles and metadata keys and values, CSV headers, and
sentences a word's senses are drawn from; then headless Chromium opens every page (Home,
Search, Collections with an upload of hostile files, Explore, Words, Context, How it works)
against ``streamlit run app.py`` on the tiny model, with Markdown in the queries and typed
text too. Nothing may run, no request may leave loopback, no event handler, ``javascript:``
URL or injected element may reach the page, and no link or image may point off the machine.
"""

from __future__ import annotations

import csv
import io
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
from measure.browser import is_loopback, streamlit_server

pytestmark = [pytest.mark.slow, pytest.mark.browser]

EVIL = "http://evil.example"
TRACKER = "http://127.0.0.2:9"  # outside 127.0.0.1: any request to it leaves "loopback"
DOTLESS = "http://tracker:9"  # a sentence splits at dots; these stay whole in one
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
MARKDOWN = [  # images, links, autolinks, bare links, e-mail, reference links
    f"![image]({TRACKER}/image.png)",
    f"[link]({TRACKER}/link)",
    f"<{TRACKER}/autolink>",
    "www.example.com/bare",
    f"{TRACKER}/bare-url",
    "mail user@evil.example",
    f"[reference][1]\n\n[1]: {TRACKER}/reference",
    f'[t]({TRACKER}/t "title") ![i][pic]\n\n[pic]: {TRACKER}/reference.png',
]
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
    *MARKDOWN,
]
SENSE_PAYLOADS = [  # no dots, so one sentence holds them all, the Markdown image included
    f"[link]({DOTLESS}/link)",
    f"<{DOTLESS}/autolink>",
    f"{DOTLESS}/bare",
    "[reference][1] :red[red] :material/warning: $x^2$ **bold**",
    f'<img src="{DOTLESS}/html">',
    "<script>__xss(42)</script> <img src=x onerror=__xss(43)> [js](javascript:__xss(44))",
    f"![image]({DOTLESS}/image)",
]
QUERY = (
    f"garden ![q]({TRACKER}/query.png) [q]({TRACKER}/query) <{TRACKER}/query-auto> "
    "www.example.com/query user@evil.example <img src=x onerror=__xss(45)>"
)
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
# Links and images anywhere in the document (portals and menus included) that point off the
# machine, or to anything but http(s) and inert data: Markdown from documents made them.
LINK_SCAN = """() => {
  const safe = (value) => {
    const url = new URL(value, location.href);
    if (['data:', 'blob:', 'about:'].includes(url.protocol)) return true;
    return ['http:', 'https:'].includes(url.protocol)
      && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  };
  const bad = [];
  for (const el of document.querySelectorAll('a[href], img[src], image, source[src]')) {
    const value = el.getAttribute('href') || el.getAttribute('src')
      || el.getAttribute('xlink:href') || '';
    if (!safe(value)) bad.push(`<${el.tagName.toLowerCase()}> ${value.slice(0, 80)}`);
  }
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
    headers = hostile_csv(MARKDOWN, rows=len(PAYLOADS))
    sheet = read_bytes(headers, f"{MARKDOWN[0]}.csv", f"uploads/{MARKDOWN[0]}.csv", fields)
    senses = []  # every payload in each sentence, so every example shown holds them all
    for n, filler in enumerate("learns fast slow walks runway paris trains cats".split(), 1):
        line = f"The model {' '.join(SENSE_PAYLOADS)} {filler} {n}\n".encode()
        senses += read_bytes(line, f"s{n:02d}.txt", f"s{n:02d}.txt", fields)
    return {
        "xss-text": text,
        "xss-names": names,
        "xss-meta": meta,
        "xss-csv": sheet,
        "xss-senses": senses,
    }


def hostile_csv(headers: list[str], rows: int, text: bool = True) -> bytes:
    """A CSV whose column names are ``headers`` (plus ``id`` and ``text`` when ``text``)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow((["id", "text"] if text else []) + headers)
    for n in range(1, rows + 1):
        values = [f"{h} value {n % 3}" for h in headers]
        writer.writerow(
            ([f"row{n}", f"Row {n} {marker(n)} about garden soil."] if text else []) + values
        )
    return out.getvalue().encode()


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
            assert collection.store.counts() == (len(docs), len(docs))
        builtin.ensure_demo(tiny_embedder)
    with streamlit_server(data, {"EMBEDLAB_MODEL": str(tiny_model_dir)}) as (url, _):
        yield url


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
    assert page.evaluate(LINK_SCAN) == []


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
        views[name] = (scripts_ran(page), markup_or_requests(page) + page.evaluate(LINK_SCAN))
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
    assert page.evaluate(LINK_SCAN) == []


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


# --- every page, with Markdown in documents, names, headers, queries and typed text ----------


def settle(page: object, text: str) -> None:
    """Wait for ``text`` on the page and for the script run to finish."""
    page.get_by_text(text).first.wait_for(timeout=240_000)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stApp\"]')"
        ".getAttribute('data-test-script-state') === 'notRunning'",
        timeout=240_000,
    )
    page.wait_for_timeout(800)


def type_into(page: object, label: str, text: str, after: str) -> None:
    """Type ``text`` into the box labelled ``label`` and send it (a text area: Ctrl+Enter)."""
    box = page.get_by_label(label, exact=True)
    box.fill(text)
    box.press("Control+Enter" if box.evaluate("e => e.tagName") == "TEXTAREA" else "Enter")
    page.wait_for_timeout(500)
    settle(page, after)


def open_every_option(page: object) -> None:
    """Open each select box's menu in turn (options render in a portal), then close it."""
    for select in page.locator('[data-testid="stSelectbox"]').all():
        select.click()
        page.wait_for_timeout(300)
        page.keyboard.press("Escape")


def visit(page: object, server: str, name: str) -> None:
    """Open one page with hostile input, as a person would use it."""
    query = quote(QUERY)
    if name == "home":
        page.goto(server, wait_until="domcontentloaded")
        settle(page, "Where to go")
    elif name == "search":
        page.goto(f"{server}/Search?collection=xss-csv&q={query}", wait_until="domcontentloaded")
        page.locator(".hit").first.wait_for(timeout=240_000)
        settle(page, "Ranking")
        open_every_option(page)
    elif name == "explore":
        url = f"{server}/Explore?collection=xss-csv&q={query}&colour={quote(MARKDOWN[1])}"
        page.goto(url, wait_until="domcontentloaded")
        settle(page, "The query's true neighbours")
        open_every_option(page)
    elif name == "words":
        page.goto(f"{server}/Words?words={quote(MARKDOWN[0])}", wait_until="domcontentloaded")
        settle(page, "Words and word pieces")
        type_into(page, "Words (up to 100, separated by commas or spaces)", QUERY, "Word pieces")
    elif name == "context":
        page.goto(f"{server}/Context?collection=xss-senses", wait_until="domcontentloaded")
        settle(page, "Group 2")
        lines = "\n".join(f"The model {p} learns" for p in SENSE_PAYLOADS[:4])
        type_into(page, "Sentences that use it, one per line (2 to 8)", lines, "Group 2")
        open_every_option(page)
    elif name == "how":
        page.goto(f"{server}/How_it_works", wait_until="domcontentloaded")
        settle(page, "6. One vector for the whole text")
        type_into(page, "Your sentence", QUERY[:480], "6. One vector for the whole text")
        open_every_option(page)


PAGES = ("home", "search", "explore", "words", "context", "how")


@pytest.mark.parametrize("name", PAGES)
def test_every_page_shows_markdown_as_text(server: str, page: object, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        visit(page, server, name)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / f"xss-{name}-failed.png"), full_page=True)
        raise
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(ARTIFACTS / f"xss-{name}.png"), full_page=True)
    assert_nothing_ran(page)


def test_context_senses_show_document_sentences_as_text(server: str, page: object) -> None:
    visit(page, server, "context")
    shown = page.locator('[data-testid="stMain"]').inner_text().replace("\u2060", "")
    for payload in SENSE_PAYLOADS:  # the sentences as typed: no link, no image, no tag
        assert payload in shown
    assert_nothing_ran(page)


def test_upload_messages_quote_names_and_headers_as_text(server: str, page: object) -> None:
    """File names and CSV headers come back in the upload's warnings: shown as typed."""
    page.goto(f"{server}/Collections", wait_until="domcontentloaded")
    settle(page, "Collection (new or existing)")
    page.get_by_label("Collection (new or existing)").filter(visible=True).fill("md-upload")
    header_only = hostile_csv(MARKDOWN, rows=2, text=False)
    files = [
        (f"{MARKDOWN[0]} headers.csv", header_only),  # no text column: its headers are listed
        (f"{MARKDOWN[3]} {MARKDOWN[5]}.txt", b""),  # empty: its name is quoted
        (f"{MARKDOWN[1]}.csv", hostile_csv(MARKDOWN, rows=3)),  # stored, headers as metadata
    ]
    page.locator("input[type=file]").first.set_input_files(
        files=[{"name": n, "mimeType": "text/plain", "buffer": b} for n, b in files]
    )
    page.get_by_role("button", name="Add to collection").click()
    settle(page, "md-upload: added 3 documents")
    # as typed, but for the invisible word joiners that keep autolinks text
    shown = page.locator('[data-testid="stMain"]').inner_text().replace("\u2060", "")
    assert "has no field 'text'; its fields are" in shown
    assert "www.example.com/bare" in shown and "user@evil.example" in shown
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "xss-collections-upload.png"), full_page=True)
    assert_nothing_ran(page)
