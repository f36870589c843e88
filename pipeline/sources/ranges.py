"""Large line-oriented files (JSONL / NDJSON, uncompressed) read in byte ranges by many workers.

A file over ``split_bytes`` is cut into ranges of that size.  A line belongs to the range that
holds its first byte, so every range reads the lines that *start* in ``[start, end)``, however far
the last one runs past ``end``: the ranges' windows ``[L(start), L(end))`` partition the file
exactly, where ``L(x)`` is the first line start at or after ``x`` (``L(0) = 0``).

Records keep the positions (1-based line numbers) the whole-file reader gives them, so the output
does not depend on how a file was split: a first, cheap pass counts the newlines of every window
in parallel (C-speed ``bytes.count``), a per-file step turns the counts into each window's first
line number, and the second pass reads the windows.  A file whose windows hold no non-blank byte is
one ``read/empty_file`` rejection, as when read whole.

CSV is never split: a quoted field may hold a newline, so a line start is not a record start.
Compressed files are not splittable either; they are read whole and their records reshuffled.
"""

from __future__ import annotations

import dataclasses
from typing import BinaryIO, Callable, Iterator, Optional

from pipeline import reasons
from pipeline.errors import Rejection
from pipeline.sources.files import Item, _read_jsonl, format_from_extension, _strip_gzip

DEFAULT_SPLIT_BYTES = 16 * 1024 * 1024
_CHUNK = 1 << 20


def splittable(path: str, input_format: Optional[str]) -> bool:
    """Line-oriented and uncompressed: JSONL / NDJSON."""
    _, gzipped = _strip_gzip(path)
    return not gzipped and (input_format or format_from_extension(path)) == "jsonl"


def byte_ranges(size: int, split_bytes: int) -> list[tuple[int, int]]:
    """``[start, end)`` ranges of at most ``split_bytes`` covering ``size`` bytes."""
    return [(start, min(start + split_bytes, size)) for start in range(0, size, split_bytes)]


def line_start_at_or_after(stream: BinaryIO, offset: int, size: int) -> int:
    """``L(offset)``: 0 for 0, else one past the first newline at or after ``offset - 1``."""
    if offset <= 0:
        return 0
    if offset >= size:
        return size
    stream.seek(offset - 1)
    position = offset - 1
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            return size
        found = chunk.find(b"\n")
        if found >= 0:
            return position + found + 1
        position += len(chunk)


@dataclasses.dataclass(frozen=True)
class Window:
    """The lines that start in one range: bytes ``[begin, stop)``; ``newlines`` in it, and whether
    it holds any non-blank byte."""

    begin: int
    stop: int
    newlines: int
    has_text: bool


def measure_window(stream: BinaryIO, start: int, end: int, size: int) -> Window:
    begin = line_start_at_or_after(stream, start, size)
    stop = line_start_at_or_after(stream, end, size)
    stream.seek(begin)
    newlines, has_text, left = 0, False, stop - begin
    while left > 0:
        chunk = stream.read(min(_CHUNK, left))
        if not chunk:
            break
        left -= len(chunk)
        newlines += chunk.count(b"\n")
        has_text = has_text or bool(chunk.strip())
    return Window(begin, stop, newlines, has_text)


def first_lines(windows: list[Window]) -> list[int]:
    """The 1-based line number of each window's first line (windows in file order)."""
    numbers, seen = [], 0
    for window in sorted(windows, key=lambda w: w.begin):
        numbers.append(seen + 1)
        seen += window.newlines
    return numbers


class _Bounded:
    """``read`` / ``readline`` over ``[begin, stop)`` of a seekable stream (stop is a line start)."""

    def __init__(self, stream: BinaryIO, begin: int, stop: int) -> None:
        stream.seek(begin)
        self._stream, self._left = stream, stop - begin

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        data = self._stream.read(self._left if size < 0 else min(size, self._left))
        self._left -= len(data)
        return data

    def readline(self, limit: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        line = self._stream.readline(self._left if limit < 0 else min(limit, self._left))
        self._left -= len(line)
        return line


def read_window(path: str, stream: BinaryIO, window: Window, first_line: int) -> Iterator[Item]:
    """The records of one window, numbered as the whole-file reader numbers them (the file-level
    ``empty_file`` check is the planner's, from ``has_text``)."""
    for item in _read_jsonl(path, _Bounded(stream, window.begin, window.stop), first_line):
        if isinstance(item, Rejection) and (item.stage, item.reason) == tuple(reasons.READ_EMPTY_FILE):
            continue
        yield item


def read_ranges_whole(path: str, opener: Callable[[str], BinaryIO], size: int, split_bytes: int) -> Iterator[Item]:
    """Every range of one file in one process (the composite spreads the same steps over workers;
    this is their reference, for tests)."""
    with opener(path) as stream:
        windows = [measure_window(stream, start, end, size) for start, end in byte_ranges(size, split_bytes)]
    if not any(w.has_text for w in windows):
        yield Rejection(path, *reasons.READ_EMPTY_FILE, "the file holds no JSON lines", input_format="jsonl")
        return
    for window, first in zip(sorted(windows, key=lambda w: w.begin), first_lines(windows)):
        if window.stop > window.begin:
            with opener(path) as stream:
                yield from read_window(path, stream, window, first)
