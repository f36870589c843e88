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
import traceback
import zlib
from typing import BinaryIO, Callable, Iterator, Optional, Union

from pipeline import reasons
from pipeline.errors import RejectError, Rejection
from pipeline.normalize.decode import bom_encoding, decode_bytes, looks_binary
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
# Bytes a gzip file may inflate to (``--max-decompressed-bytes``); past it the rest is rejected.
DEFAULT_MAX_DECOMPRESSED_BYTES = 1024 * 1024 * 1024
# A gzip stream inflating by more than this ratio, once past RATIO_FLOOR bytes, is a bomb
# (news text compresses 3-10:1; deflate's ceiling is about 1032:1).
MAX_DECOMPRESSION_RATIO = 100
RATIO_FLOOR = 16 * 1024 * 1024
# JSON records nested deeper than this are rejected (``parse/too_deep``): deeper data is no
# article, and a few hundred levels already break pickling between Beam stages.
MAX_JSON_DEPTH = 64
# Rejections that stand for the rest of a file keep this much of it as payload.
PAYLOAD_HEAD_BYTES = 64 * 1024

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
    encoding = bom_encoding(head)
    if encoding in ("utf-16", "utf-32"):
        head = head.decode(encoding, "replace").encode("utf-8")
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


class DecompressedTooLarge(Exception):
    """A gzip stream inflated past its cap (``read/too_large``)."""


class _CountingReader:
    """The compressed stream, counting the bytes gzip takes from it (for the ratio limit)."""

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.count += len(data)
        return data

    def close(self) -> None:
        self._raw.close()


class _CappedReader(io.RawIOBase):
    """Inflated bytes, at most ``cap`` of them: one byte more raises ``DecompressedTooLarge``,
    as does a ratio of inflated to compressed bytes over ``max_ratio`` past ``ratio_floor``.
    Every byte up to the cap is returned first, so lines before the cap are kept."""

    def __init__(self, inflated: BinaryIO, compressed: _CountingReader, cap: int, max_ratio: float, ratio_floor: int):
        super().__init__()
        self._inflated = inflated
        self._compressed = compressed
        self._cap = cap
        self._max_ratio = max_ratio
        self._ratio_floor = ratio_floor
        self._total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._total > self._ratio_floor and self._total > self._max_ratio * max(1, self._compressed.count):
            raise DecompressedTooLarge(
                f"the gzip stream inflates more than {self._max_ratio:g}:1 ({self._compressed.count:,} compressed bytes "
                f"gave {self._total:,}): a compression bomb; the rest of the file is not read")
        room = self._cap - self._total
        if room <= 0:
            if self._inflated.read(1):
                raise DecompressedTooLarge(
                    f"the gzip stream inflates past {self._cap:,} bytes (--max-decompressed-bytes); "
                    "the rest of the file is not read")
            return 0
        data = self._inflated.read(min(len(buffer), room))
        buffer[: len(data)] = data
        self._total += len(data)
        return len(data)

    def close(self) -> None:
        try:
            self._inflated.close()
        finally:
            super().close()


class _RawReader(io.RawIOBase):
    """Any ``read(n)`` stream as a raw stream, so that ``io.BufferedReader`` can wrap it."""

    def __init__(self, stream: BinaryIO):
        super().__init__()
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def open_decompressed(
    raw: BinaryIO,
    path: str,
    max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES,
    max_ratio: float = MAX_DECOMPRESSION_RATIO,
    ratio_floor: int = RATIO_FLOOR,
) -> BinaryIO:
    """Gzip streams are decompressed with Python's ``gzip`` (which raises on a truncated
    stream; Beam's own ``CompressedFile`` silently returns the partial data), capped at
    ``max_decompressed_bytes`` and ``max_ratio``."""
    _, gzipped = _strip_gzip(path)
    if gzipped:
        compressed = _CountingReader(raw)
        inflated = gzip.GzipFile(fileobj=compressed, mode="rb")  # type: ignore[arg-type]
        return io.BufferedReader(_CappedReader(inflated, compressed, max_decompressed_bytes, max_ratio, ratio_floor))
    return raw


_STREAM_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile, OSError)


def _stream_rejection(path: str, fmt: Optional[str], exc: Exception, position: Optional[int] = None,
                      payload: Optional[bytes] = None) -> Rejection:
    if isinstance(exc, DecompressedTooLarge):
        code, message = reasons.READ_TOO_LARGE, str(exc)
    elif isinstance(exc, (EOFError, zlib.error, gzip.BadGzipFile)):
        code, message = reasons.READ_CORRUPT_COMPRESSION, f"the gzip stream is truncated or corrupt: {exc}"
    else:
        code, message = reasons.READ_READ_ERROR, f"{type(exc).__name__}: {exc}"
    return Rejection(path, *code, message, payload=payload, position=position, input_format=fmt)


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    return f" (at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno})"


def _unexpected_code(exc: BaseException) -> reasons.Reason:
    """The reason for an exception no reader foresaw: a few are properties of the input."""
    if isinstance(exc, RecursionError):
        return reasons.PARSE_TOO_DEEP
    if isinstance(exc, UnicodeEncodeError) and "surrogate" in str(exc):
        return reasons.PARSE_INVALID_UNICODE
    return reasons.READ_INTERNAL_ERROR


def _unexpected(path: str, fmt: Optional[str], exc: BaseException, position: Optional[int] = None,
                payload: Optional[bytes] = None) -> Rejection:
    message = f"{type(exc).__name__}: {str(exc)[:500]}{_where(exc)}"
    if position is not None:
        message += "; the rest of the file is not read"
    return Rejection(path, *_unexpected_code(exc), message, payload=_head(payload), position=position,
                     input_format=fmt, payload_size=len(payload) if payload is not None else None)


def _head(data: Optional[bytes]) -> Optional[bytes]:
    return None if data is None else data[:PAYLOAD_HEAD_BYTES]


def read_file_records(
    path: str,
    opener: Callable[[str], BinaryIO],
    input_format: Optional[str] = None,
    max_file_bytes: int = MAX_FILE_BYTES,
    max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES,
) -> Iterator[Item]:
    """Every record of one input file, or rejections.  ``opener(path)`` returns the raw
    (still compressed) byte stream (``FileSystems.open`` in the pipeline).

    Never raises: an exception no reader foresaw becomes one rejection (``parse/too_deep``,
    ``parse/invalid_unicode`` or ``read/internal_error``) after the records read before it."""
    fmt = input_format or format_from_extension(path)
    last_position = None
    try:
        for item in _read_file(path, opener, fmt, max_file_bytes, max_decompressed_bytes):
            last_position = item.position
            yield item
    except Exception as exc:  # noqa: BLE001 - hostile input must not stop the run
        yield _unexpected(path, fmt, exc, None if last_position is None else last_position + 1)


def _read_file(path: str, opener: Callable[[str], BinaryIO], fmt: Optional[str], max_file_bytes: int,
               max_decompressed_bytes: int) -> Iterator[Item]:
    try:
        raw = opener(path)
    except _STREAM_ERRORS as exc:
        yield _stream_rejection(path, fmt, exc)
        return
    try:
        stream = open_decompressed(raw, path, max_decompressed_bytes)
    except _STREAM_ERRORS as exc:
        raw.close()
        yield _stream_rejection(path, fmt, exc)
        return
    try:
        if fmt == "jsonl":
            yield from _read_jsonl(path, stream)
            return
        chunks: list[bytes] = []
        try:
            _read_upto(stream, max_file_bytes + 1, chunks)
        except _STREAM_ERRORS + (DecompressedTooLarge,) as exc:
            yield _stream_rejection(path, fmt, exc, payload=_head(b"".join(chunks)))
            return
        data = b"".join(chunks)
        del chunks
        if not data.strip():
            yield Rejection(path, *reasons.READ_EMPTY_FILE, "the file is empty" if not data else "the file holds only whitespace",
                            payload=data, input_format=fmt)
            return
        if len(data) > max_file_bytes:
            yield Rejection(path, *reasons.READ_TOO_LARGE, f"the file is larger than {max_file_bytes} bytes",
                            payload=data[:65536], input_format=fmt)
            return
        fmt = fmt or sniff_format(data[:4096])
        if fmt == "jsonl":  # sniffed: a file without a known extension
            yield from _read_jsonl(path, io.BufferedReader(io.BytesIO(data)))  # type: ignore[arg-type]
            return
        if fmt in ("text", "html") and looks_binary(data):
            yield Rejection(path, *reasons.DECODE_BINARY, "NUL bytes: this is binary data, not text", payload=data, input_format=fmt)
        elif fmt in ("text", "html"):
            yield RawRecord(input_uri=path, input_format=fmt, payload=data, raw=data)
        elif fmt == "json":
            yield from _read_json(path, data)
        elif fmt == "csv":
            yield from _read_csv(path, data)
        elif fmt == "feed":
            yield from _read_feed(path, data)
        else:
            yield Rejection(path, *reasons.READ_UNKNOWN_FORMAT, f"unknown input format {fmt!r}", payload=data[:4096])
    finally:
        try:
            stream.close()
        finally:
            if stream is not raw:
                raw.close()


def _read_upto(stream: BinaryIO, limit: int, chunks: list[bytes]) -> None:
    """Read at most ``limit`` bytes into ``chunks`` (kept when the read fails half-way: ``read1``
    makes at most one read of the stream below, so no buffered bytes are lost with the error)."""
    read = getattr(stream, "read1", stream.read)
    size = 0
    while size < limit:
        chunk = read(min(1024 * 1024, limit - size))
        if not chunk:
            return
        chunks.append(chunk)
        size += len(chunk)


def _may_be_hostile(raw: bytes, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Cheap test on a record's JSON text: only more than ``max_depth`` brackets or a
    surrogate escape (``\\ud800``) can make ``_json_problem`` find anything."""
    return b"\\ud" in raw or b"\\uD" in raw or raw.count(b"[") + raw.count(b"{") > max_depth


def _json_problem(obj: object, max_depth: int = MAX_JSON_DEPTH) -> Optional[tuple[reasons.Reason, str]]:
    """Why a parsed JSON value cannot be a record: nesting deeper than ``max_depth``, or a
    lone surrogate in a string (valid JSON, not Unicode: it cannot be written as UTF-8)."""
    stack = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if not value.isascii() and not _is_utf8_encodable(value):
                return reasons.PARSE_INVALID_UNICODE, "a string holds a lone UTF-16 surrogate (e.g. \\ud800): not Unicode text"
        elif isinstance(value, (dict, list)):
            if depth > max_depth:
                return reasons.PARSE_TOO_DEEP, f"nested deeper than {max_depth} levels"
            if isinstance(value, dict):
                for key, item in value.items():
                    stack.append((key, depth))
                    stack.append((item, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in value)
    return None


def _is_utf8_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _record_from_object(path: str, fmt: str, obj: object, position: int, raw: bytes, check: bool = True) -> Item:
    """``check=False`` when ``_may_be_hostile`` already cleared the record's JSON text."""
    if not isinstance(obj, dict):
        return Rejection(path, *reasons.PARSE_NOT_AN_OBJECT, f"expected a JSON object, got {type(obj).__name__}",
                         payload=raw, position=position, input_format=fmt)
    problem = _json_problem(obj) if check else None
    if problem:
        code, message = problem
        return Rejection(path, *code, message, payload=raw, position=position, input_format=fmt)
    return RawRecord(input_uri=path, input_format="jsonl", payload=obj, position=position, raw=raw)


def _jsonl_lines(stream: BinaryIO) -> Iterator[tuple[bytes, bool]]:
    """``(line, too_long)`` per physical line; a too-long line is cut to its first
    ``MAX_LINE_BYTES`` and the rest skipped.  A UTF-16/UTF-32 file (byte-order mark) is
    decoded and its lines re-encoded as UTF-8."""
    read_line = _line_reader(stream)
    while True:
        line = read_line()
        if not line:
            return
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            rest = line
            while rest and not rest.endswith(b"\n"):  # skip the rest of the line
                rest = read_line()
            yield line, True
        else:
            yield line, False


def _line_reader(stream: BinaryIO) -> Callable[[], bytes]:
    """A function returning the next line (at most ``MAX_LINE_BYTES + 1`` long) as bytes."""
    if not hasattr(stream, "peek"):
        stream = io.BufferedReader(_RawReader(stream))
    encoding = bom_encoding(stream.peek(4)[:4])  # type: ignore[attr-defined]
    if encoding in ("utf-16", "utf-32"):
        text = io.TextIOWrapper(stream, encoding=encoding, errors="replace", newline="")  # type: ignore[arg-type]

        def read_text_line() -> bytes:
            return text.readline(MAX_LINE_BYTES + 1).encode("utf-8")

        return read_text_line

    def read_line() -> bytes:
        return stream.readline(MAX_LINE_BYTES + 1)

    return read_line


def _read_jsonl(path: str, stream: BinaryIO, first_line: int = 1) -> Iterator[Item]:
    """``first_line``: the number of the stream's first line in its file (a range of it)."""
    position = first_line - 1
    seen_any = False  # a non-blank line, kept or rejected
    lines = _jsonl_lines(stream)
    while True:
        try:
            item = next(lines, None)
        except _STREAM_ERRORS + (DecompressedTooLarge,) as exc:
            yield _stream_rejection(path, "jsonl", exc, position + 1)
            return
        if item is None:
            break
        line, too_long = item
        position += 1
        if too_long:
            seen_any = True
            yield Rejection(path, *reasons.PARSE_LINE_TOO_LONG, f"line longer than {MAX_LINE_BYTES} bytes",
                            payload=line[:65536], position=position, input_format="jsonl")
            continue
        if not line.strip():
            continue
        seen_any = True
        yield _parse_json_record(path, "jsonl", line, position)
    if not seen_any:
        yield Rejection(path, *reasons.READ_EMPTY_FILE, "the file holds no JSON lines", input_format="jsonl")


def _parse_json_record(path: str, fmt: str, line: bytes, position: int) -> Item:
    """One JSONL line -> a record or a rejection; never raises."""
    try:
        text, _ = decode_bytes(line)
        obj = json.loads(text)
    except RecursionError:
        return Rejection(path, *reasons.PARSE_TOO_DEEP, f"line {position}: nested too deeply to parse",
                         payload=line, position=position, input_format=fmt)
    except (RejectError, ValueError) as exc:
        return Rejection(path, *reasons.PARSE_MALFORMED_JSON, f"line {position}: {str(exc)[:500]}",
                         payload=line, position=position, input_format=fmt)
    except Exception as exc:  # noqa: BLE001 - one hostile line must not stop the file
        return Rejection(path, *_unexpected_code(exc), f"line {position}: {type(exc).__name__}: {str(exc)[:500]}{_where(exc)}",
                         payload=line, position=position, input_format=fmt)
    return _record_from_object(path, fmt, obj, position, line, check=_may_be_hostile(line))


def _read_json(path: str, data: bytes) -> Iterator[Item]:
    try:
        text, _ = decode_bytes(data)
        obj = json.loads(text)
    except RecursionError:
        yield Rejection(path, *reasons.PARSE_TOO_DEEP, "the document is nested too deeply to parse",
                        payload=data, input_format="json")
        return
    except (RejectError, ValueError) as exc:
        yield Rejection(path, *reasons.PARSE_MALFORMED_JSON, str(exc)[:2000], payload=data, input_format="json")
        return
    if isinstance(obj, dict):
        for key in ("articles", "items", "entries", "data", "results"):
            if isinstance(obj.get(key), list):
                obj = obj[key]
                break
    items = obj if isinstance(obj, list) else [obj]
    if not items:
        yield Rejection(path, *reasons.READ_EMPTY_FILE, "the JSON document holds no records", payload=data, input_format="json")
    check = _may_be_hostile(data)
    for index, item in enumerate(items, start=1):
        yield _record_from_object(path, "json", item, index, _json_raw(item), check=check)


def _json_raw(item: object) -> bytes:
    """A JSON record's bytes for the dead letters; ``surrogatepass`` keeps a lone surrogate
    readable (as its 3 bytes) and ``default=str`` anything else."""
    try:
        return json.dumps(item, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass")
    except RecursionError:
        return b"(nested too deeply to serialise)"


def _read_feed(path: str, data: bytes) -> Iterator[Item]:
    """A saved feed's entries; an exception (e.g. an entry holding a lone surrogate) rejects
    the rest of the feed as one row."""
    position = 0
    try:
        for item in parse_feed_bytes(path, data):
            position = item.position or position
            yield item
    except Exception as exc:  # noqa: BLE001 - hostile input must not stop the run
        yield _unexpected(path, "feed", exc, position + 1 if position else None, payload=data)


def _read_csv(path: str, data: bytes) -> Iterator[Item]:
    try:
        text, _ = decode_bytes(data)
    except RejectError as exc:
        yield Rejection(path, exc.stage, exc.reason, exc.message, payload=data, input_format="csv")
        return
    buffer = io.StringIO(text, newline="")
    reader = csv.reader(buffer, delimiter=_delimiter(text))
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        yield Rejection(path, *reasons.PARSE_CSV_ERROR, f"no header row: {exc}", payload=data, input_format="csv")
        return
    header = [h.strip() for h in header]
    from pipeline.normalize.fields import DEFAULT_ALIASES  # local: avoids an import cycle at module load

    known = {name for names in DEFAULT_ALIASES.values() for name in names}
    if not any(h.lower() in known for h in header):
        yield Rejection(path, *reasons.PARSE_CSV_NO_HEADER,
                        "the first row names no known field (title, text, body, url, published…): a header row is required",
                        payload=data, input_format="csv")
        return
    row_number = 1
    seen_any = False  # a non-blank row, kept or rejected
    while True:
        start = buffer.tell()
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # The parser's state is unknown after an error (a field over the size limit stops
            # mid-field): the rest of the file is one rejection rather than garbage rows.
            row_number += 1
            rest = text[start:].encode("utf-8")
            yield Rejection(path, *reasons.PARSE_CSV_ERROR, f"row {row_number}: {exc}; the rest of the file is not read",
                            payload=rest, position=row_number, input_format="csv")
            return
        row_number += 1
        if not any(cell.strip() for cell in row):
            continue
        seen_any = True
        raw = _csv_line(row)
        if len(row) != len(header):
            yield Rejection(path, *reasons.PARSE_CSV_BAD_ROW,
                            f"row {row_number} has {len(row)} fields, the header has {len(header)}",
                            payload=raw, position=row_number, input_format="csv")
            continue
        yield RawRecord(input_uri=path, input_format="csv", payload=dict(zip(header, row)), position=row_number, raw=raw)
    if not seen_any:
        yield Rejection(path, *reasons.READ_EMPTY_FILE, "the CSV has a header row but no rows", payload=data, input_format="csv")


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
