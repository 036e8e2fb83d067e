"""Measurement: benchmarks, evaluation, crash trials, fuzzing, load test and screenshots.

``python -m measure bench|eval|wic-fit|crash|fuzz|load|screenshots`` (``measure.cli``):

- ``suite``, ``bench``, ``encoders``, ``scale``, ``projections``: speed and quality, always as
  ratios against a baseline measured in the same run;
- ``evaluation``: SciFact, STS-B and WiC loaders, metrics and plain baselines;
- ``crash``, ``fuzz``: kill -9 during ingest; malformed files of every format;
- ``load``, ``timeline``: many Chromium sessions at once, and what the slowest searches had
  beside them;
- ``browser``: the Streamlit + Chromium harness the browser tests share; ``screenshots``:
  the README's pictures.

The top layer: it may import ``core`` (and drives the app through a browser), and nothing
imports it but the tests. The product never depends on it.
"""
