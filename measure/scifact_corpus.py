"""Build SciFact collections for trying the lab at size (``python -m measure.scifact_corpus``).

Reads the shared SciFact corpus (``EMBEDLAB_EVAL_DIR``/scifact/corpus.jsonl, never copied into
the project) and ingests it with the default encoder (int8) into the data dir:

- ``--shape abstracts``: one document per abstract (title + text), 5,183 documents;
- ``--shape sentences``: one document per sentence of the abstracts, in corpus order, until
  ``--limit`` documents (each keeps its abstract's title, and ``abstract`` = its id in
  metadata); the ten-thousand-document collection the Explore and Search pages are tried on.

Prints how many documents went in and how long the ingest took.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Sequence

from core import config
from core.documents.readers import Document
from core.documents.sentences import sentence_spans
from core.ingest.pipeline import ingest_documents
from core.model.embedder import Embedder
from core.storage.collection import Collection


def read_abstracts() -> Iterator[dict]:
    """The SciFact abstracts (``_id``, ``title``, ``text``) in corpus order."""
    with open(config.eval_dir() / "scifact" / "corpus.jsonl", encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def abstract_documents() -> list[Document]:
    """One document per abstract: the title, a space, the text (as the evaluation embeds it)."""
    return [
        Document(f"{row['_id']}", f"{row['title']} {row['text']}", "scifact", row["title"])
        for row in read_abstracts()
    ]


def sentence_documents(limit: int) -> list[Document]:
    """One document per sentence of the abstracts, the first ``limit`` of them."""
    documents: list[Document] = []
    for row in read_abstracts():
        text = row["text"]
        for n, (start, end) in enumerate(sentence_spans(text)):
            sentence = text[start:end].strip()
            if len(sentence) >= 20:
                meta = {"abstract": row["_id"]}
                documents.append(
                    Document(f"{row['_id']}.{n}", sentence, "scifact", row["title"], meta)
                )
            if len(documents) >= limit:
                return documents
    return documents


def main(argv: Sequence[str] | None = None) -> int:
    """Build the collection; print its size and the ingest time."""
    parser = argparse.ArgumentParser(prog="python -m measure.scifact_corpus", description=__doc__)
    parser.add_argument("--shape", choices=["abstracts", "sentences"], default="sentences")
    parser.add_argument("--collection", default=None, help="default: scifact or scifact-sentences")
    parser.add_argument("--limit", type=int, default=10_500, help="sentences: documents at most")
    args = parser.parse_args(argv)
    name = args.collection or ("scifact" if args.shape == "abstracts" else "scifact-sentences")
    docs = abstract_documents() if args.shape == "abstracts" else sentence_documents(args.limit)
    embedder = Embedder()
    collection = Collection(name, embedder.info, create=True)
    started = time.perf_counter()
    report = ingest_documents(collection, embedder, docs)
    seconds = time.perf_counter() - started
    print(f"{name}: {len(docs):,} documents read; {report.summary()}; {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
