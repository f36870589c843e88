"""newsbeam against the plain-Python loop of the same stages, side by side in one invocation.

    .venv/bin/python benchmarks/bench_side_by_side.py [--scales 10 50] [--shapes one-jsonl text jsonl-gz]
                                                      [--tagging] [--runs 1]

For every (shape, scale): the same generated corpus (corpus.py: BBC x N, every copy a near
duplicate) goes through (1) benchmarks/plain_loop.py, one process, no Beam; (2) ``newsbeam run``
with one worker; (3) ``newsbeam run --direct_num_workers 2 --direct_running_mode multi_processing``.
Each is a child process: wall time, records/s and the peak RSS of its whole process tree.  The
machine is shared and noisy: the three run one after another on the same input, and the ratios
(newsbeam / loop, 2 workers / 1 worker) are what to compare across sessions, not absolute times.
Results are printed as a table and saved to benchmarks/results/side-by-side-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from bench_pipeline import measure  # noqa: E402
from corpus import DEFAULT_BBC, SHAPES, build_shape, save_result  # noqa: E402

TWO_WORKERS = ["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"]


def _loop(folder: Path, tagging: bool) -> dict:
    out = Path(tempfile.mkdtemp(prefix="nb-loop-"))
    cmd = [sys.executable, str(HERE / "plain_loop.py"), str(folder), str(out)] + (["--tagging"] if tagging else [])
    proc, wall, peak = measure(cmd)
    shutil.rmtree(out, ignore_errors=True)
    if proc.returncode != 0:
        raise SystemExit(f"plain loop failed: {proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"system": "plain loop", "wall_s": round(wall, 2), "records": result["records"],
            "articles": result["articles"], "duplicates": result["duplicates"], "peak_rss_mb": round(peak / 1024)}


def _newsbeam(folder: Path, tagging: bool, extra: list[str], label: str) -> dict:
    out = Path(tempfile.mkdtemp(prefix="nb-side-"))
    cmd = [str(ROOT / ".venv" / "bin" / "newsbeam"), "run", "--input", f"{folder}/**", "--output", str(out),
           *([] if tagging else ["--no-tagging"]), *extra]
    proc, wall, peak = measure(cmd)
    if proc.returncode != 0:
        raise SystemExit(f"newsbeam failed: {proc.stdout[-2000:]} {proc.stderr[-2000:]}")
    manifest = json.loads(next((out / "_manifests").glob("*.json")).read_text())
    shutil.rmtree(out, ignore_errors=True)
    c = manifest["counters"]
    return {"system": label, "wall_s": round(wall, 2), "records": c.get("records_read", 0),
            "articles": c.get("articles_written", 0), "duplicates": c.get("duplicates_written", 0),
            "peak_rss_mb": round(peak / 1024)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--shapes", nargs="+", default=["one-jsonl", "text", "jsonl-gz"], choices=sorted(SHAPES))
    parser.add_argument("--tagging", action="store_true", help="tagging on (default: --no-tagging)")
    parser.add_argument("--bbc", type=Path, default=DEFAULT_BBC)
    parser.add_argument("--workdir", type=Path, default=HERE / "data")
    args = parser.parse_args()
    if not args.bbc.is_dir():
        raise SystemExit(f"BBC corpus not found at {args.bbc}: the benchmark needs ../shared/corpora/bbc")
    rows = []
    print(f"{'shape':<10} {'scale':>5} {'system':<22} {'wall s':>7} {'records/s':>10} {'vs loop':>8} {'peak RSS MB':>12}")
    for scale in args.scales:
        for shape in args.shapes:
            folder = build_shape(args.bbc, scale, args.workdir, shape)
            results = [_loop(folder, args.tagging),
                       _newsbeam(folder, args.tagging, [], "newsbeam, 1 worker"),
                       _newsbeam(folder, args.tagging, TWO_WORKERS, "newsbeam, 2 workers")]
            loop_rate = results[0]["records"] / results[0]["wall_s"]
            for r in results:
                r.update(shape=shape, scale=scale, records_per_s=round(r["records"] / r["wall_s"]),
                         vs_loop=round(r["records"] / r["wall_s"] / loop_rate, 2))
                print(f"{shape:<10} {scale:>5} {r['system']:<22} {r['wall_s']:>7} {r['records_per_s']:>10,} "
                      f"{r['vs_loop']:>8} {r['peak_rss_mb']:>12,}")
            two_vs_one = results[2]["records_per_s"] / results[1]["records_per_s"]
            print(f"{'':<10} {'':>5} 2 workers / 1 worker = {two_vs_one:.2f}; same output: "
                  f"{len({(r['articles'], r['duplicates']) for r in results[1:]}) == 1}")
            rows += results
    path = save_result("side-by-side", {"tagging": args.tagging, "cpus": os.cpu_count(), "rows": rows})
    print(f"saved {path}")


if __name__ == "__main__":
    main()
