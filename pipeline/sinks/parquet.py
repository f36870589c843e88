"""Atomic, deterministic Parquet files in hive-partitioned datasets.

A file is written under a temporary name that no reader glob matches
(``.part-….parquet.inprogress``) and renamed into place when complete, so a
killed run never leaves a half-written ``*.parquet`` visible.  The final name
is derived from the ids of the rows it holds (order-independent), so writing
the same rows again -- a rerun, a retried bundle -- replaces the file instead of
adding a second copy.  Partition folders are created explicitly.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Callable, Iterable, Optional

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from schemas.arrow import dataset_schema

DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"  # Hive's name for NULL; DuckDB reads it as NULL
ROW_GROUP_ROWS = 10_000
ID_FIELDS = {"articles": "article_id", "duplicates": "article_id", "rejected": "rejected_id"}
_MASK = (1 << 64) - 1


def date_partition(column: str, value: Optional[datetime]) -> str:
    return f"{column}={value.date().isoformat() if value else DEFAULT_PARTITION}"


def article_partition(row: dict) -> str:
    """``published_date=YYYY-MM-DD`` (UTC); unknown dates go to the Hive NULL partition."""
    return date_partition("published_date", row.get("published_at"))


def no_partition(row: dict) -> str:
    return ""


PARTITIONERS: dict[str, Callable[[dict], str]] = {
    "articles": article_partition,
    "duplicates": article_partition,
    "rejected": no_partition,
    "index": no_partition,
}
# Folder of each dataset under the output root.
DATASET_FOLDERS = {
    "articles": "articles",
    "duplicates": "duplicates",
    "rejected": "rejected",
    "index": "_index/records",
}


def row_uid(dataset: str, row: dict) -> str:
    """Identity of a row inside its dataset (names files, picks shards)."""
    if dataset == "duplicates":
        return f"{row['article_id']}|{row['duplicate_of']}|{row['input_uri']}|{row.get('position')}"
    if dataset == "articles":
        return row["article_id"]
    if dataset == "index":
        return row["uid"]
    return row[ID_FIELDS[dataset]]


def stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


class _SetDigest:
    """Order-independent digest of a set of row ids."""

    def __init__(self) -> None:
        self.total = 0
        self.count = 0

    def add(self, uid: str) -> None:
        self.total = (self.total + stable_hash(uid)) & _MASK
        self.count += 1

    def hexdigest(self) -> str:
        return hashlib.blake2b(f"{self.count}:{self.total}".encode(), digest_size=8).hexdigest()


def _mkdirs(path: str) -> None:
    try:
        FileSystems.mkdirs(path)
    except IOError:
        pass  # already there (mkdirs refuses existing folders)


def temp_folder(output: str, run_id: str) -> str:
    """Where a run's files wait before they are renamed into their datasets (no reader glob
    matches it: ``_temporary`` is outside every dataset folder)."""
    return FileSystems.join(output, "_temporary", run_id)


def write_temp_parquet(folder: str, dataset: str, rows: list[dict], row_group_rows: int = ROW_GROUP_ROWS) -> tuple[str, str, int]:
    """Write ``rows`` to a new temporary Parquet file in ``folder``; returns
    ``(temp path, content name, rows)``.  The content name depends only on the set of
    row ids, so the same rows always get the same final name."""
    schema = dataset_schema(dataset)
    _mkdirs(folder)
    temp = FileSystems.join(folder, f"{dataset}-{uuid.uuid4().hex}.parquet.inprogress")
    digest = _SetDigest()
    for row in rows:
        digest.add(row_uid(dataset, row))
    try:
        with FileSystems.create(temp) as handle:
            writer = pq.ParquetWriter(handle, schema, compression="zstd")
            for start in range(0, max(len(rows), 1), row_group_rows):
                writer.write_table(pa.Table.from_pylist(rows[start:start + row_group_rows], schema=schema))
            writer.close()
    except BaseException:
        if FileSystems.exists(temp):
            FileSystems.delete([temp])
        raise
    return temp, f"part-{digest.hexdigest()}.parquet", digest.count


def final_path(output: str, dataset: str, partition: str, name: str) -> str:
    folder = FileSystems.join(output, *DATASET_FOLDERS[dataset].split("/"))
    if partition:
        folder = FileSystems.join(folder, partition)
    return FileSystems.join(folder, name)


def publish(temp: str, final: str) -> None:
    """Move a finished temp file into its dataset folder (creating partition folders:
    a rename into a missing folder must never fail silently)."""
    _mkdirs(final.rsplit("/", 1)[0])
    FileSystems.rename([temp], [final])  # replaces a same-named file atomically (POSIX rename, GCS copy)


def write_parquet_file(output: str, dataset: str, partition: str, rows: Iterable[dict],
                       row_group_rows: int = ROW_GROUP_ROWS) -> tuple[str, int]:
    """Write ``rows`` as one Parquet file of ``dataset``/``partition`` under ``output``
    (temp file, then atomic rename); returns ``(final path, row count)``."""
    temp, name, count = write_temp_parquet(FileSystems.join(output, "_temporary", "direct"), dataset, list(rows), row_group_rows)
    final = final_path(output, dataset, partition, name)
    publish(temp, final)
    return final, count
