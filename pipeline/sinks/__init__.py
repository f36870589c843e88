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
from pipeline.sinks.parquet import PARTITIONERS, ROW_GROUP_ROWS, TempParquetFile, final_path, publish, temp_folder

DEFAULT_ROWS_PER_FILE = 100_000
# Rows a bundle holds in memory across its open files before it writes the largest
# buffer out as a row group, and how many files it keeps open at once.
MAX_BUFFERED_ROWS = 20_000
MAX_OPEN_FILES = 64


class WriteBundleFilesFn(beam.DoFn):
    """Rows -> temporary Parquet files, one per (bundle, partition) and at most
    ``rows_per_file`` rows each, written row group by row group (memory is bounded
    by ``MAX_BUFFERED_ROWS``, not by the bundle); emits ``(dataset, partition, temp,
    name, rows)`` for every closed file."""

    def __init__(self, output: str, dataset: str, run_id: str, rows_per_file: int):
        self._output = output
        self._dataset = dataset
        self._run_id = run_id
        self._rows_per_file = rows_per_file

    def setup(self) -> None:
        self._folder = temp_folder(self._output, self._run_id)
        self._partition = PARTITIONERS[self._dataset]
        self._row_group_rows = min(ROW_GROUP_ROWS, self._rows_per_file)

    def start_bundle(self) -> None:
        self._files: dict[str, TempParquetFile] = {}
        self._buffered = 0

    def process(self, row: dict):
        partition = self._partition(row)
        temp_file = self._files.get(partition)
        if temp_file is None:
            if len(self._files) >= MAX_OPEN_FILES:
                yield self._close(max(self._files, key=lambda p: self._files[p].count))
            temp_file = self._files[partition] = TempParquetFile(self._folder, self._dataset, self._row_group_rows)
        before = temp_file.buffered
        temp_file.add(row)
        self._buffered += temp_file.buffered - before
        if temp_file.count >= self._rows_per_file:
            yield self._close(partition)
        elif self._buffered >= MAX_BUFFERED_ROWS:
            largest = max(self._files.values(), key=lambda f: f.buffered)
            self._buffered -= largest.buffered
            largest.flush()

    def _close(self, partition: str) -> tuple:
        temp_file = self._files.pop(partition)
        self._buffered -= temp_file.buffered
        temp, name, count = temp_file.close()
        return self._dataset, partition, temp, name, count

    def finish_bundle(self):
        for partition in sorted(self._files):
            yield WindowedValue(self._close(partition), MIN_TIMESTAMP, [GlobalWindow()])

    def teardown(self) -> None:
        for temp_file in getattr(self, "_files", {}).values():
            temp_file.abort()  # a failed bundle: its temporary files are never published


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


class OneFn(beam.DoFn):
    def process(self, _):
        yield 1


class RemoveTemporaryFn(beam.DoFn):
    """After every dataset is published: delete the run's temporary folder (and with it
    the files of failed bundle attempts)."""

    def __init__(self, output: str, run_id: str):
        self._output = output
        self._run_id = run_id

    def process(self, _published_count):
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


def rejected_to_rows(rejections, max_payload: int):
    """``Rejection``s -> capped ``RejectedRecord`` rows, counted per stage and reason."""
    return (
        rejections
        | "RejectedRows" >> beam.ParDo(RejectionToRowFn(max_payload))
        | "CountRejections" >> beam.ParDo(CountRejectionsFn())
    )


class WriteArticles(beam.PTransform):
    """``{"articles", "duplicates", "rejected"}`` -> the three Parquet datasets.
    ``rejected`` holds ``Rejection``s; they become capped ``RejectedRecord`` rows.
    A dataset may come as a tuple of PCollections: each is written where it is produced
    (no Flatten, which would hold all its rows in memory on the local runner).
    Returns the published file paths."""

    def __init__(self, output: str, rows_per_file: int = DEFAULT_ROWS_PER_FILE,
                 max_payload_bytes: Optional[int] = None, run_id: Optional[str] = None):
        super().__init__()
        self._output = output
        self._rows_per_file = rows_per_file
        self._max_payload = max_payload_bytes or DEFAULT_MAX_PAYLOAD_BYTES
        self._run_id = run_id or uuid.uuid4().hex

    def expand(self, pcolls):
        rejected_rows = rejected_to_rows(pcolls["rejected"], self._max_payload)
        datasets = {"articles": pcolls["articles"], "duplicates": pcolls["duplicates"], "rejected": rejected_rows}
        for optional in ("index", "feeds"):
            if optional in pcolls:
                datasets[optional] = pcolls[optional]
        temp_files = [
            rows | f"Write{name.title().replace('_', '')}TempFiles{part or ''}" >> beam.ParDo(
                WriteBundleFilesFn(self._output, name, self._run_id, self._rows_per_file)
            )
            for name, parts in datasets.items()
            for part, rows in enumerate(parts if isinstance(parts, tuple) else (parts,))
        ]
        published = (
            temp_files
            | "CollectTempFiles" >> beam.Flatten()
            | "KeyByDataset" >> beam.ParDo(KeyByDatasetFn())
            | "GroupTempFiles" >> beam.GroupByKey()
            | "PublishFiles" >> beam.ParDo(PublishFilesFn(self._output))
        )
        # One element once every file is published (a Combine, not a side input; the Create
        # makes it exist when nothing was published).
        _ = (
            (published | "OnePerPublishedFile" >> beam.ParDo(OneFn()), published.pipeline | "CleanupTrigger" >> beam.Create([0]))
            | "CollectPublished" >> beam.Flatten()
            | "CountPublished" >> beam.CombineGlobally(sum).without_defaults()
            | "RemoveTemporary" >> beam.ParDo(RemoveTemporaryFn(self._output, self._run_id))
        )
        return published


class PublishBundleFilesFn(beam.DoFn):
    """Streaming sink: the rows of one bundle -> one Parquet file per partition, written to a
    temporary name and renamed into place when the bundle finishes (no shuffle, so files appear
    while the job runs).  The name is a digest of the row ids: a retried bundle overwrites its
    file instead of adding a copy."""

    def __init__(self, output: str, dataset: str, run_id: str):
        self._output = output
        self._dataset = dataset
        self._run_id = run_id

    def setup(self) -> None:
        from pipeline.sinks.parquet import PARTITIONERS as partitioners

        self._partition = partitioners[self._dataset]
        self._rows_counter = Metrics.counter(metrics.NAMESPACE, metrics.WRITTEN.format(dataset=self._dataset))
        self._files_counter = Metrics.counter(metrics.NAMESPACE, metrics.FILES_WRITTEN.format(dataset=self._dataset))

    def start_bundle(self) -> None:
        self._buffers: dict[str, list[dict]] = {}

    def process(self, row: dict):
        row = {k: v for k, v in row.items() if k != "_index_row"}
        self._buffers.setdefault(self._partition(row), []).append(row)

    def finish_bundle(self):
        from pipeline.sinks.parquet import write_temp_parquet

        folder = temp_folder(self._output, self._run_id)
        for partition in sorted(self._buffers):
            rows = self._buffers[partition]
            temp, name, count = write_temp_parquet(folder, self._dataset, rows)
            publish(temp, final_path(self._output, self._dataset, partition, name))
            self._rows_counter.inc(count)
            self._files_counter.inc()
        self._buffers = {}


class SplitIndexRowFn(beam.DoFn):
    def process(self, row: dict):
        yield row["_index_row"]


class WriteStream(beam.PTransform):
    """Streaming counterpart of :class:`WriteArticles`: every dataset written per bundle."""

    def __init__(self, output: str, max_payload_bytes: Optional[int] = None, run_id: Optional[str] = None):
        super().__init__()
        self._output = output
        self._max_payload = max_payload_bytes or DEFAULT_MAX_PAYLOAD_BYTES
        self._run_id = run_id or uuid.uuid4().hex

    def expand(self, pcolls):
        rejected_rows = rejected_to_rows(pcolls["rejected"], self._max_payload)
        datasets = {**{k: v for k, v in pcolls.items() if k != "rejected"}, "rejected": rejected_rows}
        datasets["index"] = (pcolls["articles"], pcolls["duplicates"]) | "CollectIndexCarriers" >> beam.Flatten() \
            | "SplitIndexRows" >> beam.ParDo(SplitIndexRowFn())
        return {
            name: datasets[name] | f"Publish{name.title()}" >> beam.ParDo(PublishBundleFilesFn(self._output, name, self._run_id))
            for name in sorted(datasets)
        }
