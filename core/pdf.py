"""PDF text extraction with pypdf, refusing files that give no usable text."""

from __future__ import annotations

import io
import logging
from typing import Any

from core.config import LIMITS
from core.errors import InputError

log = logging.getLogger(__name__)


def read_pdf(data: bytes) -> tuple[str, dict[str, Any]]:
    """Return the text of a PDF (pages joined by blank lines) and metadata.

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
    return text, {"pages": count}
