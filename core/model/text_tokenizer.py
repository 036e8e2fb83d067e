"""Texts -> word-piece ids and character offsets with the ``tokenizers`` library alone.

The int8 encoder needs only a model folder's ``tokenizer.json``: loading it through
``transformers`` (``AutoTokenizer``) imports torch, which takes seconds and dominated a small
ingest. :class:`TextTokenizer` answers the calls the ingest, search and "why it matched"
paths make of a Hugging Face fast tokenizer (``tokenizer(texts, ...)`` for ids and offsets,
``convert_ids_to_tokens``) with the same Rust tokenizer the fast tokenizer wraps, so the ids
are the same; the export checks that on sample texts before it lets a folder use it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

TOKENIZER_FILE = "tokenizer.json"


class TextTokenizer:
    """A ``tokenizers.Tokenizer`` behind the slice of the fast-tokenizer interface the lab uses.

    The file's own truncation and padding (all-MiniLM-L6-v2 ships 128, padded) are switched
    off: each call states its own, as a fast tokenizer's call does. Settings and encoding
    happen under one lock, so threads sharing the tokenizer never see each other's settings.
    """

    def __init__(self, path: Path) -> None:
        """Load ``path`` (a ``tokenizer.json``)."""
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(path))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self._lock = threading.Lock()

    def __call__(
        self,
        texts: str | Sequence[str],
        add_special_tokens: bool = True,
        truncation: bool = False,
        max_length: int | None = None,
        return_offsets_mapping: bool = False,
        **_ignored: Any,
    ) -> dict[str, Any]:
        """Tokenize one text or a list -> ``{"input_ids": ..., ["offset_mapping": ...]}``.

        One text gives flat lists, a list gives one list per text, as a fast tokenizer does.
        """
        single = isinstance(texts, str)
        batch = [texts] if single else list(texts)
        with self._lock:
            if truncation and max_length:
                self._tokenizer.enable_truncation(max_length, strategy="longest_first")
            else:
                self._tokenizer.no_truncation()
            encodings = self._tokenizer.encode_batch(batch, add_special_tokens=add_special_tokens)
        out: dict[str, Any] = {"input_ids": [e.ids for e in encodings]}
        if return_offsets_mapping:
            out["offset_mapping"] = [e.offsets for e in encodings]
        return {key: value[0] for key, value in out.items()} if single else out

    def convert_ids_to_tokens(self, ids: Sequence[int]) -> list[str]:
        """The word piece of each id."""
        return [self._tokenizer.id_to_token(int(i)) for i in ids]
