"""Atomic, deterministic Parquet files in hive-partitioned datasets.

A file is staged under the run's ``_temporary/<run>/<dataset>/<partition>/`` with a name no
reader glob matches (``<uuid>.parquet.inprogress``); the commit protocol (``commit.py``) decides
when it counts and renames it into place.  The final name is derived from the ids of the rows it
holds (order-independent), so writing the same rows again -- a rerun, a retried bundle --
replaces the file instead of adding a second copy.
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
ID_FIELDS = {"articles": "article_id", "duplicates": "article_id", "rejected": "rejected_id", "feeds": "fetch_id", "pages": "page_id"}
_MASK = (1 << 64) - 1


def date_partition(column: str, value: Optional[datetime]) -> str:
    return f"{column}={value.date().isoformat() if value else DEFAULT_PARTITION}"


def article_partition(row: dict) -> str:
    """``published_date=YYYY-MM-DD`` (UTC); unknown dates go to the Hive NULL partition."""
    return date_partition("published_date", row.get("published_at"))


def no_partition(row: dict) -> str:
    return ""


def fetch_partition(row: dict) -> str:
    return date_partition("fetched_date", row.get("fetched_at"))


PARTITIONERS: dict[str, Callable[[dict], str]] = {
    "articles": article_partition,
    "duplicates": article_partition,
    "rejected": no_partition,
    "index": no_partition,
    "feeds": fetch_partition,
    "pages": fetch_partition,
}
# Folder of each dataset under the output root.
DATASET_FOLDERS = {
    "articles": "articles",
    "duplicates": "duplicates",
    "rejected": "rejected",
    "index": "_index/records",
    "feeds": "feeds",
    "pages": "pages",
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


def staged_folder(folder: str, dataset: str, partition: str) -> str:
    """A staged file's folder keeps its dataset and partition (``published_date=…``), so a reader
    of a committed but not yet renamed file still gets the hive partition columns."""
    path = FileSystems.join(folder, *DATASET_FOLDERS[dataset].split("/"))
    return FileSystems.join(path, partition) if partition else path


class TempParquetFile:
    """A Parquet file written row group by row group under a temporary name in ``folder``:
    at most ``row_group_rows`` rows are held in memory, whatever the file's size.
    ``close()`` returns ``(temp path, content name, rows)``; the content name depends only
    on the set of row ids, so the same rows always get the same final name."""

    def __init__(self, folder: str, dataset: str, row_group_rows: int = ROW_GROUP_ROWS, partition: str = "") -> None:
        self._dataset = dataset
        self._schema = dataset_schema(dataset)
        self._row_group_rows = row_group_rows
        self._digest = _SetDigest()
        self._rows: list[dict] = []
        folder = staged_folder(folder, dataset, partition)
        _mkdirs(folder)
        self.temp = FileSystems.join(folder, f"{uuid.uuid4().hex}.parquet.inprogress")
        self._handle = FileSystems.create(self.temp)
        self._writer = pq.ParquetWriter(self._handle, self._schema, compression="zstd")

    @property
    def count(self) -> int:
        return self._digest.count

    @property
    def buffered(self) -> int:
        return len(self._rows)

    def add(self, row: dict) -> None:
        self._digest.add(row_uid(self._dataset, row))
        self._rows.append(row)
        if len(self._rows) >= self._row_group_rows:
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows as a row group."""
        if self._rows:
            rows, self._rows = self._rows, []
            try:
                self._writer.write_table(pa.Table.from_pylist(rows, schema=self._schema))
            except BaseException:
                self.abort()
                raise

    def close(self) -> tuple[str, str, int]:
        try:
            if self._rows or not self._digest.count:
                self._writer.write_table(pa.Table.from_pylist(self._rows, schema=self._schema))
                self._rows = []
            self._writer.close()
            self._handle.close()
        except BaseException:
            self.abort()
            raise
        return self.temp, f"part-{self._digest.hexdigest()}.parquet", self._digest.count

    def abort(self) -> None:
        try:
            self._handle.close()
        finally:
            if FileSystems.exists(self.temp):
                FileSystems.delete([self.temp])


def write_temp_parquet(folder: str, dataset: str, rows: Iterable[dict], row_group_rows: int = ROW_GROUP_ROWS,
                       partition: str = "") -> tuple[str, str, int]:
    """Write ``rows`` to a new staged Parquet file under ``folder``; returns
    ``(temp path, content name, rows)``."""
    temp_file = TempParquetFile(folder, dataset, row_group_rows, partition)
    for row in rows:
        temp_file.add(row)
    return temp_file.close()


def final_path(output: str, dataset: str, partition: str, name: str) -> str:
    folder = FileSystems.join(output, *DATASET_FOLDERS[dataset].split("/"))
    if partition:
        folder = FileSystems.join(folder, partition)
    return FileSystems.join(folder, name)


def write_parquet_file(output: str, dataset: str, partition: str, rows: Iterable[dict],
                       row_group_rows: int = ROW_GROUP_ROWS) -> tuple[str, int]:
    """Write ``rows`` as one Parquet file of ``dataset``/``partition`` under ``output``, outside
    any commit (the benchmarks' plain loop); returns ``(final path, row count)``."""
    temp, name, count = write_temp_parquet(FileSystems.join(output, "_temporary", "direct"), dataset, rows,
                                           row_group_rows, partition)
    final = final_path(output, dataset, partition, name)
    _mkdirs(final.rsplit("/", 1)[0])
    FileSystems.rename([temp], [final])
    return final, count
