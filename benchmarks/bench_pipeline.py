"""Throughput and peak memory of newsbeam on scaled BBC corpora.

    .venv/bin/python benchmarks/bench_pipeline.py --scales 1 10 [--format jsonl|text] [-- extra Beam flags]
    .venv/bin/python benchmarks/bench_pipeline.py --scales 10 50 --roots /work/main . --skip-stages -- --no-tagging

For each scale: (1) each stage as a plain-Python loop over the same records
(read+decode, normalise, dedup keys, language, Parquet write), the floor a
Beam pipeline can approach; (2) the real job, ``newsbeam run``, in a child
process: wall time, articles/s and peak RSS.  ``--roots`` runs the job of several code
trees (PYTHONPATH=root, this interpreter) side by side on the same corpus, one after the
other per scale, so that their ratios hold on a noisy machine.  Results are printed and
saved to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from corpus import DEFAULT_BBC, build, save_result  # noqa: E402


def stage_loop(folder: Path, fmt: str, limit: int, tagging: bool = True) -> dict:
    """Per-stage cost on up to ``limit`` records, single process, no Beam."""
    from pipeline.dedup.exact import exact_keys
    from pipeline.dedup.minhash import MinHasher
    from pipeline.normalize.article import Normalizer
    from pipeline.sinks.parquet import write_parquet_file
    from pipeline.sources.files import read_file_records
    from pipeline.tagging import Tagger
    from pipeline.tagging.language import LanguageDetector, tag_language

    paths = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    timings: dict[str, float] = {}
    t = time.perf_counter()
    records = []
    for path in paths:
        for item in read_file_records(str(path), lambda p: open(p, "rb")):
            records.append(item)
        if len(records) >= limit:
            break
    records = records[:limit]
    timings["read"] = time.perf_counter() - t
    normalizer = Normalizer()
    now = datetime.now(timezone.utc)
    t = time.perf_counter()
    articles = [normalizer.normalize(r, now) for r in records]
    timings["normalize"] = time.perf_counter() - t
    t = time.perf_counter()
    keys = [k for a in articles for k in exact_keys(a)]
    timings["dedup_keys"] = time.perf_counter() - t
    hasher = MinHasher()
    t = time.perf_counter()
    for a in articles:
        signature = hasher.signature(a["text"])
        if signature is not None:
            hasher.band_keys(signature)
    timings["minhash"] = time.perf_counter() - t
    detector = LanguageDetector()
    t = time.perf_counter()
    articles = [tag_language(a, detector) for a in articles]
    timings["language"] = time.perf_counter() - t
    if tagging:
        tagger = Tagger()
        t = time.perf_counter()
        articles = [tagger.tag(a) for a in articles]
        timings["tagging"] = time.perf_counter() - t  # places, topics, entities, keywords (language is set already)
    out = tempfile.mkdtemp(prefix="nb-bench-")
    t = time.perf_counter()
    write_parquet_file(out, "articles", "published_date=__HIVE_DEFAULT_PARTITION__", articles)
    timings["parquet"] = time.perf_counter() - t
    shutil.rmtree(out)
    n = len(records)
    total = sum(timings.values())
    return {"records": n, "keys": len(keys), "seconds": timings, "per_article_us": {k: v / n * 1e6 for k, v in timings.items()},
            "loop_articles_per_s": n / total}


def _tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants, from /proc (KiB)."""
    total, stack, seen = 0, [pid], set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        stack.extend(int(c) for c in children)
    return total


def measure(cmd: list[str]) -> tuple[subprocess.Popen, float, int]:
    """Run ``cmd``; returns (finished process with .stdout/.stderr as text, wall seconds, peak RSS
    of its whole process tree in KiB, sampled every 0.1 s)."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tree_peak_kib = 0
    while proc.poll() is None:  # the whole process tree (workers of multi_processing included)
        tree_peak_kib = max(tree_peak_kib, _tree_rss_kib(proc.pid))
        time.sleep(0.1)
    stdout, stderr = proc.communicate()
    proc.stdout, proc.stderr = stdout, stderr
    return proc, time.perf_counter() - t, tree_peak_kib


def run_job(folder: Path, extra: list[str], root: Optional[Path] = None) -> dict:
    out = Path(tempfile.mkdtemp(prefix="nb-bench-out-"))
    if root is None:
        cmd = [str(ROOT / ".venv" / "bin" / "newsbeam"), "run"]
        env = None
    else:
        cmd = [sys.executable, "-m", "pipeline.cli", "run"]
        env = {**os.environ, "PYTHONPATH": str(root)}
    cmd += ["--input", f"{folder}/**", "--output", str(out), *extra]
    t = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out_log, tempfile.TemporaryFile("w+") as err_log:
        proc = subprocess.Popen(cmd, stdout=out_log, stderr=err_log, text=True, env=env, cwd=str(root) if root else None)
        tree_peak_kib = 0
        while True:  # the whole process tree (workers of multi_processing included), sampled
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            tree_peak_kib = max(tree_peak_kib, _tree_rss_kib(proc.pid))
            time.sleep(0.2)
        wall = time.perf_counter() - t
        returncode = os.waitstatus_to_exitcode(status)
        proc.returncode = returncode
        peak_kib = usage.ru_maxrss  # this child's own peak (exact, from the kernel)
        cpu = usage.ru_utime + usage.ru_stime  # this child's CPU time (the machine may be shared)
        if returncode != 0:
            out_log.seek(0)
            err_log.seek(0)
            print(out_log.read(), err_log.read()[-20000:], file=sys.stderr)
            raise SystemExit(f"newsbeam run failed ({returncode})")
    manifest = json.loads(next((out / "_manifests").glob("*.json")).read_text())
    shutil.rmtree(out)
    counters = manifest["counters"]
    read = counters.get("records_read", 0)
    return {
        "command": " ".join(cmd[1:]),
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "pipeline_seconds": manifest["wall_seconds"],
        "records_read": read,
        "articles": counters.get("articles_written", 0),
        "duplicates": counters.get("duplicates_written", 0),
        "rejected": counters.get("rejected_written", 0),
        "articles_per_s": round(read / wall, 1),
        "root": str(root) if root else str(ROOT),
        "counters": {k: v for k, v in counters.items() if k.startswith(("components/", "near/", "duplicates/"))},
        "peak_rss_mb": round(peak_kib / 1024, 1),
        "peak_rss_note": "max RSS of the job's main process (os.wait4; the job runs in one process unless multi_processing)",
        "peak_rss_tree_mb": round(tree_peak_kib / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--bbc", type=Path, default=DEFAULT_BBC)
    parser.add_argument("--format", choices=("jsonl", "text"), default="jsonl")
    parser.add_argument("--workdir", type=Path, default=HERE / "data")
    parser.add_argument("--stage-limit", type=int, default=5000, help="records timed in the per-stage loop")
    parser.add_argument("--roots", type=Path, nargs="+", help="code trees to compare (PYTHONPATH=root each)")
    parser.add_argument("--skip-stages", action="store_true", help="no plain-Python stage loop")
    parser.add_argument("extra", nargs="*", help="extra flags for 'newsbeam run' (after --)")
    args = parser.parse_args()
    if not args.bbc.is_dir():
        raise SystemExit(f"BBC corpus not found at {args.bbc}: the benchmark needs ../shared/corpora/bbc")
    results = []
    for scale in args.scales:
        folder = build(args.bbc, scale, args.workdir, args.format)
        stages = None
        if not args.skip_stages:
            stages = stage_loop(folder, args.format, args.stage_limit, tagging="--no-tagging" not in args.extra)
        for root in args.roots or [None]:
            job = run_job(folder, args.extra, root.resolve() if root else None)
            row = {"scale": scale, "format": args.format, "extra": args.extra, "stages": stages, "job": job,
                   "cpus": os.cpu_count()}
            results.append(row)
            print(f"x{scale} ({args.format}) [{job['root']}]: {job['records_read']:,} records -> {job['articles']:,} articles, "
                  f"{job['duplicates']:,} duplicates, {job['rejected']:,} rejected")
            print(f"  end to end: {job['wall_seconds']} s wall ({job['cpu_seconds']} s CPU), {job['articles_per_s']:,} articles/s, peak RSS {job['peak_rss_mb']} MB (process tree: {job['peak_rss_tree_mb']} MB)")
            if job["counters"]:
                print(f"  counters: {job['counters']}")
        if stages:
            per = ", ".join(f"{k} {v:.0f}" for k, v in stages["per_article_us"].items())
            print(f"  plain-Python stage loop: {stages['loop_articles_per_s']:,.0f} articles/s; us/article: {per}")
    save_result("pipeline", results)


if __name__ == "__main__":
    main()
