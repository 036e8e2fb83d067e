"""Files -> documents -> chunks: reading what people upload and cutting it to the model's window.

- ``readers``: :class:`Document`, :class:`FieldSpec`; txt, md, csv, jsonl and pdf from files,
  folders or pasted text (``read_bytes``, ``load_paths``), limits enforced, clear refusals;
- ``pdf``: text from PDFs in a separate process with time and memory limits;
- ``chunking``: overlapping chunks that fit the model, so nothing is silently truncated.

May import only the foundation (``core.config``, ``core.errors``, ``core.atomic``); a sibling
of ``core.model``, which it does not import (chunking takes a tokenizer as an argument).
"""
