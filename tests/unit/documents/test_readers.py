"""Files -> documents: every supported format, and every kind of bad input refused clearly."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest

import core.documents.readers as documents
from core.config import Limits
from core.documents.readers import Document, FieldSpec, from_text, load_paths, read_bytes
from core.errors import InputError

HELLO_STREAM = b"BT /F1 12 Tf 72 712 Td (Hello embedding lab) Tj ET"


def write(folder: Path, name: str, data: str | bytes) -> Path:
    """Write ``data`` to ``folder/name`` (creating parents) and return the path."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def load_one(path: Path, fields: FieldSpec | None = None) -> list[Document]:
    """Load one file and insist it was accepted."""
    result = load_paths([path], fields)
    assert result.problems == []
    return result.documents


def refusal(path: Path, fields: FieldSpec | None = None) -> str:
    """Load one file and insist it was refused; return the reason given."""
    result = load_paths([path], fields)
    assert result.documents == []
    assert len(result.problems) == 1
    assert result.problems[0].source == str(path)
    return result.problems[0].reason


def minimal_pdf(stream: bytes) -> bytes:
    """A one-page PDF with Helvetica as /F1 and ``stream`` as its content, xref by offsets."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    out += b"0000000000 65535 f \n"
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def blank_pdf() -> bytes:
    """A valid PDF whose only page has no text."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


# --- formats ------------------------------------------------------------------------------


def test_txt_is_one_document_named_by_file(tmp_path: Path) -> None:
    path = write(tmp_path, "notes.txt", "\ufeffFirst line\r\nsecond line\r\n\n")
    [doc] = load_one(path)
    assert doc.doc_id == "notes.txt"
    assert doc.title == "notes.txt"
    assert doc.source == str(path)
    assert doc.text == "First line\nsecond line"  # BOM dropped, CRLF normalised, stripped
    assert doc.metadata == {}


def test_markdown_keeps_its_text(tmp_path: Path) -> None:
    path = write(tmp_path, "README.md", "# Title\n\nSome *markdown* text.\n")
    [doc] = load_one(path)
    assert doc.doc_id == "README.md"
    assert doc.text == "# Title\n\nSome *markdown* text."


def test_csv_text_id_and_metadata(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "rows.csv",
        'id,title,text,topic\n7,First,"Hello, world",science\n8,Second,"Two\nlines",art\n',
    )
    first, second = load_one(path)
    assert (first.doc_id, first.text, first.title) == ("7", "Hello, world", "First")
    assert first.metadata == {"topic": "science"}  # the title is the title, not metadata
    assert second.text == "Two\nlines"
    assert second.metadata["topic"] == "art"


def test_csv_several_text_fields_are_joined(tmp_path: Path) -> None:
    path = write(tmp_path, "rows.csv", "key,title,body,topic\na,Moon,Orbits the earth,space\n")
    [doc] = load_one(path, FieldSpec.parse("title, body", "key"))
    assert doc.doc_id == "a"
    assert doc.text == "Moon Orbits the earth"
    assert doc.title == ""  # the title is part of the text, not repeated
    assert doc.metadata == {"topic": "space"}


def test_csv_without_ids_gets_stable_generated_ids(tmp_path: Path) -> None:
    path = write(tmp_path, "facts.csv", "text\nalpha beta\ngamma delta\n")
    first = [d.doc_id for d in load_one(path)]
    again = [d.doc_id for d in load_one(path)]
    assert first == again
    assert len(set(first)) == 2
    assert all(i.startswith("facts-") for i in first)


def test_csv_rows_without_text_are_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, "rows.csv", "id,text\n1,\n2,  \n3,kept\n")
    assert [d.doc_id for d in load_one(path)] == ["3"]


def test_jsonl_joins_text_fields_and_keeps_metadata(tmp_path: Path) -> None:
    lines = [
        {"id": 1, "title": "Moon", "text": "It orbits.", "year": 1969, "tags": ["a", "b"]},
        {},  # placeholder replaced by a blank line below
        {"id": "two", "title": "Mars", "text": "It is red.", "landed": True},
    ]
    raw = "\n".join(json.dumps(line) if line else "   " for line in lines) + "\n"
    path = write(tmp_path, "planets.jsonl", raw)
    first, second = load_one(path, FieldSpec.parse("title,text", None))
    assert (first.doc_id, first.text) == ("1", "Moon It orbits.")
    assert first.metadata == {"year": 1969, "tags": ["a", "b"]}
    assert (second.doc_id, second.text) == ("two", "Mars It is red.")
    assert second.metadata == {"landed": True}


def test_ndjson_non_string_text_is_rendered_as_json(tmp_path: Path) -> None:
    path = write(tmp_path, "x.ndjson", json.dumps({"id": "a", "text": ["one", 2]}) + "\n")
    [doc] = load_one(path)
    assert doc.text == '["one", 2]'


def test_csv_field_longer_than_csv_default_limit_is_read(tmp_path: Path) -> None:
    long_text = "word " * 40_000  # 200,000 characters: over csv's 131,072 default, under ours
    path = write(tmp_path, "long.csv", f"id,text\n1,{long_text}\n2,short\n")
    first, second = load_one(path)
    assert first.text == long_text.strip()
    assert second.text == "short"


def test_jsonl_line_separators_inside_strings_are_kept(tmp_path: Path) -> None:
    records = [{"id": "a", "text": "one\u2028two\x85three\x1cfour"}, {"id": "b", "text": "x"}]
    raw = "\r\n".join(json.dumps(r, ensure_ascii=False) for r in records)
    first, second = load_one(write(tmp_path, "sep.jsonl", raw))
    assert first.text == records[0]["text"]
    assert second.doc_id == "b"


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_jsonl_nan_and_infinity_are_refused(tmp_path: Path, constant: str) -> None:
    raw = f'{{"text": "ok"}}\n{{"text": "x", "score": {constant}}}\n'
    reason = refusal(write(tmp_path, "nan.jsonl", raw))
    assert "Line 2 is not valid JSON" in reason
    assert constant.lstrip("-") in reason


def test_pdf_with_text_is_read(tmp_path: Path) -> None:
    from pypdf import PdfReader

    data = minimal_pdf(HELLO_STREAM)
    # The hand-made file is well formed: a strict reader accepts its xref and finds the words.
    strict = PdfReader(io.BytesIO(data), strict=True)
    assert "Hello embedding lab" in strict.pages[0].extract_text()

    [doc] = load_one(write(tmp_path, "hello.pdf", data))
    assert doc.doc_id == "hello.pdf"
    assert "Hello embedding lab" in doc.text
    assert doc.metadata == {"pages": 1}


# --- bad inputs ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["empty.txt", "empty.csv", "empty.jsonl", "empty.pdf"])
def test_empty_file_is_refused(tmp_path: Path, name: str) -> None:
    assert "empty" in refusal(write(tmp_path, name, b" \n\t\n"))


def test_binary_junk_renamed_txt_is_refused(tmp_path: Path) -> None:
    junk = bytes(random.Random(1).randrange(256) for _ in range(4000)) + b"\x00\x00"
    assert "binary" in refusal(write(tmp_path, "photo.txt", b"\x89PNG\r\n\x1a\n\x00" + junk))


def test_many_control_characters_are_refused(tmp_path: Path) -> None:
    assert "binary" in refusal(write(tmp_path, "ctl.txt", "\x01\x02\x03\x04 ab" * 50))


def test_non_utf8_bytes_are_refused(tmp_path: Path) -> None:
    reason = refusal(write(tmp_path, "latin1.txt", "café au lait".encode("latin-1")))
    assert "UTF-8" in reason
    assert "position 3" in reason


def test_csv_with_unclosed_quote_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.csv", 'id,text\n1,"never closed\n2,fine\n')
    reason = refusal(path)
    assert "Broken CSV" in reason
    assert "quote" in reason


def test_csv_with_text_after_closing_quote_is_refused(tmp_path: Path) -> None:
    assert "Broken CSV" in refusal(write(tmp_path, "broken.csv", 'id,text\n1,"a"b\n'))


def test_jsonl_line_that_is_not_json_names_the_line(tmp_path: Path) -> None:
    raw = '{"text": "one"}\n\n{"text": "two"\n{"text": "four"}\n'
    reason = refusal(write(tmp_path, "bad.jsonl", raw))
    assert "Line 3 is not valid JSON" in reason


def test_jsonl_line_that_is_a_list_is_refused(tmp_path: Path) -> None:
    reason = refusal(write(tmp_path, "bad.jsonl", '{"text": "one"}\n["text", "two"]\n'))
    assert "Line 2" in reason
    assert "not an object" in reason


def test_jsonl_of_only_blank_lines_has_no_records(tmp_path: Path) -> None:
    assert "empty" in refusal(write(tmp_path, "blank.jsonl", "\n \n"))
    bom_only = write(tmp_path, "bom.jsonl", "\ufeff\n\n")  # not empty bytes, but no records
    assert "no JSON records" in refusal(bom_only)


def test_missing_text_field_lists_available_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "rows.jsonl", '{"id": 1, "body": "x", "topic": "y"}\n')
    reason = refusal(path)
    assert "'text'" in reason
    assert "body, id, topic" in reason
    csv_reason = refusal(write(tmp_path, "rows.csv", "id,body\n1,hello\n"))
    assert "'text'" in csv_reason
    assert "id, body" in csv_reason


def test_field_spec_needs_a_text_field() -> None:
    assert FieldSpec.parse(None, None) == FieldSpec(("text",), "id")
    assert FieldSpec.parse(["a", "b"], " key ") == FieldSpec(("a", "b"), "key")
    with pytest.raises(InputError):
        FieldSpec.parse(" , ", None)


def test_records_without_any_text_are_refused(tmp_path: Path) -> None:
    assert "no record with text" in refusal(write(tmp_path, "rows.csv", "id,text\n1,\n2, \n"))


def test_pdf_without_text_is_refused(tmp_path: Path) -> None:
    assert "no extractable text" in refusal(write(tmp_path, "scan.pdf", blank_pdf()))


def test_corrupt_pdf_is_refused(tmp_path: Path) -> None:
    junk = bytes(random.Random(7).randrange(256) for _ in range(3000))
    reason = refusal(write(tmp_path, "bad.pdf", b"%PDF-1.7\n" + junk))
    assert "could not be read" in reason


def encrypted_pdf(user_password: str) -> bytes:
    """The hello PDF encrypted (RC4, no extra packages) with ``user_password``."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(minimal_pdf(HELLO_STREAM))))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_password_protected_pdf_is_refused(tmp_path: Path) -> None:
    assert "password" in refusal(write(tmp_path, "locked.pdf", encrypted_pdf("secret")))


def test_pdf_encrypted_with_empty_password_is_read(tmp_path: Path) -> None:
    [doc] = load_one(write(tmp_path, "open.pdf", encrypted_pdf("")))
    assert "Hello embedding lab" in doc.text


def test_pdf_with_bad_xref_offsets_still_reads_or_is_refused_cleanly(tmp_path: Path) -> None:
    data = minimal_pdf(HELLO_STREAM).replace(b"0000000009 00000 n", b"0000000000 00000 n")
    result = load_paths([write(tmp_path, "shifted.pdf", data)])
    assert len(result.documents) + len(result.problems) == 1


def test_file_over_the_size_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(documents, "LIMITS", Limits(max_file_bytes=100))
    small = write(tmp_path, "small.txt", "x" * 100)
    big = write(tmp_path, "big.txt", "x" * 101)
    result = load_paths([small, big])
    assert [d.doc_id for d in result.documents] == ["small.txt"]
    assert [p.source for p in result.problems] == [str(big)]
    assert "limit" in result.problems[0].reason


def test_document_over_the_character_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(documents, "LIMITS", Limits(max_document_chars=10))
    assert "limit" in refusal(write(tmp_path, "long.txt", "a" * 11))
    with pytest.raises(InputError, match="limit"):
        from_text("b" * 11)
    assert from_text("c" * 10).text == "c" * 10


def test_too_many_records_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "LIMITS", Limits(max_documents_per_ingest=2))
    path = write(tmp_path, "rows.csv", "text\na\nb\nc\n")
    assert "limit" in refusal(path)


def test_unsupported_extension_is_refused(tmp_path: Path) -> None:
    reason = refusal(write(tmp_path, "report.docx", b"PK\x03\x04"))
    assert "not a supported type" in reason
    assert ".pdf" in reason
    with pytest.raises(InputError, match="not a supported type"):
        read_bytes(b"hello", "x.exe", "x.exe", FieldSpec())


def test_missing_path_is_reported(tmp_path: Path) -> None:
    result = load_paths([tmp_path / "nowhere.txt"])
    assert result.documents == []
    assert result.problems[0].reason == "No such file or folder."


def test_one_bad_file_does_not_stop_the_others(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "good")
    write(tmp_path, "b.txt", b"\xff\xfe\x00bad")
    write(tmp_path, "c.md", "also good")
    result = load_paths([tmp_path])
    assert [d.doc_id for d in result.documents] == ["a.txt", "c.md"]
    assert [Path(p.source).name for p in result.problems] == ["b.txt"]


# --- folders, ids, pasted text ------------------------------------------------------------


def test_folder_walk_skips_hidden_and_names_relative(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    write(root, "top.txt", "top")
    write(root, "sub/deeper/leaf.md", "leaf")
    write(root, "sub/Upper.TXT", "upper-case suffix")
    write(root, ".hidden.txt", "secret")
    write(root, ".git/config.txt", "git internals")
    write(root, "sub/.cache/x.txt", "cached")
    write(root, "sub/image.png", b"\x89PNG")
    result = load_paths([root])
    assert result.problems == []  # unsupported files inside a folder are simply not ours
    assert [d.doc_id for d in result.documents] == [
        "sub/Upper.TXT",
        "sub/deeper/leaf.md",
        "top.txt",
    ]
    assert {d.text for d in result.documents} == {"top", "leaf", "upper-case suffix"}


def test_folder_ids_do_not_depend_on_where_the_folder_is(tmp_path: Path) -> None:
    for place in ("one", "two/three"):
        write(tmp_path / place / "docs", "a/b.txt", "same")
    ids = [load_paths([tmp_path / p / "docs"]).documents[0].doc_id for p in ("one", "two/three")]
    assert ids == ["a/b.txt", "a/b.txt"]


def test_generated_ids_are_stable_and_content_based() -> None:
    a = from_text("The quick brown fox.", name="note")
    b = from_text("The quick brown fox.", name="note")
    c = from_text("A different text.", name="note")
    assert a.doc_id == b.doc_id
    assert a.doc_id != c.doc_id
    assert a.doc_id.startswith("note-")
    assert documents.generated_id("p", "x  y") == documents.generated_id("p", "x y")
    assert a.content_hash == from_text("The   quick\nbrown fox.").content_hash


def test_from_text_cleans_and_carries_metadata() -> None:
    doc = from_text("  hello\r\nworld\x00  ", name="my note", metadata={"k": "v"})
    assert doc.text == "hello\nworld"
    assert (doc.title, doc.source, doc.metadata) == ("my note", "my note", {"k": "v"})
    assert doc.doc_id.startswith("my-note-")


@pytest.mark.parametrize("text", ["", "   ", "\n\t\n", "\x00"])
def test_from_text_refuses_empty(text: str) -> None:
    with pytest.raises(InputError, match="empty"):
        from_text(text)
