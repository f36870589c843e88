"""Batch sink: the datasets of one run, published by ONE commit (``commit.py``).

Each bundle streams its rows per partition into staged Parquet files under
``_temporary/<run>/`` (row group by row group: memory bounded by ``MAX_BUFFERED_ROWS``, not by the
bundle) and emits one small descriptor per file; only descriptors are shuffled, all to one
key, with a sentinel so the commit step runs even for a run that wrote nothing.  The commit step
writes the run's commit record, renames every file into place (data first, the index last) and
drops the record.  Files of failed bundle attempts are never named by the record and go with the
staging folder.  The one-key step holds a descriptor per file (~300 B; files hold up to
``rows_per_file`` rows), not per record, as Beam's own ``WriteFiles`` finalisation does.
"""

from __future__ import annotations

import uuid
from typing import Optional

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

from pipeline import metrics
from pipeline.errors import DEFAULT_MAX_PAYLOAD_BYTES
from pipeline.progress import ProgressTally
from pipeline.sinks.commit import StagedFile, commit_and_publish, remove_staging
from pipeline.sinks.parquet import PARTITIONERS, ROW_GROUP_ROWS, TempParquetFile, final_path, temp_folder
from pipeline.sinks.rejected import rejected_to_rows

DEFAULT_ROWS_PER_FILE = 100_000
# Rows a bundle holds in memory across its open files before it writes the largest
# buffer out as a row group, and how many files it keeps open at once.
MAX_BUFFERED_ROWS = 20_000
MAX_OPEN_FILES = 64
COMMIT_KEY = "commit"


class WriteBundleFilesFn(beam.DoFn):
    """Rows -> staged Parquet files, one per (bundle, partition) and at most ``rows_per_file``
    rows each; emits ``(dataset, partition, temp, name, rows)`` for every closed file."""

    def __init__(self, output: str, dataset: str, run_id: str, rows_per_file: int):
        self._output = output
        self._dataset = dataset
        self._run_id = run_id
        self._rows_per_file = rows_per_file

    def setup(self) -> None:
        self._folder = temp_folder(self._output, self._run_id)
        self._partition = PARTITIONERS[self._dataset]
        self._row_group_rows = min(ROW_GROUP_ROWS, self._rows_per_file)
        self._progress = ProgressTally()

    def start_bundle(self) -> None:
        self._files: dict[str, TempParquetFile] = {}
        self._buffered = 0

    def process(self, row: dict):
        self._progress.add(self._dataset)
        partition = self._partition(row)
        temp_file = self._files.get(partition)
        if temp_file is None:
            if len(self._files) >= MAX_OPEN_FILES:
                yield self._close(max(self._files, key=lambda p: self._files[p].count))
            temp_file = self._files[partition] = TempParquetFile(
                self._folder, self._dataset, self._row_group_rows, partition)
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
        self._progress.flush()
        for partition in sorted(self._files):
            yield WindowedValue(self._close(partition), MIN_TIMESTAMP, [GlobalWindow()])

    def teardown(self) -> None:
        for temp_file in getattr(self, "_files", {}).values():
            temp_file.abort()  # a failed bundle: its staged files are never committed


class KeyForCommitFn(beam.DoFn):
    def process(self, file):
        yield COMMIT_KEY, file


class CommitRunFn(beam.DoFn):
    """Every staged file of the run (and the sentinel ``None``) -> one commit, then the files are
    renamed into place; counts the rows the run published and yields the final paths.  Repeatable:
    a retried commit step finishes what an earlier attempt began."""

    def __init__(self, output: str, run_id: str):
        self._output = output
        self._run_id = run_id

    def process(self, keyed):
        _, files = keyed
        staged = [
            StagedFile(dataset, temp, final_path(self._output, dataset, partition, name), count)
            for dataset, partition, temp, name, count in sorted(f for f in files if f is not None)
        ]
        commit_and_publish(self._output, self._run_id, self._run_id, staged)
        for file in staged:
            Metrics.counter(metrics.NAMESPACE, metrics.WRITTEN.format(dataset=file.dataset)).inc(file.rows)
            Metrics.counter(metrics.NAMESPACE, metrics.FILES_WRITTEN.format(dataset=file.dataset)).inc()
        remove_staging(self._output, self._run_id)
        for file in staged:
            yield file.final


class WriteArticles(beam.PTransform):
    """``{"articles", "duplicates", "rejected"[, "index", "feeds"]}`` -> the Parquet datasets,
    published together by one commit.  ``rejected`` holds ``Rejection``s; they become capped
    ``RejectedRecord`` rows.  Returns the published file paths."""

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
        for optional in ("index", "feeds", "pages"):
            if optional in pcolls:
                datasets[optional] = pcolls[optional]
        staged = [
            rows | f"Write{name.title().replace('_', '')}TempFiles" >> beam.ParDo(
                WriteBundleFilesFn(self._output, name, self._run_id, self._rows_per_file)
            )
            for name, rows in datasets.items()
        ]
        staged.append(pcolls["articles"].pipeline | "CommitSentinel" >> beam.Create([None]))
        return (
            staged
            | "CollectStagedFiles" >> beam.Flatten()
            | "KeyForCommit" >> beam.ParDo(KeyForCommitFn())
            | "GroupStagedFiles" >> beam.GroupByKey()
            | "CommitRun" >> beam.ParDo(CommitRunFn(self._output, self._run_id))
        )
