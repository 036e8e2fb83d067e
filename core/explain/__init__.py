"""Inside the models: the teaching views of Words, Context, How it works, Next token, Explore.

- ``attention``, ``word_vectors``: hidden states, attention and sub-layer updates; a word's
  vector by character span;
- ``context``, ``word_sense``: one word followed through the layers in several sentences; a
  same-sense verdict calibrated on WiC;
- ``contributions``: a search score split exactly into per-token shares;
- ``walkthrough``, ``vocab``: one sentence step by step; word pieces and input vectors;
- ``causal``, ``causal_walk``, ``generation``, ``training``, ``causal_context``: the causal
  model (GPT): the next-token distribution and logit lens; a text step by step and beside the
  encoder; writing token by token; a bounded training demo on a private copy; a word followed
  through it;
- ``projection``, ``explore``: PCA/UMAP/t-SNE maps cached on disk; a query placed on a map.

Returns plain data (frozen dataclasses, numpy arrays, DataFrames); drawing is ``ui``'s job.
May import everything in ``core`` below it (foundation, model, documents, storage, ingest,
search); nothing in ``core`` imports it except the command line.
"""
