"""DuckDB over the output datasets: ``newsbeam query --output out/ "SQL"``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import duckdb
import pyarrow as pa

from schemas.arrow import dataset_schema
from schemas.models import DATASETS

PARTITION_COLUMNS = {
    "articles": ("published_date", pa.date32()),
    "duplicates": ("published_date", pa.date32()),
    "feeds": ("fetched_date", pa.date32()),
}


def _has_files(output: str, dataset: str) -> bool:
    if "://" in output:
        return True
    return any(Path(output, dataset).glob("**/*.parquet"))


def connect(output: str) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with views ``articles``, ``duplicates``, ``rejected`` (empty, with
    the right columns, when a dataset has no files yet)."""
    con = duckdb.connect()
    for dataset in DATASETS:
        pattern = f"{output.rstrip('/')}/{dataset}/**/*.parquet"
        if _has_files(output, dataset):
            literal = pattern.replace("'", "''")
            con.execute(
                f"CREATE VIEW {dataset} AS SELECT * FROM read_parquet('{literal}', hive_partitioning = true, union_by_name = true)"
            )
        else:
            schema = dataset_schema(dataset)
            if dataset in PARTITION_COLUMNS:
                schema = schema.append(pa.field(*PARTITION_COLUMNS[dataset]))
            con.register(f"_{dataset}_empty", schema.empty_table())
            con.execute(f"CREATE VIEW {dataset} AS SELECT * FROM _{dataset}_empty")
    return con


def run_query(output: str, sql: str, fmt: str = "table", max_width: int = 60) -> str:
    con = connect(output)
    relation = con.sql(sql)
    if relation is None:
        return ""
    columns = relation.columns
    rows = relation.fetchall()
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
