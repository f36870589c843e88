"""DuckDB over the output datasets: ``newsbeam query --output out/ "SQL"``."""

from __future__ import annotations

import csv
import io
import json
from typing import Optional

import duckdb
import pyarrow as pa

from schemas.arrow import dataset_schema
from schemas.models import DATASETS

PARTITION_COLUMNS = {
    "articles": ("published_date", pa.date32()),
    "duplicates": ("published_date", pa.date32()),
    "feeds": ("fetched_date", pa.date32()),
}


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def listing(output: str) -> dict[str, list[str]]:
    """Dataset -> its committed files (``pipeline.sinks.commit.committed_files``): what views are built on."""
    from pipeline.sinks.commit import committed_files

    return {dataset: [f.path for f in committed_files(output, dataset)] for dataset in DATASETS}


def connect(output: str, files: Optional[dict[str, list[str]]] = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with views ``articles``, ``duplicates``, ``rejected``, ``feeds``, ``pages``
    over the committed files only (``listing``: a run that has not committed is invisible, a
    committed one is visible whole even while its files are being renamed); ``files``: a listing
    already made.  A dataset with no files yet is an empty view with the right columns."""
    files = listing(output) if files is None else files
    con = duckdb.connect()
    for dataset in DATASETS:
        paths = files.get(dataset, [])
        if paths:
            listed = "[" + ", ".join(_literal(path) for path in paths) + "]"
            con.execute(
                f"CREATE VIEW {dataset} AS SELECT * FROM read_parquet({listed}, hive_partitioning = true, union_by_name = true)"
            )
        else:
            schema = dataset_schema(dataset)
            if dataset in PARTITION_COLUMNS:
                schema = schema.append(pa.field(*PARTITION_COLUMNS[dataset]))
            con.register(f"_{dataset}_empty", schema.empty_table())
            con.execute(f"CREATE VIEW {dataset} AS SELECT * FROM _{dataset}_empty")
    return con


def query_rows(output: str, sql: str, deadline_s: float = 120.0) -> tuple[list[str], list[tuple]]:
    """Columns and rows of ``sql`` over the committed data.  A file listed as committed can be
    replaced by a commit published while the query runs (a compaction, a roll-forward): the query
    then fails on the missing file and is run again on a fresh listing (after a short, growing
    pause), never answered from a mix.  It is run again only while the listing keeps changing
    (commits are landing), for at most ``deadline_s`` seconds; an error on an unchanged listing (a
    file really missing, a ``COPY`` to a path that cannot be written) is raised at once."""
    import time

    started = time.monotonic()
    attempt = 0
    while True:
        listed = listing(output)
        con = None
        try:
            con = connect(output, listed)  # creating a view opens files too
            relation = con.sql(sql)
            if relation is None:
                return [], []
            return relation.columns, relation.fetchall()
        except duckdb.IOException:
            if listing(output) == listed or time.monotonic() - started > deadline_s:
                raise
            time.sleep(min(0.05 * 2 ** min(attempt, 5), 1.0))
            attempt += 1
        finally:
            if con is not None:
                con.close()


def run_query(output: str, sql: str, fmt: str = "table", max_width: int = 60) -> str:
    columns, rows = query_rows(output, sql)
    if not columns:
        return ""
    if fmt == "json":
        return "\n".join(json.dumps(dict(zip(columns, row)), default=str, ensure_ascii=False) for row in rows)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        writer.writerows(rows)
        return buffer.getvalue().rstrip("\n")
    cells = [[_cell(v, max_width) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(columns, widths)), "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines)


def _cell(value, max_width: int) -> str:
    text = "NULL" if value is None else str(value)
    text = " ".join(text.split())
    return text if len(text) <= max_width else text[: max_width - 1] + "\u2026"
