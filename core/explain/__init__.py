"""Inside the model: the teaching views of the Words, Context, How it works and Explore pages.

- ``attention``, ``word_vectors``: hidden states, attention and sub-layer updates; a word's
  vector by character span;
- ``context``, ``word_sense``: one word followed through the layers in several sentences; a
  same-sense verdict calibrated on WiC;
- ``contributions``: a search score split exactly into per-token shares;
- ``walkthrough``, ``vocab``, ``causal``: one sentence step by step; word pieces and input
  vectors; an optional next-token model;
- ``projection``, ``explore``: PCA/UMAP/t-SNE maps cached on disk; a query placed on a map.

Returns plain data (frozen dataclasses, numpy arrays, DataFrames); drawing is ``ui``'s job.
May import everything in ``core`` below it (foundation, model, documents, storage, ingest,
search); nothing in ``core`` imports it except the command line.
"""
