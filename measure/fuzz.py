"""Fuzz the document readers with malformed files of every accepted format.

Each generated file goes through the same path as an upload: the size limit, then
:func:`core.documents.readers.read_bytes` (PDFs in their sandboxed reader). Parsing runs in a worker
process under a memory limit, one file at a time, with a time limit per file; a file that
overruns is a hang (the worker is killed and replaced). Outcomes: ingested (documents
came out), refused (an ``InputError`` with a reason), crash (any other exception, or a dead
worker) or hang. With ``--model``, every file that parsed is also ingested into a collection
and searched, so the store, the FTS index and the tokenizer see the same hostile text.

Usage::

    python -m measure.fuzz --count 500 --seed 0 [--model DIR] [--pdf-seconds 10] [--keep DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import queue
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORDS = (
    "river bank money snake python apple bat cave spring cell model train light wave "
    "garden soil seed star planet engine bird crane field water stone paper music"
).split()
Generator = Callable[[random.Random], tuple[str, bytes]]


# --- well-formed bases -------------------------------------------------------------------


def words(rng: random.Random, count: int) -> str:
    """``count`` random words."""
    return " ".join(rng.choice(WORDS) for _ in range(count))


def sentences(rng: random.Random, count: int = 5) -> str:
    """A few sentences of plain text."""
    return " ".join(words(rng, rng.randint(4, 14)).capitalize() + "." for _ in range(count))


def csv_text(rng: random.Random, rows: int = 5) -> str:
    """A small CSV with id, title, text and topic columns."""
    lines = ["id,title,text,topic"]
    for n in range(rows):
        lines.append(f'{n},"{words(rng, 2)}","{sentences(rng, 2)}",{rng.choice(WORDS)}')
    return "\n".join(lines) + "\n"


def jsonl_text(rng: random.Random, rows: int = 5) -> str:
    """A small JSON Lines file of records with id, title, text and metadata."""
    return "".join(
        json.dumps({"id": f"r{n}", "title": words(rng, 2), "text": sentences(rng, 2), "n": n})
        + "\n"
        for n in range(rows)
    )


def pdf_file(objects: list[bytes]) -> bytes:
    """A PDF of numbered ``objects`` (object 1 is the catalog) with a correct xref table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1)
    return bytes(out + b"startxref\n%d\n%%%%EOF\n" % xref)


def pdf_stream(data: bytes, extra: bytes = b"") -> bytes:
    """A stream object's body."""
    return b"<< /Length %d %s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def pdf_page(contents: bytes = b"4 0 R", xobjects: bytes = b"") -> bytes:
    """A page object (parent 2, font 5) drawing ``contents``."""
    return (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents "
        + contents
        + b" /Resources << /Font << /F1 5 0 R >> "
        + xobjects
        + b" >> >>"
    )


def text_pdf(text: str, pages: int = 1) -> bytes:
    """A PDF whose pages all show ``text`` (Latin-1 safe characters only)."""
    safe = text.encode("latin-1", "replace").replace(b"\\", b"").replace(b"(", b"")
    content = b"BT /F1 12 Tf 72 712 Td (" + safe.replace(b")", b"") + b") Tj ET"
    kids = b" ".join(b"%d 0 R" % (6 + n) for n in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
        pdf_page(),
        pdf_stream(content),
        FONT,
    ]
    return pdf_file(objects + [pdf_page() for _ in range(pages)])


# --- malformed files -----------------------------------------------------------------------


def truncate(data: bytes, rng: random.Random) -> bytes:
    """Cut ``data`` at a random point."""
    return data[: rng.randrange(1, max(2, len(data)))]


def flip(data: bytes, rng: random.Random, count: int = 8) -> bytes:
    """Overwrite ``count`` random bytes."""
    out = bytearray(data)
    for _ in range(count):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def splice(data: bytes, rng: random.Random, junk: bytes) -> bytes:
    """Insert ``junk`` at a random point."""
    at = rng.randrange(len(data) + 1)
    return data[:at] + junk + data[at:]


def binary(rng: random.Random, size: int) -> bytes:
    """``size`` random bytes."""
    return rng.randbytes(size)


def base(kind: str, rng: random.Random) -> bytes:
    """A well-formed file of ``kind`` (txt, md, csv, jsonl or pdf)."""
    if kind == "csv":
        return csv_text(rng, rng.randint(1, 8)).encode()
    if kind == "jsonl":
        return jsonl_text(rng, rng.randint(1, 8)).encode()
    if kind == "pdf":
        return text_pdf(sentences(rng, 3), rng.randint(1, 3))
    prefix = "# Heading\n\n" if kind == "md" else ""
    return (prefix + sentences(rng, rng.randint(1, 12))).encode()


def per_format(make: Callable[[str, random.Random], bytes]) -> list[tuple[str, Generator]]:
    """One generator per accepted format from ``make(kind, rng)``."""

    def bind(kind: str) -> Generator:
        return lambda rng: (f"file.{kind}", make(kind, rng))

    return [(kind, bind(kind)) for kind in ("txt", "md", "csv", "jsonl", "pdf")]


MUTATIONS: dict[str, Callable[[str, random.Random], bytes]] = {
    "valid": base,
    "truncated": lambda kind, rng: truncate(base(kind, rng), rng),
    "flipped bytes": lambda kind, rng: flip(base(kind, rng), rng, rng.randint(1, 40)),
    "NUL bytes": lambda kind, rng: splice(base(kind, rng), rng, b"\x00" * rng.randint(1, 64)),
    "binary splice": lambda kind, rng: splice(base(kind, rng), rng, binary(rng, 256)),
    "random binary": lambda kind, rng: binary(rng, rng.choice((1, 16, 4096, 200_000))),
    "empty": lambda kind, rng: rng.choice((b"", b" ", b"\n\n\t ", b"\xef\xbb\xbf")),
    "utf-8 BOM": lambda kind, rng: b"\xef\xbb\xbf" + base(kind, rng),
    "utf-16": lambda kind, rng: (
        base(kind, rng).decode("latin-1").encode(rng.choice(("utf-16", "utf-16-le", "utf-32")))
    ),
    "latin-1 mixed in": lambda kind, rng: splice(
        base(kind, rng), rng, "café naïve Straße".encode(rng.choice(("latin-1", "cp1252")))
    ),
    "control characters": lambda kind, rng: splice(
        base(kind, rng), rng, bytes(rng.randrange(1, 32) for _ in range(rng.randint(1, 400)))
    ),
    "huge line": lambda kind, rng: splice(
        base(kind, rng),
        rng,
        rng.choice((b"x", b"ab ", b"\xe2\x80\x8b")) * rng.choice((100_000, 700_000, 2_100_000)),
    ),
}


def text_generators() -> list[tuple[str, Generator]]:
    """Plain-text and Markdown oddities."""
    tricks = "\u202eevil\u202c \u200b\u200d\ufeff \u0301" * 50 + "😀" * 100 + "\uffff\U0010ffff"
    return [
        ("txt", lambda rng: ("tricks.txt", (sentences(rng) + tricks).encode())),
        ("txt", lambda rng: ("cr-only.txt", sentences(rng).replace(". ", ".\r").encode())),
        ("txt", lambda rng: ("one-word.txt", b"w" * rng.choice((1000, 500_000)))),
        ("txt", lambda rng: ("combining.txt", ("a" + "\u0301" * 5000).encode())),
        ("md", lambda rng: ("html.md", b"<script>alert(1)</script>\n\n[x](javascript:alert(1))")),
        ("md", lambda rng: ("separators.md", ("line\u2028" * 2000).encode())),
        ("txt", lambda rng: ("only-punctuation.txt", b".,;:!?" * rng.randint(1, 2000))),
    ]


def csv_generators() -> list[tuple[str, Generator]]:
    """CSV files that break the usual assumptions."""

    def ragged(rng: random.Random) -> bytes:
        rows = ["id,text,topic"] + [",".join(["x"] * rng.randint(0, 6)) for _ in range(20)]
        return "\n".join(rows).encode()

    return [
        ("csv", lambda rng: ("unbalanced.csv", b'id,text\n1,"unclosed quote\n2,fine\n')),
        ("csv", lambda rng: ("quote-inside.csv", b'id,text\n1,a "quoted" word\n2,"x""y"z\n')),
        ("csv", lambda rng: ("ragged.csv", ragged(rng))),
        ("csv", lambda rng: ("no-text-column.csv", b"id,body\n1,hello\n")),
        ("csv", lambda rng: ("header-only.csv", b"id,text\n")),
        ("csv", lambda rng: ("blank-header.csv", b",,,\na,b,c,d\n")),
        ("csv", lambda rng: ("duplicate-header.csv", b"text,text,id\na,b,1\nc,d,2\n")),
        ("csv", lambda rng: ("semicolons.csv", b"id;text\n1;hello there\n")),
        ("csv", lambda rng: ("wide.csv", _wide_csv(rng.choice((1000, 20_000))))),
        ("csv", lambda rng: ("huge-field.csv", b'id,text\n1,"' + b"y " * 1_100_000 + b'"\n')),
        ("csv", lambda rng: ("many-rows.csv", csv_text(rng, 20_000).encode())),
        ("csv", lambda rng: ("cr-rows.csv", csv_text(rng).replace("\n", "\r").encode())),
    ]


def _wide_csv(columns: int) -> bytes:
    header = ",".join(["text"] + [f"c{n}" for n in range(columns)])
    return (header + "\n" + ",".join(["hello"] + ["1"] * columns) + "\n").encode()


def line(value: Any) -> bytes:
    """One JSON Lines line."""
    return (json.dumps(value) + "\n").encode()


def record(rng: random.Random, **extra: Any) -> dict[str, Any]:
    """A well-formed record with an id and some text."""
    return {"id": f"r{rng.randrange(10**6)}", "text": sentences(rng, 2), **extra}


def jsonl_generators() -> list[tuple[str, Generator]]:
    """JSON Lines files with deep nesting, odd values and odd types."""

    depth = (1000, 100_000)
    return [
        ("jsonl", lambda rng: ("deep.jsonl", b"[" * rng.choice(depth) + b"]" * 10)),
        ("jsonl", lambda rng: ("deep-object.jsonl", b'{"a":' * rng.choice(depth) + b"1")),
        ("jsonl", lambda rng: ("deep-meta.jsonl", _deep_meta(rng.randint(100, 900)))),
        ("jsonl", lambda rng: ("surrogates.jsonl", b'{"id": "\\ud800", "text": "a \\udfff b"}')),
        ("jsonl", lambda rng: ("surrogate-meta.jsonl", b'{"text": "ok", "\\udc80": "\\ud800"}')),
        ("jsonl", lambda rng: ("nan.jsonl", b'{"text": "x", "v": NaN}\n')),
        ("jsonl", lambda rng: ("big-int.jsonl", b'{"text": "x", "v": ' + b"9" * 5000 + b"}")),
        ("jsonl", lambda rng: ("not-objects.jsonl", b'[1, 2]\n"text"\nnull\n3\n')),
        ("jsonl", lambda rng: ("text-types.jsonl", _typed_texts(rng))),
        ("jsonl", lambda rng: ("odd-ids.jsonl", _odd_ids(rng))),
        (
            "jsonl",
            lambda rng: (
                "dup-ids.jsonl",
                line(record(rng, id="same")) * 2 + line({"id": "same", "text": "other"}),
            ),
        ),
        ("jsonl", lambda rng: ("long-text.jsonl", line({"text": "z " * 1_050_001}))),
        ("jsonl", lambda rng: ("trailing-garbage.jsonl", line(record(rng)) + b'{"text": "a"} }}')),
        ("jsonl", lambda rng: ("line-separator.jsonl", line(record(rng, note="a\u2028b\u2029c")))),
        (
            "jsonl",
            lambda rng: (
                "many-keys.jsonl",
                line({"text": "k", **{f"k{n}": n for n in range(50_000)}}),
            ),
        ),
        (
            "jsonl",
            lambda rng: ("limit.jsonl", b"".join(b'{"text":"t%d"}\n' % n for n in range(200_001))),
        ),
    ]


def _deep_meta(depth: int) -> bytes:
    return b'{"text": "deep metadata", "m": ' + b"[" * depth + b"1" + b"]" * depth + b"}\n"


def _typed_texts(rng: random.Random) -> bytes:
    values = [1, 2.5, [1, "a"], {"x": "y"}, None, True, "", " \n\t "]
    return "".join(json.dumps({"id": n, "text": v}) + "\n" for n, v in enumerate(values)).encode()


def _odd_ids(rng: random.Random) -> bytes:
    ids = [{"a": 1}, [1, 2], "", "x" * 10_000, "a\nb", "../../etc/passwd", 1e308, -0.0, True]
    return "".join(
        json.dumps({"id": i, "text": f"text {n}"}) + "\n" for n, i in enumerate(ids)
    ).encode()


_BOMBS: dict[tuple[int, int, int], bytes] = {}


def bomb_pdf(inflated: int, pages: int = 1, repeat: int = 1, fill: bytes = b"A B ") -> bytes:
    """A PDF whose one FlateDecode stream inflates to ``inflated`` bytes of text, drawn
    ``repeat`` times on each of ``pages`` pages (a decompression bomb); cached."""
    key = (inflated, pages, repeat)
    if key not in _BOMBS:
        packer = zlib.compressobj(9)
        block = fill * ((1 << 20) // len(fill))
        parts = [packer.compress(b"BT /F1 12 Tf 72 712 Td (")]
        parts += [packer.compress(block) for _ in range(inflated >> 20)]
        parts += [packer.compress(b") Tj ET"), packer.flush()]
        contents = b"[" + b" ".join([b"4 0 R"] * repeat) + b"]"
        kids = b" ".join(b"%d 0 R" % (6 + n) for n in range(pages))
        objects = [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
            pdf_page(contents),
            pdf_stream(b"".join(parts), b"/Filter /FlateDecode"),
            FONT,
        ]
        _BOMBS[key] = pdf_file(objects + [pdf_page(contents) for _ in range(pages)])
    return _BOMBS[key]


def xobject_laughs(depth: int) -> bytes:
    """Form XObjects that each draw the next one twice: 2**depth drawings of one word."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        pdf_page(xobjects=b"/XObject << /X 6 0 R >>"),
        pdf_stream(b"/X Do"),
        FONT,
    ]
    for level in range(depth):
        last = level == depth - 1
        content = b"BT /F1 12 Tf (lol) Tj ET" if last else b"/X Do /X Do"
        inner = b"" if last else b"/XObject << /X %d 0 R >>" % (7 + level)
        extra = (
            b"/Type /XObject /Subtype /Form /BBox [0 0 9 9] /Resources << /Font << /F1 5 0 R >> "
        )
        objects.append(pdf_stream(content, extra + inner + b" >>"))
    return pdf_file(objects)


def encrypted_pdf(rng: random.Random, password: str) -> bytes:
    """A text PDF encrypted (RC4) with ``password`` as the user password."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf(sentences(rng, 2)))))
    writer.encrypt(user_password=password, owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def prev_loop_pdf() -> bytes:
    """A PDF whose trailer's /Prev points back at its own xref table."""
    data = text_pdf("loop")
    at = data.rindex(b"trailer")
    xref = data.rindex(b"xref")
    return (
        data[:at]
        + b"trailer\n<< /Size 6 /Root 1 0 R /Prev %d >>\n" % xref
        + data[data.index(b"startxref", at) :]
    )


def odd_pdf(kind: str) -> bytes:
    """Structurally hostile PDFs: cycles, lies about counts and lengths, deep nesting."""
    catalog, font = b"<< /Type /Catalog /Pages 2 0 R >>", FONT
    text = pdf_stream(b"BT /F1 12 Tf (hi there) Tj ET")
    if kind == "cyclic-pages":
        return pdf_file(
            [catalog, b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>", pdf_page(), text, font]
        )
    if kind == "count-lie":
        return pdf_file(
            [catalog, b"<< /Type /Pages /Kids [3 0 R] /Count 1000000000 >>", pdf_page(), text, font]
        )
    if kind == "length-lie":
        body = b"<< /Length 999999999999 >>\nstream\nBT /F1 12 Tf (x) Tj ET\nendstream"
        return pdf_file(
            [catalog, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>", pdf_page(), body, font]
        )
    if kind == "deep-array":
        deep = b"[" * 100_000 + b"]" * 100_000
        return pdf_file(
            [
                catalog,
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 /X " + deep + b" >>",
                pdf_page(),
                text,
                font,
            ]
        )
    if kind == "prev-loop":
        return prev_loop_pdf()
    return pdf_file(
        [
            catalog,
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            pdf_page(),
            pdf_stream(b"BT /F1 12 Tf (\x00\x01\x02 nul \x00) Tj ET"),
            font,
        ]
    )


def pdf_generators() -> list[tuple[str, Generator]]:
    """Corrupt, encrypted and bomb PDFs."""
    odd = ("cyclic-pages", "count-lie", "length-lie", "deep-array", "prev-loop", "nul-text")
    out: list[tuple[str, Generator]] = [
        ("pdf", lambda rng, k=k: (f"{k}.pdf", odd_pdf(k))) for k in odd
    ]
    return [
        *out,
        ("pdf", lambda rng: ("locked.pdf", encrypted_pdf(rng, "secret"))),
        ("pdf", lambda rng: ("empty-password.pdf", encrypted_pdf(rng, ""))),
        ("pdf", lambda rng: ("zip-bomb-256m.pdf", bomb_pdf(256 << 20, fill=b"\x00"))),
        ("pdf", lambda rng: ("zip-bomb-70m-text.pdf", bomb_pdf(70 << 20))),
        ("pdf", lambda rng: ("zip-bomb-pages.pdf", bomb_pdf(20 << 20, pages=50))),
        ("pdf", lambda rng: ("zip-bomb-repeat.pdf", bomb_pdf(20 << 20, repeat=5))),
        ("pdf", lambda rng: ("xobject-laughs.pdf", xobject_laughs(30))),
        ("pdf", lambda rng: ("too-many-pages.pdf", text_pdf("page", 2001))),
        ("pdf", lambda rng: ("no-xref.pdf", text_pdf("x").split(b"xref")[0])),
        ("pdf", lambda rng: ("header-only.pdf", b"%PDF-1.7\n%%EOF\n")),
    ]


def misnamed_generators() -> list[tuple[str, Generator]]:
    """Right bytes, wrong name: formats swapped, binary as text, unsupported extensions."""
    png = b"\x89PNG\r\n\x1a\n" + bytes(64)
    zip_bytes = b"PK\x03\x04" + bytes(64)
    out: list[tuple[str, Generator]] = []
    for real, named in (
        ("pdf", "txt"),
        ("pdf", "md"),
        ("jsonl", "csv"),
        ("csv", "jsonl"),
        ("txt", "pdf"),
        ("pdf", "jsonl"),
        ("jsonl", "pdf"),
    ):
        out.append(("wrong extension", lambda rng, r=real, n=named: (f"{r}-as.{n}", base(r, rng))))
    for name, data in (
        ("image.pdf", png),
        ("archive.pdf", zip_bytes),
        ("image.txt", png),
        ("page.html", b"<p>hi</p>"),
        ("tool.exe", b"MZ" + bytes(64)),
        ("no-extension", b"hello"),
        ("double.txt.exe", b"hello"),
        ("UPPER.TXT", b"hello upper"),
        ("doc.docx", zip_bytes),
    ):
        out.append(("wrong extension", lambda rng, n=name, d=data: (n, d)))
    return out


def generators() -> list[tuple[str, Generator]]:
    """Every generator as (label, generator); each makes (file name, bytes) from a seed.

    A label ending in ":" is completed by the generated file's name.
    """
    table: list[tuple[str, Generator]] = []
    for mutation, make in MUTATIONS.items():
        table += [(f"{kind}: {mutation}", gen) for kind, gen in per_format(make)]
    for group in (
        text_generators,
        csv_generators,
        jsonl_generators,
        pdf_generators,
        misnamed_generators,
    ):
        table += [(f"{kind}:", gen) for kind, gen in group()]
    return table


ODD_STEMS = (
    "../../etc/passwd",
    "ünï cødé ☃",
    "a" * 300,
    "<script>alert(1)<",
    "CON",
    " ",
    "name\nwith newline",
    "\u202etxt.exe",
)


@dataclass(frozen=True)
class FuzzFile:
    """One generated input: its label, the name it is uploaded under, and its path on disk."""

    number: int
    label: str
    name: str
    path: Path


def make_files(folder: Path, count: int, seed: int) -> list[FuzzFile]:
    """Write ``count`` malformed files; every generator is used once before any repeats."""
    table = generators()
    order = list(range(len(table)))
    random.Random(seed).shuffle(order)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for number in range(count):
        label, gen = table[order[number % len(order)]]
        rng = random.Random(seed * 1_000_003 + number)
        name, data = gen(rng)
        if label.endswith(":"):
            label = f"{label} {Path(name).stem}"
        if rng.random() < 0.15:  # the same bytes under a hostile file name
            name = rng.choice(ODD_STEMS) + Path(name).suffix
        path = folder / f"{number:04d}.bin"
        path.write_bytes(data)
        files.append(FuzzFile(number, label, name, path))
    return files


# --- parsing under limits ------------------------------------------------------------------


def parse_one(data: bytes, name: str) -> dict[str, Any]:
    """Feed one file to the readers as an upload is fed; classify what happens."""
    from core.config import LIMITS
    from core.documents.readers import FieldSpec, read_bytes
    from core.errors import InputError

    started = time.perf_counter()
    try:
        if len(data) > LIMITS.max_file_bytes:
            raise InputError(f"File is over the {LIMITS.max_file_bytes >> 20} MB limit.")
        docs = read_bytes(data, name, name, FieldSpec())
        answer = {"outcome": "ingested", "documents": len(docs)}
    except InputError as exc:
        answer = {"outcome": "refused", "reason": str(exc)}
    except Exception as exc:  # a crash: anything but InputError escaping the readers
        error = f"{type(exc).__name__}: {exc}"[:300]
        answer = {"outcome": "crash", "error": error, "traceback": traceback.format_exc()[-1500:]}
    answer["seconds"] = round(time.perf_counter() - started, 3)
    return answer


def worker_main(memory_mb: int, pdf_seconds: float) -> int:
    """The parsing process: requests on stdin, one JSON answer per line on stdout."""
    limit = memory_mb << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import core.documents.pdf

    core.documents.pdf.SECONDS = pdf_seconds
    for line in sys.stdin:
        request = json.loads(line)
        answer = parse_one(Path(request["path"]).read_bytes(), request["name"])
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    return 0


class Worker:
    """A parsing process, replaced whenever a file hangs it or kills it."""

    def __init__(self, memory_mb: int, pdf_seconds: float) -> None:
        """Start the first process."""
        self.command = [sys.executable, "-m", "measure.fuzz", "--worker"]
        self.command += ["--memory-mb", str(memory_mb), "--pdf-seconds", str(pdf_seconds)]
        self.restarts = -1
        self.start()

    def start(self) -> None:
        """Start a fresh worker process (in its own process group)."""
        self.proc = subprocess.Popen(
            self.command,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc, self.lines), daemon=True).start()
        self.restarts += 1

    @staticmethod
    def _read(proc: subprocess.Popen, lines: queue.Queue) -> None:
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    def ask(self, file: FuzzFile, seconds: float) -> dict[str, Any]:
        """Parse one file; a hang or a dead worker is an outcome too."""
        try:
            self.proc.stdin.write(json.dumps({"path": str(file.path), "name": file.name}) + "\n")
            self.proc.stdin.flush()
            line = self.lines.get(timeout=seconds)
        except queue.Empty:
            self.stop()
            self.start()
            return {"outcome": "hang", "seconds": seconds}
        except BrokenPipeError:
            line = None
        if line is None:
            code = self.proc.wait()
            self.start()
            return {"outcome": "crash", "error": f"the worker died (exit status {code})"}
        return json.loads(line)

    def stop(self) -> None:
        """Kill the worker and anything it started (its PDF reader)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


# --- the app's path beyond parsing: ingest and search ---------------------------------------

QUERIES = (
    "river bank",
    "<script>alert(1)</script>",
    '"unbalanced',
    "NEAR(a b) AND OR NOT *",
    "ünï cødé \u202e\u200b",
    "'; DROP TABLE documents; --",
    "x" * 2000,
)


@dataclass
class IngestTally:
    """What happened when the parsed files were stored and searched."""

    files: int = 0
    documents_stored: int = 0
    refused: int = 0
    crashes: int = 0
    searches: int = 0
    search_crashes: int = 0
    errors: list[str] = field(default_factory=list)


def ingest_parsed(files: list[FuzzFile], results: list[dict], embedder: Any) -> IngestTally:
    """Ingest every file that parsed into one collection, then search it in every mode."""
    from core.documents.readers import FieldSpec, read_bytes
    from core.errors import InputError
    from core.ingest.pipeline import ingest_documents
    from core.storage.collection import Collection

    tally = IngestTally()
    collection = Collection("fuzz", embedder.info, create=True)
    for file, result in zip(files, results, strict=True):
        if result["outcome"] != "ingested":
            continue
        tally.files += 1
        try:
            docs = read_bytes(file.path.read_bytes(), file.name, file.name, FieldSpec())
            tally.documents_stored += ingest_documents(collection, embedder, docs).added
        except InputError:
            tally.refused += 1
        except Exception as exc:  # a crash of the ingest path on parsed input
            tally.crashes += 1
            tally.errors.append(
                f"ingest {file.number:04d} {file.label}: {type(exc).__name__}: {exc}"[:300]
            )
    search_everything(collection, embedder, tally)
    return tally


def search_everything(collection: Any, embedder: Any, tally: IngestTally) -> None:
    """Run hostile queries in every mode, with the Search page's explanations and HTML."""
    from core.errors import InputError
    from core.search.highlight import explain
    from core.search.query import MODES, search
    from ui.markup import highlight_html

    for query in QUERIES:
        for mode in MODES:
            tally.searches += 1
            try:
                result = search(collection, embedder, query, 10, None, mode)
                texts = [hit.text for hit in result.hits]
                for text, why in zip(
                    texts, explain(embedder, query, result.vector, texts), strict=True
                ):
                    highlight_html(text, why)
            except InputError:
                pass
            except Exception as exc:  # a crash of search on stored hostile text
                tally.search_crashes += 1
                tally.errors.append(
                    f"search {mode} {query[:30]!r}: {type(exc).__name__}: {exc}"[:300]
                )


# --- the run -------------------------------------------------------------------------------


def run(
    files: list[FuzzFile], memory_mb: int, pdf_seconds: float, file_seconds: float, verbose: bool
) -> tuple[list[dict], int]:
    """Parse every file in the worker; return the answers and how often it was replaced."""
    worker = Worker(memory_mb, pdf_seconds)
    results = []
    try:
        for file in files:
            answer = worker.ask(file, file_seconds)
            results.append(answer)
            if verbose:
                print(
                    f"{file.number:04d} {answer['outcome']:<8} {answer.get('seconds', 0):6.2f}s "
                    f"{file.label}",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        worker.stop()
    return results, worker.restarts


def summarise(files: list[FuzzFile], results: list[dict]) -> dict[str, Any]:
    """Counts by outcome and by kind of file, refusal reasons, crashes and the slowest files."""
    outcomes = Counter(r["outcome"] for r in results)
    by_label: dict[str, Counter] = {}
    for file, result in zip(files, results, strict=True):
        by_label.setdefault(file.label, Counter())[result["outcome"]] += 1
    reasons = Counter(" ".join(r["reason"].split()[:6]) for r in results if "reason" in r)
    bad = [
        {"file": f.number, "label": f.label, "name": f.name, **r}
        for f, r in zip(files, results, strict=True)
        if r["outcome"] in ("crash", "hang")
    ]
    slowest = sorted(zip(files, results, strict=True), key=lambda fr: -fr[1].get("seconds", 0))
    return {
        "files": len(files),
        "ingested": outcomes["ingested"],
        "refused": outcomes["refused"],
        "crashes": outcomes["crash"],
        "hangs": outcomes["hang"],
        "kinds_of_file": len(by_label),
        "by_kind": {k: dict(v) for k, v in sorted(by_label.items())},
        "refusal_reasons": dict(reasons.most_common(25)),
        "crashes_and_hangs": bad[:50],
        "slowest": [(f.label, r.get("seconds")) for f, r in slowest[:8]],
        "outcomes": [
            {"file": f.number, "label": f.label, "name": f.name, "outcome": r["outcome"]}
            for f, r in zip(files, results, strict=True)
        ],
    }


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m measure.fuzz", description=__doc__)
    parser.add_argument("--count", type=int, default=500, help="files to generate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", help="also ingest and search with this model folder")
    parser.add_argument("--pdf-seconds", type=float, default=10.0, help="PDF reader time limit")
    parser.add_argument("--file-seconds", type=float, help="per-file limit (default PDF + 30)")
    parser.add_argument("--memory-mb", type=int, default=2048, help="parsing worker memory")
    parser.add_argument("--keep", type=Path, help="keep the generated files in this folder")
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.add_argument("-v", "--verbose", action="store_true", help="a line per file")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Generate, parse, optionally ingest; exit 1 on any crash or hang."""
    args = build_parser().parse_args(argv)
    if args.worker:
        return worker_main(args.memory_mb, args.pdf_seconds)
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="embedlab-fuzz-"))
    os.environ["EMBEDLAB_DATA_DIR"] = str(workdir / "data")
    started = time.monotonic()
    files = make_files(workdir / "files", args.count, args.seed)
    file_seconds = args.file_seconds or args.pdf_seconds + 30
    results, restarts = run(files, args.memory_mb, args.pdf_seconds, file_seconds, args.verbose)
    report = summarise(files, results)
    report["worker_restarts"] = restarts
    failed = report["crashes"] + report["hangs"]
    if args.model:
        from core.model.embedder import Embedder

        ingest = ingest_parsed(files, results, Embedder(args.model))
        report["ingest"] = vars(ingest)
        failed += ingest.crashes + ingest.search_crashes
    report["seconds"] = round(time.monotonic() - started, 1)
    print_report(report, args.json)
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


def print_report(report: dict[str, Any], as_json: bool) -> None:
    """The figures, as JSON or as a few lines."""
    if as_json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return
    print(
        f"files {report['files']} ({report['kinds_of_file']} kinds): ingested "
        f"{report['ingested']}, refused {report['refused']}, crashes {report['crashes']}, "
        f"hangs {report['hangs']} in {report['seconds']} s"
    )
    for reason, count in report["refusal_reasons"].items():
        print(f"  refused {count:>4}: {reason}…")
    for bad in report["crashes_and_hangs"]:
        print(f"  {bad['outcome']}: {bad['file']:04d} {bad['label']}: {bad.get('error', '')}")
    if "ingest" in report:
        ingest = report["ingest"]
        print(
            f"ingest: {ingest['files']} files, {ingest['documents_stored']} documents stored, "
            f"{ingest['refused']} refused, {ingest['crashes']} crashes; {ingest['searches']} "
            f"searches, {ingest['search_crashes']} crashes"
        )
        for error in ingest["errors"][:20]:
            print(f"  {error}")


if __name__ == "__main__":
    sys.exit(main())
