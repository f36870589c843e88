"""Whole-job throughput of two checkouts side by side (e.g. main and a branch), tagging on.

    .venv/bin/python benchmarks/bench_tagging_ab.py --old /work/main --new . [--scale 10] [--rounds 2] [-- extra flags]

Builds the BBC x``scale`` corpus once (``benchmarks/corpus.py``), then runs ``python -m pipeline.cli
run`` on it with ``PYTHONPATH`` set to each checkout in turn, alternating old/new for ``--rounds``
rounds so that both see the same machine load; prints wall time and articles/s of every run and
the median of each.  Results are saved to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from corpus import DEFAULT_BBC, build, save_result  # noqa: E402


def run(checkout: Path, folder: Path, extra: list[str]) -> dict:
    out = Path(tempfile.mkdtemp(prefix="nb-ab-"))
    env = {**os.environ, "PYTHONPATH": str(checkout.resolve())}
    cmd = [sys.executable, "-m", "pipeline.cli", "run", "--input", f"{folder}/**", "--output", str(out), *extra]
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr, file=sys.stderr)
        raise SystemExit(f"run failed in {checkout}")
    counters = json.loads(next((out / "_manifests").glob("*.json")).read_text())["counters"]
    shutil.rmtree(out)
    read = counters.get("records_read", 0)
    return {"checkout": str(checkout), "wall_seconds": round(wall, 2), "records_read": read,
            "articles": counters.get("articles_written", 0), "articles_per_s": round(read / wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", type=Path, required=True)
    parser.add_argument("--new", type=Path, required=True)
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--bbc", type=Path, default=DEFAULT_BBC)
    parser.add_argument("--workdir", type=Path, default=HERE / "data")
    parser.add_argument("extra", nargs="*")
    args = parser.parse_args()
    folder = build(args.bbc, args.scale, args.workdir, "jsonl")
    runs = []
    for r in range(args.rounds):
        for label, checkout in (("old", args.old), ("new", args.new)):
            row = {"round": r + 1, "which": label, **run(checkout, folder, args.extra)}
            runs.append(row)
            print(f"round {r + 1} {label:3} ({checkout}): {row['wall_seconds']} s, {row['articles_per_s']:,} articles/s "
                  f"({row['records_read']:,} read, {row['articles']:,} articles)", flush=True)
    summary = {}
    for label in ("old", "new"):
        walls = [x["wall_seconds"] for x in runs if x["which"] == label]
        rates = [x["articles_per_s"] for x in runs if x["which"] == label]
        summary[label] = {"median_wall_seconds": statistics.median(walls), "median_articles_per_s": statistics.median(rates)}
    ratio = summary["new"]["median_articles_per_s"] / summary["old"]["median_articles_per_s"]
    print(f"median: old {summary['old']['median_articles_per_s']:,} articles/s, new {summary['new']['median_articles_per_s']:,} "
          f"articles/s (new/old = {ratio:.2f})")
    save_result("tagging-ab", {"scale": args.scale, "extra": args.extra, "runs": runs, "summary": summary, "ratio": round(ratio, 3)})


if __name__ == "__main__":
    main()
