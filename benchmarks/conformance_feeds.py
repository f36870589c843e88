"""Conformance on feedparser's own test corpus, served over loopback.

    .venv/bin/python benchmarks/conformance_feeds.py [--corpus ../shared/corpora/feedparser-tests]

Every file of the corpus (well-formed, ill-formed, encodings, entities, ...) is served by a
local HTTP server on 127.0.0.1 with the response headers its ``Header:`` comment lines name
(as feedparser's own test server does), all URLs go into one feed list, and the real job runs
on it (``newsbeam run --feeds LIST --no-tagging``).  Checks: the job finishes (no crash), every
feed has exactly one row in ``feeds/``, and every record is accounted for (read = articles +
duplicates + rejected + already in output).  Prints the counts (feeds by outcome, entries,
articles, duplicates, rejected by stage and reason) as Markdown and saves them to
benchmarks/results/.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from corpus import save_result  # noqa: E402
from loopback import serve  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpora" / "feedparser-tests"
_HEADER = re.compile(rb"^Header:\s*([^:\r\n]+):\s*(.*?)\s*$", re.MULTILINE)
_TYPES = {".xml": "application/xml", ".rdf": "application/rdf+xml", ".json": "application/feed+json"}


def served_files(corpus: Path) -> dict[str, tuple[bytes, list[tuple[str, str]]]]:
    """URL path -> (body, headers) for every test file."""
    out = {}
    for path in sorted(p for p in corpus.rglob("*") if p.is_file() and not p.name.startswith("LICENSE")):
        body = path.read_bytes()
        headers = [(k.decode("latin-1").strip(), v.decode("latin-1")) for k, v in _HEADER.findall(body)]
        out["/" + path.relative_to(corpus).as_posix()] = (body, headers)
    return out


def responder(files: dict):
    """Serve each test file with the headers its comment names (and a feed content type)."""

    def respond(path: str):
        found = files.get(path)
        if found is None:
            return 404, [], b""
        body, headers = found
        if "content-type" not in {k.lower() for k, _ in headers}:
            headers = [*headers, ("Content-Type", _TYPES.get(Path(path).suffix, "application/xml"))]
        return 200, headers, body

    return respond


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    if not args.corpus.is_dir():
        sys.exit(f"corpus not found: {args.corpus}")

    import duckdb

    from pipeline.job import run_job

    files = served_files(args.corpus)
    server = serve(responder(files))
    port = server.server_address[1]
    work = Path(tempfile.mkdtemp(prefix="nb-conformance-"))
    feed_list = work / "feeds.txt"
    feed_list.write_text("\n".join(f"http://127.0.0.1:{port}{path}" for path in files) + "\n")
    out = work / "out"
    started = time.perf_counter()
    summary = run_job(["--feeds", str(feed_list), "--output", str(out), "--no-tagging", "--fetch-retries", "0"])
    seconds = time.perf_counter() - started
    server.shutdown()

    con = duckdb.connect()

    def view(ds: str) -> str:
        return f"read_parquet('{out}/{ds}/**/*.parquet', hive_partitioning = true, union_by_name = true)"

    feeds_rows = con.execute(f"SELECT count(*), count(DISTINCT feed_url), sum(entries) FROM {view('feeds')}").fetchone()
    outcomes = con.execute(f"SELECT outcome, coalesce(error, '-'), count(*) FROM {view('feeds')} GROUP BY ALL ORDER BY 3 DESC").fetchall()
    bozo = con.execute(f"SELECT count(*) FROM {view('feeds')} WHERE bozo IS NOT NULL AND entries > 0").fetchone()[0]
    rejected = con.execute(f"SELECT stage, reason, count(*) FROM {view('rejected')} GROUP BY ALL ORDER BY 3 DESC").fetchall()
    result = {
        "files": len(files),
        "seconds": round(seconds, 1),
        "feed_rows": feeds_rows[0],
        "distinct_feeds": feeds_rows[1],
        "entries": int(feeds_rows[2] or 0),
        "records_read": summary.records_read,
        "articles": summary.written("articles"),
        "duplicates": summary.written("duplicates"),
        "rejected": summary.written("rejected"),
        "already_in_output": summary.already_written,
        "balanced": summary.balanced,
        "bozo_feeds_with_entries": bozo,
        "feeds_by_outcome": [list(r) for r in outcomes],
        "rejected_by_reason": [list(r) for r in rejected],
    }
    ok = summary.balanced and feeds_rows[0] == feeds_rows[1] == len(files)
    print(f"feedparser test corpus: {len(files):,} files served over loopback; job {seconds:.1f} s; "
          f"{'every feed and record accounted for' if ok else 'ACCOUNTING MISMATCH'}\n")
    print("| feeds | entries | records read | articles | duplicates | rejected | bozo feeds with entries kept |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {feeds_rows[0]:,} | {result['entries']:,} | {summary.records_read:,} | {result['articles']:,} | "
          f"{result['duplicates']:,} | {result['rejected']:,} | {bozo:,} |\n")
    print("| feed outcome | error | feeds |\n|---|---|---:|")
    for outcome, error, n in outcomes:
        print(f"| {outcome} | {error} | {n:,} |")
    print("\n| rejected stage | reason | rows |\n|---|---|---:|")
    for stage, reason, n in rejected:
        print(f"| {stage} | {reason} | {n:,} |")
    save_result("feed-conformance", result)
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
