"""Sources: article files (and, later, live feeds) to ``RawRecord``s plus dead letters."""

from __future__ import annotations

from typing import Optional, Sequence

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from pipeline import metrics, reasons
from pipeline.errors import Rejection
from pipeline.sources.files import DEFAULT_MAX_DECOMPRESSED_BYTES, read_file_records

REJECTED = "rejected"


class MatchInputsFn(beam.DoFn):
    """A glob over Beam's file systems -> the paths it matches (a dead letter when none)."""

    def setup(self) -> None:
        self._matched = Metrics.counter(metrics.NAMESPACE, metrics.FILES_MATCHED)
        self._read = Metrics.counter(metrics.NAMESPACE, metrics.RECORDS_READ)

    def process(self, pattern: str):
        try:
            results = FileSystems.match([pattern])
            files = [m.path for result in results for m in result.metadata_list]
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


class ReadFileRecordsFn(beam.DoFn):
    """One file -> its records (``RawRecord``) and rejections (``read_file_records`` never raises)."""

    def __init__(self, input_format: Optional[str] = None, max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES):
        self._input_format = input_format
        self._max_decompressed_bytes = max_decompressed_bytes

    def setup(self) -> None:
        self._read = Metrics.counter(metrics.NAMESPACE, metrics.RECORDS_READ)

    def process(self, path: str):
        for item in read_file_records(path, _open_raw, self._input_format,
                                      max_decompressed_bytes=self._max_decompressed_bytes):
            self._read.inc()
            if isinstance(item, Rejection):
                yield beam.pvalue.TaggedOutput(REJECTED, item)
            else:
                yield item


class ReadArticleFiles(beam.PTransform):
    """Globs -> ``{"records": RawRecord, "rejected": Rejection}``.

    Each file is read once even when several globs match it; the ``Distinct``
    shuffle also spreads files over workers.
    """

    def __init__(self, patterns: Sequence[str], input_format: Optional[str] = None,
                 max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES):
        super().__init__()
        self._patterns = list(patterns)
        self._input_format = input_format
        self._max_decompressed_bytes = max_decompressed_bytes

    def expand(self, pbegin):
        matched = (
            pbegin
            | "InputPatterns" >> beam.Create(self._patterns)
            | "MatchFiles" >> beam.ParDo(MatchInputsFn()).with_outputs(REJECTED, main="files")
        )
        read = (
            matched.files
            | "UniqueFiles" >> beam.Distinct()
            | "ReadRecords" >> beam.ParDo(ReadFileRecordsFn(self._input_format, self._max_decompressed_bytes)).with_outputs(REJECTED, main="records")
        )
        rejected = (matched[REJECTED], read[REJECTED]) | "CollectReadRejects" >> beam.Flatten()
        return {"records": read.records, "rejected": rejected}
