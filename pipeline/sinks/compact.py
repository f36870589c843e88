"""``newsbeam compact``: each partition's small files rewritten as few large ones, by one commit.

A streaming job writes one file per bundle and partition, so a day of polling leaves thousands of
small files and every query opens all of them.  Compaction merges the files of a partition into
files of up to ``target_rows`` rows (zstd, the dataset's schema, named by the digest of their row
ids like every other file) and publishes them with the output's commit protocol
(``commit.py``): the new files and the list of files they replace are one commit record.  A reader
that lists committed files sees the old files until the record exists and the new ones from then
on, never both and never neither; a crash at any step is rolled forward or back by the next run,
compaction or ``newsbeam recover``.

Only *quiet* partitions are compacted: every file in them older than ``older_than`` seconds, and
for dated partitions the date itself older than that too, so a partition a running job is still
filling is left alone.  (A running job only ever adds files; compaction only replaces files that
existed when it listed them.)  The ``_index`` is not compacted: a batch run that listed it at its
start reads those files later.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable, Optional

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from pipeline.sinks.commit import StagedFile, commit_and_publish, committed_files, recover, remove_staging, write_owner
from pipeline.sinks.parquet import ROW_GROUP_ROWS, _SetDigest, final_path, row_uid, staged_folder, temp_folder
from schemas.arrow import dataset_schema

COMPACTABLE = ("articles", "duplicates", "rejected", "feeds")
DEFAULT_TARGET_ROWS = 100_000
# Columns that make up a row's identity (``row_uid``) in each dataset.
ID_COLUMNS = {
    "articles": ["article_id"],
    "duplicates": ["article_id", "duplicate_of", "input_uri", "position"],
    "rejected": ["rejected_id"],
    "feeds": ["fetch_id"],
}


@dataclass
class PartitionPlan:
    dataset: str
    partition: str  # "published_date=2021-08-16", or "" for an unpartitioned dataset
    batches: list[list[tuple[str, int]]]  # [(file, rows), ...] per new file

    @property
    def files(self) -> int:
        return sum(len(b) for b in self.batches)


@dataclass
class CompactionReport:
    partitions: list[dict] = field(default_factory=list)  # {"dataset", "partition", "files_before", "files_after", "rows"}
    skipped_recent: int = 0

    def render(self, output: str) -> str:
        lines = [f"newsbeam compact {output}:"]
        for p in self.partitions:
            lines.append(f"  {p['dataset']}/{p['partition'] or '.'}: {p['files_before']} files -> {p['files_after']} "
                         f"({p['rows']:,} rows)")
        if not self.partitions:
            lines.append("  nothing to compact")
        if self.skipped_recent:
            lines.append(f"  left alone: {self.skipped_recent} partitions with recent files (a job may still write there)")
        return "\n".join(lines)


def parse_age(text: str) -> float:
    from pipeline.dedup.streaming import parse_horizon  # the one duration parser ('7d', '12h', '90m', '30s')

    return parse_horizon(text)


def _partition_of(output: str, dataset: str, path: str) -> str:
    folder = path.rsplit("/", 1)[0]
    root = FileSystems.join(output, dataset)
    return folder[len(root):].strip("/")


def _partition_date(partition: str) -> Optional[datetime]:
    _, _, value = partition.partition("=")
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    except ValueError:
        return None  # the NULL partition or no partition: judged by file age alone


def plan(output: str, datasets: Iterable[str] = COMPACTABLE, older_than: float = 86400.0,
         target_rows: int = DEFAULT_TARGET_ROWS, now: Optional[float] = None) -> tuple[list[PartitionPlan], int]:
    """The partitions worth compacting (two or more files under ``target_rows`` rows, all quiet),
    and how many were skipped as recent."""
    now = time.time() if now is None else now
    plans, recent = [], 0
    for dataset in datasets:
        by_partition: dict[str, list] = {}
        for file in committed_files(output, dataset):
            if file.fallback:
                continue  # staged by a commit in flight: not a published file of the partition yet
            by_partition.setdefault(_partition_of(output, dataset, file.path), []).append(file.path)
        for partition, paths in sorted(by_partition.items()):
            metadata = FileSystems.match(paths)
            ages = [now - m.metadata_list[0].last_updated_in_seconds for m in metadata if m.metadata_list]
            day = _partition_date(partition)
            if any(age < older_than for age in ages) or (
                    day is not None and day + timedelta(days=1) > datetime.fromtimestamp(now, timezone.utc) - timedelta(seconds=older_than)):
                recent += 1
                continue
            small = []
            for path in sorted(paths):
                with FileSystems.open(path) as handle:
                    rows = pq.ParquetFile(handle).metadata.num_rows
                if rows < target_rows:
                    small.append((path, rows))
            if len(small) < 2:
                continue
            batches, current, count = [], [], 0
            for path, rows in small:
                if current and count + rows > target_rows:
                    batches.append(current)
                    current, count = [], 0
                current.append((path, rows))
                count += rows
            batches.append(current)
            if len(batches) < len(small):
                plans.append(PartitionPlan(dataset, partition, batches))
    return plans, recent


def _merge(dataset: str, paths: list[str]) -> pa.Table:
    schema = dataset_schema(dataset)
    tables = []
    for path in paths:
        with FileSystems.open(path) as handle:
            table = pq.ParquetFile(handle).read()  # no hive inference: the partition column stays in the path
        tables.append(table.select(schema.names).cast(schema))
    return pa.concat_tables(tables)


def _write_staged(folder: str, dataset: str, partition: str, table: pa.Table) -> tuple[str, str]:
    digest = _SetDigest()
    for row in table.select(ID_COLUMNS[dataset]).to_pylist():
        digest.add(row_uid(dataset, row))
    target = staged_folder(folder, dataset, partition)
    try:
        FileSystems.mkdirs(target)
    except IOError:
        pass
    temp = FileSystems.join(target, f"{uuid.uuid4().hex}.parquet.inprogress")
    with FileSystems.create(temp) as handle:
        pq.write_table(table, handle, compression="zstd", row_group_size=ROW_GROUP_ROWS)
    return temp, f"part-{digest.hexdigest()}.parquet"


def compact(output: str, datasets: Iterable[str] = COMPACTABLE, older_than: float = 86400.0,
            target_rows: int = DEFAULT_TARGET_ROWS) -> CompactionReport:
    """Compact every quiet partition of ``datasets``; one commit per partition."""
    recover(output)
    plans, recent = plan(output, datasets, older_than, target_rows)
    report = CompactionReport(skipped_recent=recent)
    if not plans:
        return report
    run_id = datetime.now(timezone.utc).strftime("compact-%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
    write_owner(output, run_id, "DirectRunner")  # this process: a crash leaves staged files a later run removes
    folder = temp_folder(output, run_id)
    for item in plans:
        staged, replaced = [], []
        for batch in item.batches:
            paths = [path for path, _ in batch]
            table = _merge(item.dataset, paths)
            temp, name = _write_staged(folder, item.dataset, item.partition, table)
            staged.append(StagedFile(item.dataset, temp, final_path(output, item.dataset, item.partition, name),
                                     table.num_rows))
            replaced += paths
        # A batch that merges into a file of the same name (the same rows) does not remove it.
        replaced = [path for path in replaced if path not in {s.final for s in staged}]
        commit_and_publish(output, f"{run_id}-{len(report.partitions):05d}", run_id, staged, replaced)
        report.partitions.append({"dataset": item.dataset, "partition": item.partition,
                                  "files_before": item.files, "files_after": len(staged),
                                  "rows": sum(s.rows for s in staged)})
    # Only after success: on a crash the staged files stay for the next recovery (this process is
    # their owner; once it has ended they are rolled forward if committed, else back).
    remove_staging(output, run_id)
    return report


__all__ = ["COMPACTABLE", "DEFAULT_TARGET_ROWS", "CompactionReport", "compact", "parse_age", "plan"]
