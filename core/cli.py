"""Command line: ingest, search, collections, delete, the built-in collections (and, from
``core.cli_tools``, export, compare-word and search-sense). Measurement has its own:
``python -m measure``.

Errors go to stderr with a non-zero exit status and a message a person can act on.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from core import cli_tools, config
from core.errors import InputError, LabError

log = logging.getLogger("core")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = argparse.ArgumentParser(prog="python -m core", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser("ingest", help="add files or folders to a collection")
    ingest.add_argument("paths", nargs="+", help="txt, md, csv, jsonl or pdf files, or folders")
    ingest.add_argument("--collection", required=True)
    ingest.add_argument("--text-fields", default="text", help="csv/jsonl fields, e.g. title,text")
    ingest.add_argument("--id-field", default="id", help="csv/jsonl field holding the id")
    ingest.add_argument("--json", action="store_true", help="print the report as JSON")
    ingest.add_argument(
        "--engine",
        choices=["single", "ray"],
        default="single",
        help="single: this process (default); ray: read, chunk and encode on Ray (the cluster "
        "at RAY_ADDRESS, else Ray started on this machine for this ingest)",
    )
    ingest.add_argument(
        "--store",
        choices=["embedded", "milvus"],
        help="where a new collection lives: embedded (SQLite + FAISS, the default) or milvus "
        "(the server EMBEDLAB_MILVUS_URI names); an existing one stays where it is",
    )

    search = sub.add_parser("search", help="search a collection by meaning")
    search.add_argument("query", nargs="?", help="the question (or use --queries)")
    search.add_argument("--collection", required=True)
    search.add_argument("--queries", type=Path, help='JSONL file of {"_id"|"id", "text"} lines')
    search.add_argument("-k", type=int, default=10, help="results per query (default 10)")
    search.add_argument("--where", help="metadata filter FIELD=VALUE")
    search.add_argument(
        "--mode", choices=["hybrid", "dense", "keyword"], default="hybrid", help="ranking"
    )
    search.add_argument(
        "--weight",
        type=float,
        default=None,
        help="hybrid mode: weight of meaning (cosine) against keywords (BM25), from 0 to 1 "
        "(default: the one measured best on SciFact train)",
    )
    search.add_argument("--json", action="store_true", help="print JSON")

    listing = sub.add_parser("collections", help="list collections")
    listing.add_argument("--json", action="store_true")

    delete = sub.add_parser("delete", help="delete a collection")
    delete.add_argument("name")
    delete.add_argument("--documents", nargs="+", help="delete only these document ids")

    sub.add_parser("demo", help="build (or update) the demo collection from data/demo")
    sub.add_parser("stdlib", help="build the Python standard library docstrings collection")

    cli_tools.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return COMMANDS[args.command](args)
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; documents already reported stored are kept", file=sys.stderr)
        return 130


def _embedder(collection: str | None = None):
    """The model; for an existing ``collection``, with the encoder that built it (queries,
    additions and deletions use it), else the one for new collections (EMBEDLAB_ENCODER)."""
    from core.model.embedder import Embedder
    from core.storage.collection import built_encoder

    return Embedder(encoder=built_encoder(collection) if collection else None)


def _progress(label: str) -> Callable[[int, int], None]:
    """A documents/s bar. It starts at the first call (``progress(0, total)``, made as the
    embedding starts), so its rate counts embedded documents, not reading or model loading."""
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=label, unit="doc", file=sys.stderr, smoothing=0)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


def cmd_ingest(args: argparse.Namespace) -> int:
    """``ingest PATH... --collection NAME [--engine ray]``."""
    from core.documents.readers import load_paths
    from core.ingest.pipeline import ingest_documents
    from core.storage.collection import validate_name

    validate_name(args.collection)
    if args.engine != "ray":
        return _ingest(args, load_paths, ingest_documents)
    from core.ingest.ray_engine import RaySession

    with RaySession() as engine:
        return _ingest(args, engine.load_paths, engine.ingest_documents)


def _ingest(args: argparse.Namespace, load: Callable, ingest: Callable) -> int:
    """Read with ``load``, store with ``ingest`` (one engine's pair), print the report."""
    from core.documents.readers import FieldSpec
    from core.storage.collection import Collection

    loaded = load(args.paths, FieldSpec.parse(args.text_fields, args.id_field))
    for problem in loaded.problems:
        print(f"skipped {problem.source}: {problem.reason}", file=sys.stderr)
    if not loaded.documents:
        raise InputError("Nothing to ingest: no readable documents in the given paths.")
    embedder = _embedder(args.collection)
    collection = Collection(args.collection, embedder.info, create=True, store=args.store)
    progress = _report_commits(_progress("embedding"))
    report = ingest(collection, embedder, loaded.documents, progress)
    report.problems[:0] = loaded.problems
    if args.json:
        print(json.dumps(_report_json(args.collection, report)))
    else:
        print(f"{args.collection}: {report.summary()}")
    return 1 if report.problems and not report.added and not report.already_present else 0


def _report_commits(update: Callable[[int, int], None]) -> Callable[[int, int], None]:
    """With ``EMBEDLAB_REPORT_COMMITS=1``, also print ``committed N`` after each committed batch.

    ``python -m measure.crash`` reads these lines: N documents are durably stored.
    """
    if not config.report_commits():
        return update

    def report(done: int, total: int) -> None:
        update(done, total)
        if done:  # the first call, 0, only starts the bar
            print(f"committed {done}", flush=True)

    return report


def _report_json(name: str, report: Any) -> dict[str, Any]:
    return {
        "collection": name,
        "added": report.added,
        "chunks": report.chunks,
        "already_present": report.already_present,
        "duplicates": report.duplicates,
        "renamed": [{"id": old, "stored_as": new} for old, new in report.renamed],
        "problems": [{"source": p.source, "reason": p.reason} for p in report.problems],
        "seconds": round(report.seconds, 3),
    }


def cmd_search(args: argparse.Namespace) -> int:
    """``search "QUERY" --collection NAME`` or ``search --queries FILE.jsonl``."""
    from core.search.hits import check_k
    from core.search.query import search
    from core.storage.collection import Collection

    if (args.query is None) == (args.queries is None):
        raise InputError('Give either a query ("...") or --queries FILE.jsonl, not both.')
    from core.storage.collection import validate_name

    validate_name(args.collection)
    check_k(args.k)
    from core.search.fusion import DEFAULT_WEIGHT
    from core.search.query import check_weight

    args.weight = check_weight(DEFAULT_WEIGHT if args.weight is None else args.weight)
    where = _parse_where(args.where)
    embedder = _embedder(args.collection)
    collection = Collection(args.collection, embedder.info)
    if args.queries:
        return _search_file(collection, embedder, args, where, sys.stdout)
    result = search(collection, embedder, args.query, args.k, where, args.mode, args.weight)
    if args.json:
        hits = [_hit_json(h) for h in result.hits]
        out = {
            "query": args.query,
            "mode": result.mode,
            "weight": args.weight if result.mode == "hybrid" else None,
            "latency_ms": round(result.latency_ms, 2),
            "hits": hits,
        }
        print(json.dumps(out, ensure_ascii=False))
    else:
        for hit in result.hits:
            snippet = " ".join(hit.text.split())[:160]
            print(f"{hit.rank:>3}  {hit.score:.4f}  {hit.doc_id}  {snippet}")
        print(f"{len(result.hits)} hits in {result.latency_ms:.1f} ms", file=sys.stderr)
    return 0


def _search_file(
    collection: Any, embedder: Any, args: argparse.Namespace, where: Any, out: TextIO
) -> int:
    from core.search.query import search_many

    queries = list(read_queries(args.queries))
    texts = [text for _, text in queries]
    vectors = embedder.encode(texts, _progress("queries"))
    for start in range(0, len(queries), 256):
        part = slice(start, start + 256)
        results = search_many(
            collection, texts[part], vectors[part], args.k, where, args.mode, args.weight
        )
        for (query_id, _), hits in zip(queries[part], results, strict=True):
            line = {"query_id": query_id, "hits": [_hit_json(h, full=False) for h in hits]}
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    return 0


def read_queries(path: Path) -> Iterator[tuple[str, str]]:
    """Yield (id, text) from a JSONL file of ``{"_id" or "id": ..., "text": ...}`` lines.

    Raises:
        InputError: for a missing file, a bad line or a line without id or text.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read queries file {path}: {exc}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path} line {number} is not valid JSON: {exc}") from None
        query_id = record.get("_id", record.get("id")) if isinstance(record, dict) else None
        text = record.get("text") if isinstance(record, dict) else None
        if query_id is None or not isinstance(text, str) or not text.strip():
            raise InputError(f'{path} line {number} needs "_id" (or "id") and a non-empty "text".')
        yield str(query_id), text


def _hit_json(hit: Any, full: bool = True) -> dict[str, Any]:
    out = {"doc_id": hit.doc_id, "score": round(float(hit.score), 6), "text": hit.text}
    if full:
        out.update(rank=hit.rank, title=hit.title, source=hit.source, metadata=hit.metadata)
        out.update(score_name=hit.score_name, found_by=list(hit.found_by))
        out.update(dense_score=hit.dense_score, dense_rank=hit.dense_rank)
        out.update(keyword_score=hit.keyword_score, keyword_rank=hit.keyword_rank)
        if hit.formula:
            out.update(formula=hit.formula)
    return out


def _parse_where(raw: str | None) -> tuple[str, str] | None:
    if not raw:
        return None
    field, sep, value = raw.partition("=")
    if not sep or not field.strip():
        raise InputError("--where takes FIELD=VALUE, e.g. --where topic=astronomy")
    return field.strip(), value.strip()


def cmd_collections(args: argparse.Namespace) -> int:
    """``collections [--json]``."""
    from core.storage.collection import list_collections

    infos = list_collections()
    if args.json:
        print(json.dumps([i.as_dict() for i in infos], indent=2))
        return 0
    if not infos:
        print(f"No collections in {config.data_dir()}.")
    for info in infos:
        print(
            f"{info.name:<24} {info.documents:>8} docs {info.chunks:>8} chunks  "
            f"{info.model} ({info.encoder})  {info.size_bytes / 1e6:.1f} MB"
            + ("  in Milvus" if info.store == "milvus" else "")
        )
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    """``delete NAME`` (or ``delete NAME --documents ID...``)."""
    from core.storage.collection import delete_collection

    if not args.documents:
        delete_collection(args.name)
        print(f"deleted collection {args.name}")
        return 0
    from core.storage.collection import Collection

    collection = Collection(args.name, _embedder(args.name).info)
    deleted = collection.remove_documents(args.documents)
    asked = len(set(args.documents))
    missing = f"; {asked - deleted.documents} not found" if deleted.documents < asked else ""
    print(
        f"deleted {deleted.documents} documents ({deleted.chunks} chunks) from {args.name}{missing}"
    )
    return 0


def cmd_builtin(args: argparse.Namespace) -> int:
    """``demo`` and ``stdlib``: build a built-in collection if it is not current."""
    from core.ingest import builtin

    build = builtin.ensure_demo if args.command == "demo" else builtin.build_stdlib
    name = config.DEMO_COLLECTION if args.command == "demo" else config.STDLIB_COLLECTION
    report = build(_embedder(name), _progress(name))
    print(f"{name}: {report.summary()}" if report else f"{name}: already up to date")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "ingest": cmd_ingest,
    "search": cmd_search,
    "collections": cmd_collections,
    "delete": cmd_delete,
    "demo": cmd_builtin,
    "stdlib": cmd_builtin,
    **cli_tools.COMMANDS,
}
