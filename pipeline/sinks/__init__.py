"""Sinks: the articles / duplicates / rejected Parquet datasets."""

from __future__ import annotations

import math
from typing import Optional

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline import metrics
from pipeline.errors import DEFAULT_MAX_PAYLOAD_BYTES, rejected_row
from pipeline.sinks.parquet import PARTITIONERS, row_uid, stable_hash, write_parquet_file

DEFAULT_ROWS_PER_FILE = 100_000


class PartitionRowFn(beam.DoFn):
    def __init__(self, dataset: str):
        self._dataset = dataset

    def process(self, row: dict):
        yield PARTITIONERS[self._dataset](row), row


class PartitionOfFn(beam.DoFn):
    def process(self, keyed):
        yield keyed[0]


class AssignShardFn(beam.DoFn):
    """(partition, row) -> ((partition, shard), row); shards per partition =
    ceil(rows / rows_per_file), the shard a stable hash of the row id, so the same
    rows always land in the same files."""

    def __init__(self, dataset: str, rows_per_file: int):
        self._dataset = dataset
        self._rows_per_file = rows_per_file

    def process(self, keyed, counts):
        partition, row = keyed
        shards = max(1, math.ceil(counts.get(partition, 1) / self._rows_per_file))
        shard = stable_hash(row_uid(self._dataset, row)) % shards
        yield (partition, shard), row


class WriteParquetFileFn(beam.DoFn):
    """One group -> one atomically written Parquet file."""

    def __init__(self, output: str, dataset: str):
        self._output = output
        self._dataset = dataset

    def setup(self) -> None:
        self._rows = Metrics.counter(metrics.NAMESPACE, metrics.WRITTEN.format(dataset=self._dataset))
        self._files = Metrics.counter(metrics.NAMESPACE, metrics.FILES_WRITTEN.format(dataset=self._dataset))

    def process(self, group):
        (partition, _shard), rows = group
        if self._dataset == "rejected":
            rows = list(rows)
            reasons: dict[tuple[str, str], int] = {}
            for row in rows:
                key = (row["stage"], row["reason"])
                reasons[key] = reasons.get(key, 0) + 1
        path, count = write_parquet_file(self._output, self._dataset, partition, rows)
        if self._dataset == "rejected":
            for (stage, reason), n in sorted(reasons.items()):
                Metrics.counter(metrics.NAMESPACE, metrics.REJECTED_BY_REASON.format(stage=stage, reason=reason)).inc(n)
        self._rows.inc(count)
        self._files.inc()
        yield path


class WriteDataset(beam.PTransform):
    """Rows of one dataset -> hive-partitioned Parquet files under ``output/dataset``."""

    def __init__(self, output: str, dataset: str, rows_per_file: int = DEFAULT_ROWS_PER_FILE):
        super().__init__()
        self._output = output
        self._dataset = dataset
        self._rows_per_file = rows_per_file

    def expand(self, rows):
        keyed = rows | "PartitionKey" >> beam.ParDo(PartitionRowFn(self._dataset))
        counts = keyed | "PartitionOf" >> beam.ParDo(PartitionOfFn()) | "CountPerPartition" >> beam.combiners.Count.PerElement()
        return (
            keyed
            | "AssignShard" >> beam.ParDo(AssignShardFn(self._dataset, self._rows_per_file), beam.pvalue.AsDict(counts))
            | "GroupByFile" >> beam.GroupByKey()
            | "WriteFiles" >> beam.ParDo(WriteParquetFileFn(self._output, self._dataset))
        )


class RejectionToRowFn(beam.DoFn):
    def __init__(self, max_payload_bytes: int):
        self._max = max_payload_bytes

    def process(self, rejection):
        yield rejected_row(rejection, self._max)


class WriteArticles(beam.PTransform):
    """``{"articles", "duplicates", "rejected"}`` -> the three Parquet datasets.
    ``rejected`` holds ``Rejection``s; they become capped ``RejectedRecord`` rows."""

    def __init__(self, output: str, rows_per_file: int = DEFAULT_ROWS_PER_FILE,
                 max_payload_bytes: Optional[int] = None):
        super().__init__()
        self._output = output
        self._rows_per_file = rows_per_file
        self._max_payload = max_payload_bytes or DEFAULT_MAX_PAYLOAD_BYTES

    def expand(self, pcolls):
        rejected_rows = pcolls["rejected"] | "RejectedRows" >> beam.ParDo(RejectionToRowFn(self._max_payload))
        return {
            "articles": pcolls["articles"] | "WriteArticleFiles" >> WriteDataset(self._output, "articles", self._rows_per_file),
            "duplicates": pcolls["duplicates"] | "WriteDuplicateFiles" >> WriteDataset(self._output, "duplicates", self._rows_per_file),
            "rejected": rejected_rows | "WriteRejectedFiles" >> WriteDataset(self._output, "rejected", self._rows_per_file),
        }
