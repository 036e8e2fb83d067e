"""Documents -> chunks -> vectors -> a collection, in committed, resumable batches.

- ``pipeline``: ``ingest_documents`` (skip what is stored, commit per batch, report counts);
- ``builtin``: the two built-in collections, the demo (``data/demo``) and the standard library;
- ``stdlib_docs``: a realistic corpus from the docstrings of the installed Python.

May import the foundation, ``core.model``, ``core.documents`` and ``core.storage``; a sibling
of ``core.search``, which it never imports.
"""
