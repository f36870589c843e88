"""Streaming sink: every bundle of every dataset is one commit (``commit.py``).

A row that carries its index row (``INDEX_ROW``, set by streaming dedup: every article and
duplicate does) gives both, so a record's data and its index entry are staged, committed and
published together: the index never claims a record whose row is not visible.  Each dataset is
published where it is produced (no Flatten: the local runner holds a Flatten's output back until
the end of a streaming run), without a shuffle, so files appear while the job runs.  A file's
name is a digest of its row ids, so a retried bundle replaces its files instead of adding copies.
"""

from __future__ import annotations

import uuid
from typing import Optional

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline import metrics
from pipeline.records import INDEX_ROW
from pipeline.errors import DEFAULT_MAX_PAYLOAD_BYTES
from pipeline.sinks.commit import StagedFile, commit_and_publish
from pipeline.sinks.parquet import PARTITIONERS, final_path, temp_folder, write_temp_parquet
from pipeline.sinks.rejected import rejected_to_rows



class RouteToDatasetFn(beam.DoFn):
    def __init__(self, dataset: str):
        self._dataset = dataset

    def process(self, row: dict):
        yield self._dataset, row


class PublishBundleFn(beam.DoFn):
    """``(dataset, row)`` of one bundle -> staged files per dataset and partition -> one commit."""

    def __init__(self, output: str, run_id: str):
        self._output = output
        self._run_id = run_id

    def start_bundle(self) -> None:
        self._buffers: dict[tuple[str, str], list[dict]] = {}

    def _add(self, dataset: str, row: dict) -> None:
        self._buffers.setdefault((dataset, PARTITIONERS[dataset](row)), []).append(row)

    def process(self, element):
        dataset, row = element
        index_row = row.get(INDEX_ROW)
        if index_row is not None:
            row = {k: v for k, v in row.items() if k != INDEX_ROW}
            self._add("index", index_row)
        self._add(dataset, row)

    def finish_bundle(self):
        buffers, self._buffers = self._buffers, {}
        if not buffers:
            return
        folder = temp_folder(self._output, self._run_id)
        staged = []
        for (dataset, partition), rows in sorted(buffers.items()):
            temp, name, count = write_temp_parquet(folder, dataset, rows, partition=partition)
            staged.append(StagedFile(dataset, temp, final_path(self._output, dataset, partition, name), count))
        commit_and_publish(self._output, f"{self._run_id}-{uuid.uuid4().hex[:12]}", self._run_id, staged)
        for file in staged:
            Metrics.counter(metrics.NAMESPACE, metrics.WRITTEN.format(dataset=file.dataset)).inc(file.rows)
            Metrics.counter(metrics.NAMESPACE, metrics.FILES_WRITTEN.format(dataset=file.dataset)).inc()


class WriteStream(beam.PTransform):
    """Streaming counterpart of :class:`~pipeline.sinks.batch.WriteArticles`."""

    def __init__(self, output: str, max_payload_bytes: Optional[int] = None, run_id: Optional[str] = None):
        super().__init__()
        self._output = output
        self._max_payload = max_payload_bytes or DEFAULT_MAX_PAYLOAD_BYTES
        self._run_id = run_id or uuid.uuid4().hex

    def expand(self, pcolls):
        rejected_rows = rejected_to_rows(pcolls["rejected"], self._max_payload)
        datasets = {**{k: v for k, v in pcolls.items() if k != "rejected"}, "rejected": rejected_rows}
        return {
            name: datasets[name]
            | f"Route{name.title()}" >> beam.ParDo(RouteToDatasetFn(name))
            | f"Publish{name.title()}" >> beam.ParDo(PublishBundleFn(self._output, self._run_id))
            for name in sorted(datasets)
        }
