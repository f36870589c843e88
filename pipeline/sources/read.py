"""``ReadArticleFiles``: globs -> raw records and dead letters, parallel from the first byte.

    globs -> MatchFiles -> UniqueFiles (a shuffle: files spread over workers)
          -> PlanReads: a large uncompressed JSONL file is cut into byte ranges (ranges.py);
             every other file is read whole
    ranges -> MeasureWindows -> GroupWindowsByFile -> NumberWindows -> SpreadWindows (Reshuffle)
           -> ReadWindows: each range read by whichever worker gets it, records numbered as if
              the file had been read whole
    whole files -> ReadRecords; the records of a big non-splittable file (gzip, or a JSON, CSV or
             feed file over --split-bytes) -> SpreadRecords (Reshuffle), so fusion does not pin
             everything after the read to the one worker that read the file (a 10 GB .jsonl.gz then
             uses every worker downstream, not one); small files are spread as files already

Every exception on one file or record is a rejected row (``read_file_records`` never raises).
"""

from __future__ import annotations

from typing import Optional, Sequence

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from pipeline import metrics, reasons
from pipeline.errors import Rejection
from pipeline.progress import BYTES, READ, ProgressTally
from pipeline.normalize.decode import bom_encoding
from pipeline.sources.files import DEFAULT_MAX_DECOMPRESSED_BYTES, _strip_gzip, read_file_records
from pipeline.sources.ranges import (
    DEFAULT_SPLIT_BYTES,
    Window,
    byte_ranges,
    first_lines,
    measure_window,
    read_window,
    splittable,
)

REJECTED = "rejected"
RANGES = "ranges"
MANY = "many"  # records of a multi-record file read whole: reshuffled
SINGLE_RECORD_FORMATS = ("text", "html")


class MatchInputsFn(beam.DoFn):
    """A glob over Beam's file systems -> ``(path, size)`` of what it matches (a dead letter when
    none)."""

    def setup(self) -> None:
        self._matched = Metrics.counter(metrics.NAMESPACE, metrics.FILES_MATCHED)
        self._read = Metrics.counter(metrics.NAMESPACE, metrics.RECORDS_READ)

    def process(self, pattern: str):
        try:
            results = FileSystems.match([pattern])
            files = [(m.path, m.size_in_bytes) for result in results for m in result.metadata_list]
        except Exception as exc:  # noqa: BLE001 - any file-system error is a dead letter
            files, error = [], f"{type(exc).__name__}: {exc}"
        else:
            error = "the pattern matched no files"
        if not files:
            self._read.inc()
            yield beam.pvalue.TaggedOutput(REJECTED, Rejection(pattern, *reasons.MATCH_NO_FILES_MATCHED, error))
            return
        self._matched.inc(len(files))
        yield from sorted(files)


def _open_raw(path: str):
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


class PlanReadsFn(beam.DoFn):
    """``(path, size)`` -> itself (read whole) or its byte ranges (``RANGES``)."""

    def __init__(self, input_format: Optional[str], split_bytes: int):
        self._input_format = input_format
        self._split_bytes = split_bytes

    def process(self, file):
        path, size = file
        if size > self._split_bytes and splittable(path, self._input_format) and not self._utf16_or_32(path):
            for start, end in byte_ranges(size, self._split_bytes):
                yield beam.pvalue.TaggedOutput(RANGES, (path, start, end, size))
        else:
            yield path, size

    @staticmethod
    def _utf16_or_32(path: str) -> bool:
        """Such a file's lines are not byte lines: it is read whole (and decoded as a whole)."""
        with _open_raw(path) as handle:
            return bom_encoding(handle.read(4)) in ("utf-16", "utf-32")


class MeasureWindowFn(beam.DoFn):
    """A byte range -> ``(path, Window)``: where its lines start and end, and its newlines."""

    def process(self, element):
        path, start, end, size = element
        with _open_raw(path) as handle:
            yield path, measure_window(handle, start, end, size)


class NumberWindowsFn(beam.DoFn):
    """``(path, [Window, ...])`` -> ``(path, window, first line number)``; a file with no
    non-blank byte is one ``read/empty_file`` rejection."""

    def setup(self) -> None:
        self._read = Metrics.counter(metrics.NAMESPACE, metrics.RECORDS_READ)

    def process(self, grouped):
        path, windows = grouped
        windows = sorted(windows, key=lambda w: w.begin)
        if not any(w.has_text for w in windows):
            self._read.inc()
            yield beam.pvalue.TaggedOutput(REJECTED, Rejection(path, *reasons.READ_EMPTY_FILE, "the file holds no JSON lines",
                                                               input_format="jsonl"))
            return
        for window, first in zip(windows, first_lines(windows)):
            if window.stop > window.begin:
                yield path, window, first


class ReadWindowFn(beam.DoFn):
    """``(path, window, first line)`` -> the records of the lines that start in the window."""

    def setup(self) -> None:
        self._read = Metrics.counter(metrics.NAMESPACE, metrics.RECORDS_READ)
        self._progress = ProgressTally()

    def process(self, element):
        path, window, first = element
        with _open_raw(path) as handle:
            for item in read_window(path, handle, window, first):
                self._read.inc()
                self._progress.add(READ)
                yield beam.pvalue.TaggedOutput(REJECTED, item) if isinstance(item, Rejection) else item
        self._progress.add(BYTES, window.stop - window.begin)

    def finish_bundle(self) -> None:
        self._progress.flush()


class ReadFileRecordsFn(beam.DoFn):
    """``(path, size)`` of one file -> its records (``RawRecord``) and rejections
    (``read_file_records`` never raises).  The records of a big non-splittable file (compressed,
    or over ``spread_bytes``) go to ``MANY``, to be reshuffled; those of a small file stay where
    they are read: files are already spread over the workers, and a reshuffle of every record
    would cost a shuffle per record for nothing."""

    def __init__(self, input_format: Optional[str] = None, max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES,
                 spread_bytes: int = DEFAULT_SPLIT_BYTES):
        self._input_format = input_format
        self._max_decompressed_bytes = max_decompressed_bytes
        self._spread_bytes = spread_bytes

    def setup(self) -> None:
        self._read = Metrics.counter(metrics.NAMESPACE, metrics.RECORDS_READ)
        self._progress = ProgressTally()

    def process(self, file):
        path, size = file if isinstance(file, tuple) else (file, 0)
        big = size > self._spread_bytes or _strip_gzip(path)[1]
        for item in read_file_records(path, _open_raw, self._input_format,
                                      max_decompressed_bytes=self._max_decompressed_bytes):
            self._read.inc()
            self._progress.add(READ)
            if isinstance(item, Rejection):
                yield beam.pvalue.TaggedOutput(REJECTED, item)
            elif not big or item.input_format in SINGLE_RECORD_FORMATS:
                yield item
            else:
                yield beam.pvalue.TaggedOutput(MANY, item)
        self._progress.add(BYTES, size)

    def finish_bundle(self) -> None:
        self._progress.flush()


class ReadArticleFiles(beam.PTransform):
    """Globs -> ``{"records": RawRecord, "rejected": Rejection}`` (each file once, even when
    several globs match it)."""

    def __init__(self, patterns: Sequence[str], input_format: Optional[str] = None,
                 max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES, split_bytes: int = DEFAULT_SPLIT_BYTES):
        super().__init__()
        self._patterns = list(patterns)
        self._input_format = input_format
        self._max_decompressed_bytes = max_decompressed_bytes
        self._split_bytes = split_bytes

    def expand(self, pbegin):
        matched = (
            pbegin
            | "InputPatterns" >> beam.Create(self._patterns)
            | "MatchFiles" >> beam.ParDo(MatchInputsFn()).with_outputs(REJECTED, main="files")
        )
        planned = (
            matched.files
            | "UniqueFiles" >> beam.Distinct()
            | "PlanReads" >> beam.ParDo(PlanReadsFn(self._input_format, self._split_bytes)).with_outputs(RANGES, main="whole")
        )
        whole = planned.whole | "ReadRecords" >> beam.ParDo(
            ReadFileRecordsFn(self._input_format, self._max_decompressed_bytes, self._split_bytes)
        ).with_outputs(REJECTED, MANY, main="single")
        numbered = (
            planned[RANGES]
            | "MeasureWindows" >> beam.ParDo(MeasureWindowFn())
            | "GroupWindowsByFile" >> beam.GroupByKey()
            | "NumberWindows" >> beam.ParDo(NumberWindowsFn()).with_outputs(REJECTED, main="windows")
        )
        windows = (
            numbered.windows
            | "SpreadWindows" >> beam.Reshuffle()
            | "ReadWindows" >> beam.ParDo(ReadWindowFn()).with_outputs(REJECTED, main="records")
        )
        spread = whole[MANY] | "SpreadRecords" >> beam.Reshuffle()
        records = (whole.single, spread, windows.records) | "CollectRecords" >> beam.Flatten()
        rejected = (matched[REJECTED], whole[REJECTED], numbered[REJECTED], windows[REJECTED]) | "CollectReadRejects" >> beam.Flatten()
        return {"records": records, "rejected": rejected}


__all__ = ["ReadArticleFiles", "Window"]
