"""Article files to raw records: format detection and one reader per format.

Plain generators over a byte stream, so they are tested without Beam; the
``ReadArticleFiles`` composite wraps them.  Every problem becomes a
``Rejection`` (dead letter), never an exception that stops the run.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from typing import BinaryIO, Callable, Iterator, Optional, Union

from pipeline.errors import RejectError, Rejection
from pipeline.normalize.decode import decode_bytes, looks_binary
from pipeline.records import RawRecord
from pipeline.sources.feeds import parse_feed_bytes

FORMATS = ("text", "jsonl", "json", "csv", "html", "feed")
FORMAT_BY_EXTENSION = {
    ".txt": "text", ".text": "text", ".md": "text",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json",
    ".csv": "csv", ".tsv": "csv",
    ".html": "html", ".htm": "html", ".xhtml": "html",
    ".xml": "feed", ".rss": "feed", ".atom": "feed", ".rdf": "feed",
}
GZIP_EXTENSIONS = (".gz", ".gzip")
# A whole-file format (text, HTML, feed, JSON, CSV) larger than this is rejected, not read.
MAX_FILE_BYTES = 256 * 1024 * 1024
# One JSONL line longer than this is rejected.
MAX_LINE_BYTES = 16 * 1024 * 1024

Item = Union[RawRecord, Rejection]


def _strip_gzip(path: str) -> tuple[str, bool]:
    lower = path.lower()
    for ext in GZIP_EXTENSIONS:
        if lower.endswith(ext):
            return path[: -len(ext)], True
    return path, False


def format_from_extension(path: str) -> Optional[str]:
    base, _ = _strip_gzip(path)
    dot = base.rfind(".")
    slash = max(base.rfind("/"), base.rfind("\\"))
    if dot <= slash:
        return None
    return FORMAT_BY_EXTENSION.get(base[dot:].lower())


def sniff_format(head: bytes) -> str:
    """Content-based guess for files without a known extension."""
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:512].lower()
    if start.startswith((b"<?xml", b"<rss", b"<feed", b"<rdf:rdf")) or b"<rss" in start or b"<feed" in start:
        return "html" if b"<html" in start else "feed"
    if start.startswith((b"<!doctype html", b"<html")) or b"<html" in start:
        return "html"
    if start.startswith(b"{"):
        return "jsonl"
    if start.startswith(b"["):
        return "json"
    return "text"


def open_decompressed(raw: BinaryIO, path: str) -> BinaryIO:
    """Gzip streams are decompressed with Python's ``gzip`` (which raises on a truncated
    stream; Beam's own ``CompressedFile`` silently returns the partial data)."""
    _, gzipped = _strip_gzip(path)
    if gzipped:
        return io.BufferedReader(gzip.GzipFile(fileobj=raw, mode="rb"))  # type: ignore[arg-type]
    return raw


_STREAM_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile, OSError)


def _stream_rejection(path: str, fmt: Optional[str], exc: Exception, position: Optional[int] = None) -> Rejection:
    if isinstance(exc, (EOFError, zlib.error, gzip.BadGzipFile)):
        reason, message = "corrupt_compression", f"the gzip stream is truncated or corrupt: {exc}"
    else:
        reason, message = "read_error", f"{type(exc).__name__}: {exc}"
    return Rejection(input_uri=path, stage="read", reason=reason, message=message, position=position, input_format=fmt)


def read_file_records(
    path: str,
    opener: Callable[[str], BinaryIO],
    input_format: Optional[str] = None,
    max_file_bytes: int = MAX_FILE_BYTES,
) -> Iterator[Item]:
    """Every record of one input file, or rejections.  ``opener(path)`` returns the raw
    (still compressed) byte stream (``FileSystems.open`` in the pipeline)."""
    fmt = input_format or format_from_extension(path)
    try:
        stream = open_decompressed(opener(path), path)
    except _STREAM_ERRORS as exc:
        yield _stream_rejection(path, fmt, exc)
        return
    try:
        if fmt == "jsonl":
            yield from _read_jsonl(path, stream)
            return
        try:
            data = stream.read(max_file_bytes + 1)
        except _STREAM_ERRORS as exc:
            yield _stream_rejection(path, fmt, exc)
            return
        if not data.strip():
            yield Rejection(path, "read", "empty_file", "the file is empty" if not data else "the file holds only whitespace",
                            payload=data, input_format=fmt)
            return
        if len(data) > max_file_bytes:
            yield Rejection(path, "read", "too_large", f"the file is larger than {max_file_bytes} bytes",
                            payload=data[:65536], input_format=fmt)
            return
        fmt = fmt or sniff_format(data[:4096])
        if fmt in ("text", "html") and looks_binary(data):
            yield Rejection(path, "decode", "binary", "NUL bytes: this is binary data, not text", payload=data, input_format=fmt)
        elif fmt in ("text", "html"):
            yield RawRecord(input_uri=path, input_format=fmt, payload=data, raw=data)
        elif fmt == "json":
            yield from _read_json(path, data)
        elif fmt == "csv":
            yield from _read_csv(path, data)
        elif fmt == "feed":
            yield from parse_feed_bytes(path, data)
        else:
            yield Rejection(path, "read", "unknown_format", f"unknown input format {fmt!r}", payload=data[:4096])
    finally:
        stream.close()


def _record_from_object(path: str, fmt: str, obj: object, position: int, raw: bytes) -> Item:
    if not isinstance(obj, dict):
        return Rejection(path, "parse", "not_an_object", f"expected a JSON object, got {type(obj).__name__}",
                         payload=raw, position=position, input_format=fmt)
    return RawRecord(input_uri=path, input_format="jsonl", payload=obj, position=position, raw=raw)


def _read_jsonl(path: str, stream: BinaryIO, first_line: int = 1) -> Iterator[Item]:
    """``first_line``: the number of the stream's first line in its file (a range of it)."""
    position = first_line - 1
    seen_any = False
    while True:
        try:
            line = stream.readline(MAX_LINE_BYTES + 1)
        except _STREAM_ERRORS as exc:
            yield _stream_rejection(path, "jsonl", exc, position + 1)
            return
        if not line:
            break
        position += 1
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            yield Rejection(path, "parse", "line_too_long", f"line longer than {MAX_LINE_BYTES} bytes",
                            payload=line[:65536], position=position, input_format="jsonl")
            while line and not line.endswith(b"\n"):  # skip the rest of the line
                line = stream.readline(MAX_LINE_BYTES)
            continue
        if not line.strip():
            continue
        seen_any = True
        try:
            text, _ = decode_bytes(line)
            obj = json.loads(text)
        except (RejectError, ValueError) as exc:
            yield Rejection(path, "parse", "malformed_json", f"line {position}: {exc}",
                            payload=line, position=position, input_format="jsonl")
            continue
        yield _record_from_object(path, "jsonl", obj, position, line)
    if not seen_any:
        yield Rejection(path, "read", "empty_file", "the file holds no JSON lines", input_format="jsonl")


def _read_json(path: str, data: bytes) -> Iterator[Item]:
    try:
        text, _ = decode_bytes(data)
        obj = json.loads(text)
    except (RejectError, ValueError) as exc:
        yield Rejection(path, "parse", "malformed_json", str(exc), payload=data, input_format="json")
        return
    if isinstance(obj, dict):
        for key in ("articles", "items", "entries", "data", "results"):
            if isinstance(obj.get(key), list):
                obj = obj[key]
                break
    items = obj if isinstance(obj, list) else [obj]
    if not items:
        yield Rejection(path, "read", "empty_file", "the JSON document holds no records", payload=data, input_format="json")
    for index, item in enumerate(items, start=1):
        raw = json.dumps(item, ensure_ascii=False, default=str).encode("utf-8")
        yield _record_from_object(path, "json", item, index, raw)


def _read_csv(path: str, data: bytes) -> Iterator[Item]:
    try:
        text, _ = decode_bytes(data)
    except RejectError as exc:
        yield Rejection(path, exc.stage, exc.reason, exc.message, payload=data, input_format="csv")
        return
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        yield Rejection(path, "parse", "csv_error", f"no header row: {exc}", payload=data, input_format="csv")
        return
    header = [h.strip() for h in header]
    from pipeline.normalize.fields import DEFAULT_ALIASES  # local: avoids an import cycle at module load

    known = {name for names in DEFAULT_ALIASES.values() for name in names}
    if not any(h.lower() in known for h in header):
        yield Rejection(path, "parse", "csv_no_header",
                        "the first row names no known field (title, text, body, url, published…): a header row is required",
                        payload=data, input_format="csv")
        return
    row_number = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            row_number += 1
            yield Rejection(path, "parse", "csv_error", f"row {row_number}: {exc}", position=row_number, input_format="csv")
            continue
        row_number += 1
        if not any(cell.strip() for cell in row):
            continue
        raw = _csv_line(row)
        if len(row) != len(header):
            yield Rejection(path, "parse", "csv_bad_row",
                            f"row {row_number} has {len(row)} fields, the header has {len(header)}",
                            payload=raw, position=row_number, input_format="csv")
            continue
        yield RawRecord(input_uri=path, input_format="csv", payload=dict(zip(header, row)), position=row_number, raw=raw)


def _delimiter(text: str) -> str:
    """The delimiter the header row uses most (comma, semicolon, tab or bar)."""
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","


def _csv_line(row: list[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(row)
    return buffer.getvalue().encode("utf-8")
