"""Sinks: the articles / duplicates / rejected Parquet datasets.

Batch writes follow Beam's own file-sink pattern, without shuffling rows:
each bundle buffers its rows per partition and writes them to temporary
Parquet files (``_temporary/<run>/``); only the small file descriptors are
shuffled; a finalize step renames every committed file into
``<dataset>/<partition>/part-<digest>.parquet`` and removes the temporary
folder.  Files of a failed bundle attempt are never published.  A file's name
is a digest of the ids it holds, so writing the same rows again replaces the
file rather than adding a copy.
"""

from __future__ import annotations

import uuid
from typing import Optional

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

from pipeline import metrics
from pipeline.errors import DEFAULT_MAX_PAYLOAD_BYTES, rejected_row
from pipeline.sinks.parquet import PARTITIONERS, final_path, publish, temp_folder, write_temp_parquet

DEFAULT_ROWS_PER_FILE = 100_000
# A bundle flushes its largest partition buffer once it holds this many rows in all.
MAX_BUFFERED_ROWS = 200_000


class WriteBundleFilesFn(beam.DoFn):
    """Rows -> temporary Parquet files, one per (bundle, partition) and at most
    ``rows_per_file`` rows each; emits ``(dataset, partition, temp, name, rows)``."""

    def __init__(self, output: str, dataset: str, run_id: str, rows_per_file: int):
        self._output = output
        self._dataset = dataset
        self._run_id = run_id
        self._rows_per_file = rows_per_file

    def setup(self) -> None:
        self._folder = temp_folder(self._output, self._run_id)
        self._partition = PARTITIONERS[self._dataset]

    def start_bundle(self) -> None:
        self._buffers: dict[str, list[dict]] = {}
        self._buffered = 0

    def process(self, row: dict):
        partition = self._partition(row)
        buffer = self._buffers.setdefault(partition, [])
        buffer.append(row)
        self._buffered += 1
        if len(buffer) >= self._rows_per_file:
            yield self._flush(partition)
        elif self._buffered >= MAX_BUFFERED_ROWS:
            yield self._flush(max(self._buffers.items(), key=_buffer_size)[0])

    def _flush(self, partition: str) -> tuple:
        rows = self._buffers.pop(partition)
        self._buffered -= len(rows)
        temp, name, count = write_temp_parquet(self._folder, self._dataset, rows)
        return self._dataset, partition, temp, name, count

    def finish_bundle(self):
        for partition in sorted(self._buffers):
            yield WindowedValue(self._flush(partition), MIN_TIMESTAMP, [GlobalWindow()])


class PublishFilesFn(beam.DoFn):
    """All committed temp files of a dataset -> renamed into place; counts rows."""

    def __init__(self, output: str):
        self._output = output

    def process(self, keyed):
        dataset, files = keyed
        rows = Metrics.counter(metrics.NAMESPACE, metrics.WRITTEN.format(dataset=dataset))
        written = Metrics.counter(metrics.NAMESPACE, metrics.FILES_WRITTEN.format(dataset=dataset))
        for _, partition, temp, name, count in sorted(files, key=_file_order):
            final = final_path(self._output, dataset, partition, name)
            publish(temp, final)
            rows.inc(count)
            written.inc()
            yield final


def _buffer_size(item: tuple) -> tuple:
    return len(item[1]), item[0]


def _file_order(file: tuple) -> tuple:
    return file[1], file[3]


class CountRejectionsFn(beam.DoFn):
    """Per-reason counters for the summary (``rejected/<stage>/<reason>``)."""

    def process(self, row: dict):
        Metrics.counter(metrics.NAMESPACE, metrics.REJECTED_BY_REASON.format(stage=row["stage"], reason=row["reason"])).inc()
        yield row


class KeyByDatasetFn(beam.DoFn):
    def process(self, file: tuple):
        yield file[0], file


class RemoveTemporaryFn(beam.DoFn):
    """After every dataset is published: delete the run's temporary folder (and with it
    the files of failed bundle attempts)."""

    def __init__(self, output: str, run_id: str):
        self._output = output
        self._run_id = run_id

    def process(self, _published, *_):
        folder = temp_folder(self._output, self._run_id)
        if FileSystems.exists(folder):
            FileSystems.delete([folder])
        parent = FileSystems.join(self._output, "_temporary")
        try:
            if FileSystems.exists(parent) and not FileSystems.match([FileSystems.join(parent, "*")])[0].metadata_list:
                FileSystems.delete([parent])
        except Exception:  # noqa: BLE001 - another run may be using it
            pass
        yield folder


class RejectionToRowFn(beam.DoFn):
    def __init__(self, max_payload_bytes: int):
        self._max = max_payload_bytes

    def process(self, rejection):
        yield rejected_row(rejection, self._max)


class WriteArticles(beam.PTransform):
    """``{"articles", "duplicates", "rejected"}`` -> the three Parquet datasets.
    ``rejected`` holds ``Rejection``s; they become capped ``RejectedRecord`` rows.
    Returns the published file paths."""

    def __init__(self, output: str, rows_per_file: int = DEFAULT_ROWS_PER_FILE,
                 max_payload_bytes: Optional[int] = None, run_id: Optional[str] = None):
        super().__init__()
        self._output = output
        self._rows_per_file = rows_per_file
        self._max_payload = max_payload_bytes or DEFAULT_MAX_PAYLOAD_BYTES
        self._run_id = run_id or uuid.uuid4().hex

    def expand(self, pcolls):
        rejected_rows = (
            pcolls["rejected"]
            | "RejectedRows" >> beam.ParDo(RejectionToRowFn(self._max_payload))
            | "CountRejections" >> beam.ParDo(CountRejectionsFn())
        )
        datasets = {"articles": pcolls["articles"], "duplicates": pcolls["duplicates"], "rejected": rejected_rows}
        if "index" in pcolls:
            datasets["index"] = pcolls["index"]
        temp_files = [
            rows | f"Write{name.title().replace('_', '')}TempFiles" >> beam.ParDo(WriteBundleFilesFn(self._output, name, self._run_id, self._rows_per_file))
            for name, rows in datasets.items()
        ]
        published = (
            temp_files
            | "CollectTempFiles" >> beam.Flatten()
            | "KeyByDataset" >> beam.ParDo(KeyByDatasetFn())
            | "GroupTempFiles" >> beam.GroupByKey()
            | "PublishFiles" >> beam.ParDo(PublishFilesFn(self._output))
        )
        _ = (
            published.pipeline
            | "CleanupTrigger" >> beam.Create([None])
            | "RemoveTemporary" >> beam.ParDo(RemoveTemporaryFn(self._output, self._run_id), beam.pvalue.AsList(published))
        )
        return published
