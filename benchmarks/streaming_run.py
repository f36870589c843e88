"""A bounded local streaming run against a changing loopback feed: latency and memory.

    .venv/bin/python benchmarks/streaming_run.py [--duration 120] [--poll-interval 5] [--new-every 7]

A feed server on 127.0.0.1 publishes a new item every ``--new-every`` seconds (and keeps the last
20 items in its feed, so every poll also re-reads old items; every fifth new item is a near
duplicate of the previous one).  ``newsbeam run --streaming`` polls it for ``--duration`` seconds
in a child process.  Meanwhile the script queries the output with DuckDB every 0.5 s and records
when each item first becomes visible, and samples the child's resident memory.  Reports: items
published, articles and near duplicates written, each exactly once or not, the visibility
latency (median and max, in poll intervals), and RSS at 1 and 2 minutes.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from email.utils import formatdate
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from corpus import save_result  # noqa: E402
from loopback import serve  # noqa: E402
WORDS = ("airport minister troops refugees council market shares election police court storm river school hospital "
         "vaccine budget union strike festival album striker goal orbit rocket software network harvest drought "
         "bridge railway tunnel museum painting senate treaty border embassy").split()


def text(seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(120)) + "."


class Feed:
    def __init__(self, new_every: float) -> None:
        self.start = time.time()
        self.new_every = new_every
        self.first_served: dict[str, float] = {}
        self.near: set[str] = set()

    def items(self) -> list[tuple[str, str]]:
        n = 1 + int((time.time() - self.start) / self.new_every)
        out = []
        for i in range(max(0, n - 20), n):
            title = f"Item {i:04d}"
            body = text(i - 1) + " A sentence was added." if i % 5 == 4 and i > 0 else text(i)
            if i % 5 == 4 and i > 0:
                self.near.add(title)
            out.append((title, body))
        return out

    def render(self) -> bytes:
        items = self.items()
        now = time.time()
        for title, _ in items:
            self.first_served.setdefault(title, now)
        entries = "".join(
            f"<item><title>{t}</title><link>https://bench.example/{t.split()[1]}</link><guid>bench-{t.split()[1]}</guid>"
            f"<pubDate>{formatdate(now, usegmt=True)}</pubDate><description>{b}</description></item>"
            for t, b in reversed(items))
        return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Bench Wire</title>'
                f"<link>https://bench.example/</link>{entries}</channel></rss>").encode()


def responder(feed: Feed):
    def respond(_path: str):
        return 200, [("Content-Type", "application/rss+xml")], feed.render()

    return respond


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (MB)."""
    total = 0
    pids = [pid]
    try:
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=120)
    parser.add_argument("--poll-interval", type=float, default=5)
    parser.add_argument("--new-every", type=float, default=7)
    args = parser.parse_args()

    import duckdb

    feed = Feed(args.new_every)
    server = serve(responder(feed))
    work = Path(tempfile.mkdtemp(prefix="nb-stream-"))
    feeds = work / "feeds.txt"
    feeds.write_text(f"http://127.0.0.1:{server.server_address[1]}/feed\n")
    out = work / "out"
    cmd = [str(ROOT / ".venv" / "bin" / "newsbeam"), "run", "--streaming", "--feeds", str(feeds), "--output", str(out),
           "--poll-interval", str(args.poll_interval), "--duration", str(args.duration)]
    started = time.time()
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    visible: dict[str, float] = {}
    memory: dict[str, float] = {}
    peak = 0.0
    while child.poll() is None:
        elapsed = time.time() - started
        current = rss_mb(child.pid)
        peak = max(peak, current)
        for mark in (30, 60, 90, 120):
            if elapsed >= mark and f"{mark}s" not in memory:
                memory[f"{mark}s"] = round(current, 1)
        if current:
            memory["last sample"] = round(current, 1)
            memory["last sample at s"] = round(elapsed, 1)
        if list(out.glob("articles/**/*.parquet")):
            try:
                con = duckdb.connect()
                titles = [r[0] for r in con.execute(
                    f"SELECT title FROM read_parquet('{out}/articles/**/*.parquet') UNION ALL "
                    f"SELECT title FROM read_parquet('{out}/duplicates/**/*.parquet')"
                    if list(out.glob("duplicates/**/*.parquet")) else
                    f"SELECT title FROM read_parquet('{out}/articles/**/*.parquet')").fetchall()]
                now = time.time()
                for title in titles:
                    visible.setdefault(title, now)
            except duckdb.Error:
                pass  # a file renamed while listed: next round
        time.sleep(0.5)
    summary = child.stdout.read()
    server.shutdown()

    con = duckdb.connect()
    articles = [r[0] for r in con.execute(f"SELECT title FROM read_parquet('{out}/articles/**/*.parquet')").fetchall()]
    dups = con.execute(f"SELECT title, kind FROM read_parquet('{out}/duplicates/**/*.parquet')").fetchall()
    published = sorted(t for t, first in feed.first_served.items() if first <= started + args.duration - args.poll_interval)
    expected_near = {t for t in published if t in feed.near}
    latencies = [visible[t] - feed.first_served[t] for t in published if t in visible]
    result = {
        "duration_s": args.duration,
        "poll_interval_s": args.poll_interval,
        "items_published": len(published),
        "articles": len(articles),
        "articles_distinct": len(set(articles)),
        "near_duplicates": sorted(t for t, k in dups if k == "near"),
        "all_published_seen_once": all((articles + [t for t, _ in dups]).count(t) == 1 for t in published),
        "missing": [t for t in published if t not in visible],
        "latency_s_median": round(statistics.median(latencies), 2) if latencies else None,
        "latency_s_max": round(max(latencies), 2) if latencies else None,
        "rss_mb": memory,
        "rss_mb_peak": round(peak, 1),
    }
    result["near_as_expected"] = set(result["near_duplicates"]) == (expected_near & set(result["near_duplicates"])) and \
        expected_near <= set(result["near_duplicates"]) | set(result["missing"])
    print(summary)
    print(json.dumps(result, indent=2))
    save_result("streaming", result)


if __name__ == "__main__":
    sys.exit(main())
