#!/bin/bash
# Outputs of two code trees on the same input, row for row (articles, duplicates, index).
#   benchmarks/compare_outputs.sh INPUT_GLOB [OLD_ROOT] [NEW_ROOT]   (default /work/main and this tree)
set -e
IN=$1; OLD=${2:-/work/main}; NEW=${3:-$(cd "$(dirname "$0")/.." && pwd)}
rm -rf /tmp/cmp-old /tmp/cmp-new
PYTHONPATH=$OLD /work/main/.venv/bin/python -m pipeline.cli run --input "$IN" --output /tmp/cmp-old --no-tagging > /tmp/cmp-old.log 2>&1
PYTHONPATH=$NEW /work/main/.venv/bin/python -m pipeline.cli run --input "$IN" --output /tmp/cmp-new --no-tagging > /tmp/cmp-new.log 2>&1
/work/main/.venv/bin/python - <<'PY'
import duckdb
con = duckdb.connect()
for ds, cols in (("articles", "article_id, input_uri, position, cluster_id, duplicate_count"),
                 ("duplicates", "article_id, input_uri, position, duplicate_of, kind, matched_on, similarity, cluster_id"),
                 ("_index/records", "uid, root_uid, root_article_id, root_ts, root_order, keys, signature")):
    q = lambda d: f"SELECT {cols} FROM read_parquet('/tmp/cmp-{d}/{ds}/**/*.parquet')"
    n_old = con.execute(f"SELECT count(*) FROM ({q('old')})").fetchone()[0]
    diff1 = con.execute(f"SELECT count(*) FROM ({q('old')} EXCEPT ALL {q('new')})").fetchone()[0]
    diff2 = con.execute(f"SELECT count(*) FROM ({q('new')} EXCEPT ALL {q('old')})").fetchone()[0]
    print(f"{ds}: {n_old} rows; only in old {diff1}, only in new {diff2}")
PY
