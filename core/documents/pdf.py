"""PDF text extraction with pypdf, refusing files that give no usable text.

A PDF is read in a separate process under a memory limit (``RLIMIT_AS``) and a time limit:
a small crafted file (a compressed stream that inflates to tens of MB, repeated on many
pages) can otherwise hold the server for minutes and take a gigabyte of memory.
"""

from __future__ import annotations

import io
import json
import logging
import resource
import subprocess
import sys
from typing import Any

from core.config import LIMITS, PROJECT_ROOT
from core.errors import InputError

log = logging.getLogger(__name__)

SECONDS = 60.0  # wall-clock limit for reading one PDF
MEMORY_BYTES = 1 << 30  # address-space limit of the reading process


def read_pdf(
    data: bytes, seconds: float | None = None, memory: int | None = None
) -> tuple[str, dict[str, Any]]:
    """Return the text of a PDF (pages joined by blank lines) and metadata.

    The PDF is parsed by ``python -m core.documents.pdf`` in a child process limited to ``memory``
    bytes of address space and ``seconds`` of time (defaults: :data:`MEMORY_BYTES`,
    :data:`SECONDS`).

    Raises:
        InputError: for a corrupt, encrypted, oversized, text-less or too costly PDF.
    """
    seconds, memory = seconds or SECONDS, memory or MEMORY_BYTES
    limits = f"{memory >> 20} MB of memory and {seconds:.0f} s"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "core.documents.pdf", str(seconds), str(memory)],
            input=data,
            capture_output=True,
            timeout=seconds,
            cwd=PROJECT_ROOT,
        )
    except subprocess.TimeoutExpired:
        raise InputError(
            f"The PDF took more than {seconds:.0f} s to read and was stopped; it may be "
            "malformed or built to exhaust the reader (a decompression bomb)."
        ) from None
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        log.warning("PDF reader exited with %s: %s", done.returncode, done.stderr[-500:])
        raise InputError(
            f"The PDF could not be read within {limits} (the reader stopped); it may be "
            "malformed or built to exhaust the reader (a decompression bomb)."
        ) from None
    if "error" in answer:
        raise InputError(answer["error"])
    return answer["text"], answer["meta"]


def _child_main(argv: list[str]) -> int:
    """Entry point of the reading process: PDF bytes on stdin, one JSON object on stdout."""
    seconds, memory = float(argv[0]), int(argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (int(seconds) + 1, int(seconds) + 1))
    data = sys.stdin.buffer.read()
    try:
        text, meta = extract_pdf(data)
        answer: dict[str, Any] = {"text": text, "meta": meta}
    except InputError as exc:
        answer = {"error": str(exc)}
    except MemoryError:
        answer = {
            "error": f"Reading the PDF needs more than {memory >> 20} MB of memory; it may be "
            "malformed or built to exhaust the reader (a decompression bomb)."
        }
    sys.stdout.write(json.dumps(answer))
    return 0


def extract_pdf(data: bytes) -> tuple[str, dict[str, Any]]:
    """Read a PDF in this process, without limits (:func:`read_pdf` is the safe entry point).

    Raises:
        InputError: for a corrupt, encrypted, oversized or text-less PDF.
    """
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise InputError("The PDF is encrypted with a password; save an unlocked copy.")
        count = len(reader.pages)
        if count > LIMITS.max_pdf_pages:
            raise InputError(f"The PDF has {count} pages; the limit is {LIMITS.max_pdf_pages}.")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
    except InputError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError) as exc:
        raise InputError(f"The PDF could not be read ({type(exc).__name__}: {exc}).") from None
    text = "\n\n".join(p for p in pages if p)
    if not text.strip():
        raise InputError(
            "The PDF has no extractable text (it may be scanned images); run OCR on it first."
        )
    if len(text) > LIMITS.max_document_chars:
        raise InputError(
            f"The PDF has {len(text):,} characters of text; the limit is "
            f"{LIMITS.max_document_chars:,} per document. Split it into smaller files."
        )
    return text, {"pages": count}


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
