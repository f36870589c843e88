"""``newsbeam`` command line: parses arguments and hands them over; no logic here."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Optional, Sequence

USAGE = """usage: newsbeam run --input GLOB [--input GLOB …] --output DIR [newsbeam and Beam options]
       newsbeam query --output DIR [--format table|csv|json] "SQL"
       newsbeam recover --output DIR
       newsbeam compact --output DIR [--dataset NAME …] [--older-than 1d] [--target-rows N]
       newsbeam report --output DIR [--html report.html]

commands:
  run     read, normalise, deduplicate, tag and write articles (see 'newsbeam run --help')
  query   run DuckDB SQL over the views articles, duplicates, rejected, feeds, pages (committed data only)
  recover finish (roll forward) or clean (roll back) what interrupted runs left in DIR; every run
          does this first by itself
  compact rewrite each quiet partition's small files as few large ones (one commit per partition)
  report  charts of the committed data (per day, source, duplicates, rejections, feed and page-fetch
          health, places, topics, people) in one self-contained HTML page that works offline
"""


def _run(argv: Sequence[str]) -> int:
    if any(a in ("-h", "--help") for a in argv):
        from pipeline.options import NewsbeamOptions

        parser = argparse.ArgumentParser(prog="newsbeam run", description="Run the newsbeam job. Any other flag goes to Beam (e.g. --runner, --direct_num_workers).")
        NewsbeamOptions._add_argparse_args(parser)
        parser.print_help()
        return 0
    from pipeline.job import UsageError, run_job

    try:
        summary = run_job(argv)
    except UsageError as exc:
        print(f"newsbeam run: {exc}\n\n{USAGE}", file=sys.stderr)
        return 2
    print(summary.render())
    if summary.state in ("DRY_RUN", "SUBMITTED"):
        return 0
    if summary.state == "INTERRUPTED":
        return 130
    return 0 if summary.balanced else 3


def _query(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="newsbeam query")
    parser.add_argument("--output", required=True, help="Output root written by 'newsbeam run'.")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    parser.add_argument("sql", help="SQL over the views articles, duplicates, rejected.")
    args = parser.parse_args(argv)
    from pipeline.query import run_query

    import duckdb

    try:
        print(run_query(args.output, args.sql, args.format))
    except duckdb.Error as exc:
        print(f"newsbeam query: {exc}", file=sys.stderr)
        return 1
    return 0


def _recover(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="newsbeam recover")
    parser.add_argument("--output", required=True, help="Output root written by 'newsbeam run'.")
    args = parser.parse_args(argv)
    from pipeline.sinks.commit import recover

    report = recover(args.output)
    lines = report.render() or ["  nothing to recover: every commit is published, no dead run's staged files"]
    lines += [f"  left alone: staged files of run {run} (it may still be running)" for run in report.in_progress]
    print(f"newsbeam recover {args.output}:\n" + "\n".join(lines))
    return 0


def _compact(argv: Sequence[str]) -> int:
    from pipeline.sinks.compact import COMPACTABLE, DEFAULT_TARGET_ROWS, compact, parse_age

    parser = argparse.ArgumentParser(prog="newsbeam compact")
    parser.add_argument("--output", required=True, help="Output root written by 'newsbeam run'.")
    parser.add_argument("--dataset", action="append", choices=COMPACTABLE,
                        help="Dataset to compact (repeatable; default: all but the internal _index).")
    parser.add_argument("--older-than", default="1d",
                        help="Leave partitions with a file (or a date) newer than this alone (default 1d; e.g. 12h, 0s).")
    parser.add_argument("--target-rows", type=int, default=DEFAULT_TARGET_ROWS, help="Rows per file at most.")
    args = parser.parse_args(argv)
    try:
        age = parse_age(args.older_than)
    except ValueError as exc:
        parser.error(f"--older-than: {exc}")
    report = compact(args.output, args.dataset or COMPACTABLE, age, args.target_rows)
    print(report.render(args.output))
    return 0


def _report(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="newsbeam report")
    parser.add_argument("--output", required=True, help="Output root written by 'newsbeam run'.")
    parser.add_argument("--html", default="report.html", help="Page to write (default report.html).")
    args = parser.parse_args(argv)
    try:
        import plotly  # noqa: F401 - the 'report' extra; pipeline.report imports it only where it draws

        from pipeline.report import summary_lines, write_report
    except ImportError as exc:  # plotly is the 'report' extra
        print(f"newsbeam report: {exc}; install it with: pip install 'newsbeam[report]'", file=sys.stderr)
        return 2
    data = write_report(args.output, args.html)
    print("\n".join(summary_lines(data, args.html)))
    return 0


class _QuietImportNoise(logging.Filter):
    """Beam warns at import that the (optional) GCP client libraries are missing."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "apitools not found" not in record.getMessage()


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().addFilter(_QuietImportNoise())
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "run":
        return _run(rest)
    if command == "query":
        return _query(rest)
    if command == "recover":
        return _recover(rest)
    if command == "compact":
        return _compact(rest)
    if command == "report":
        return _report(rest)
    print(f"newsbeam: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 2


def entry() -> None:
    """The ``newsbeam`` command.  After Ctrl-C (exit code 130) the summary is printed and every
    published file is complete; the process then ends at once instead of joining the local
    runner's threads, which an interrupt can leave waiting for data that never comes."""
    try:
        code = main()
    except KeyboardInterrupt:  # before the run's own handler was in place (recovery, option parsing)
        print("newsbeam: interrupted", file=sys.stderr)
        code = 130
    if code == 130:
        import os

        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
