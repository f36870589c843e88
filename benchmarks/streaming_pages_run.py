"""Memory of a bounded streaming run with full text on: a loopback feed publishes a new item every
``--new-every`` seconds (keeping its last 20 items, so every poll re-reads old ones), each linking
to an article page on the same loopback server; the job polls it for ``--duration`` seconds in a
child process with ``--full-text auto --allow-private-hosts``; the script samples the child's
resident memory (with its children) and counts page requests.

    PYTHONPATH=$PWD python benchmarks/streaming_pages_run.py [--duration 120] [--poll-interval 2] [--new-every 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from feedserver import body  # noqa: E402
from loopback import serve  # noqa: E402
from streaming_run import rss_mb  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=120)
    parser.add_argument("--poll-interval", type=float, default=2)
    parser.add_argument("--new-every", type=float, default=1)
    parser.add_argument("--page-delay", type=float, default=0.2)
    parser.add_argument("--full-text", default="auto", help="never: the same run without pages (the memory baseline)")
    parser.add_argument("extra", nargs="*", help="more job flags after --, e.g. -- --no-near-dedup")
    args = parser.parse_args()
    start = time.time()
    state = {"base": "", "pages": 0, "page_paths": set()}
    lock = threading.Lock()

    def respond(path: str):
        if path == "/robots.txt":
            return 200, [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"
        if path == "/feed":
            n = 1 + int((time.time() - start) / args.new_every)
            items = "".join(
                f"<item><title>Item {i:05d}</title><link>{state['base']}/a/{i}</link><guid>bench-{i}</guid>"
                f"<description>Teaser of item {i}.</description></item>" for i in range(max(0, n - 20), n))
            return 200, [("Content-Type", "application/rss+xml")], (
                f'<?xml version="1.0"?><rss version="2.0"><channel><title>Bench Wire</title>{items}</channel></rss>').encode()
        with lock:
            state["pages"] += 1
            state["page_paths"].add(path)
        i = path.rsplit("/", 1)[-1]
        paras = "".join(f"<p>{body(f'page{i}-{k}', 40)}</p>" for k in range(6))
        return 200, [("Content-Type", "text/html; charset=utf-8")], (
            f"<html lang='en'><head><title>Item {i}</title></head><body><article><h1>Item {i}</h1>{paras}</article></body></html>").encode()

    server = serve(respond)
    state["base"] = f"http://127.0.0.1:{server.server_address[1]}"
    work = Path(tempfile.mkdtemp(prefix="nb-pages-stream-"))
    feeds = work / "feeds.txt"
    feeds.write_text(state["base"] + "/feed\n")
    out = work / "out"
    cmd = [sys.executable, "-m", "pipeline.cli", "run", "--streaming", "--feeds", str(feeds), "--output", str(out),
           "--poll-interval", str(args.poll_interval), "--duration", str(args.duration), "--allow-private-hosts",
           "--page-delay", str(args.page_delay), "--no-tagging", "--full-text", args.full_text, *args.extra]
    started = time.time()
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=dict(os.environ))
    memory: dict[str, float] = {}
    peak = 0.0
    while child.poll() is None:
        elapsed = time.time() - started
        current = rss_mb(child.pid)
        peak = max(peak, current)
        for mark in (15, 30, 60, 90, 120, 180, 240, 300, 360):
            if elapsed >= mark and f"{mark}s" not in memory and current:
                memory[f"{mark}s"] = round(current, 1)
        time.sleep(0.5)
    summary = child.stdout.read()
    server.shutdown()
    import duckdb

    con = duckdb.connect()
    rows = con.execute(f"SELECT text_source, count(*) FROM read_parquet('{out}/articles/**/*.parquet', union_by_name = true) "
                       "GROUP BY 1").fetchall()
    result = {"duration_s": args.duration, "items_published": 1 + int(args.duration / args.new_every),
              "page_requests": state["pages"], "distinct_pages_requested": len(state["page_paths"]),
              "articles_by_text_source": dict(rows), "rss_mb": memory, "rss_mb_peak": round(peak, 1)}
    print(summary)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
