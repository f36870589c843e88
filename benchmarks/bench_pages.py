"""Pages/s of the full-text step against 20 loopback hosts (20 ports on 127.0.0.1), each answering
after an artificial latency, with default politeness and relaxed, side by side in one invocation:

    PYTHONPATH=$PWD python benchmarks/bench_pages.py [--pages-per-host 6] [--latency 0.05]

Each configuration runs the batch job on one feed list (one summary-only feed per host) into a
fresh output, after one unreported warm-up run; pages/s = pages fetched / wall time of the job
(feeds, dedup and writing included), and, net of the ``never`` run's time, of the page step alone.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from feedserver import body  # noqa: E402
from loopback import serve  # noqa: E402
from pipeline.job import run_job  # noqa: E402


def site(host_n: int, pages: int, latency: float, state: dict):
    def respond(path: str):
        time.sleep(latency)
        if path == "/robots.txt":
            return 200, [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"
        if path == "/feed.xml":
            base = state["base"]
            items = "".join(f"<item><title>Host {host_n} story {i}</title><link>{base}/a/{i}</link>"
                            f"<guid>{base}/a/{i}</guid><description>Teaser {i}.</description></item>" for i in range(pages))
            return 200, [("Content-Type", "application/rss+xml")], (
                f'<?xml version="1.0"?><rss version="2.0"><channel><title>Host {host_n}</title>{items}</channel></rss>').encode()
        n = path.rsplit("/", 1)[-1]
        paras = "".join(f"<p>{body(f'h{host_n}-{n}-{k}', 40)}</p>" for k in range(6))
        return 200, [("Content-Type", "text/html; charset=utf-8")], (
            f"<html lang='en'><head><title>Story {n}</title></head><body><article><h1>Story {n}</h1>{paras}</article></body></html>").encode()
    return respond


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--pages-per-host", type=int, default=6)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    baseline = None
    servers = []
    for n in range(args.hosts):
        state: dict = {}
        server = serve(site(n, args.pages_per_host, args.latency, state))
        state["base"] = f"http://127.0.0.1:{server.server_address[1]}"
        servers.append(server)
    with tempfile.TemporaryDirectory() as tmp:
        feeds = Path(tmp) / "feeds.txt"
        lines = []
        for server in servers:
            base = f"http://127.0.0.1:{server.server_address[1]}"
            lines.append(base + "/feed.xml")
        feeds.write_text("\n".join(lines) + "\n")
        configs = {
            "never (no page fetched: job overhead)": ["--full-text", "never"],
            "default (2 per host, 1 s delay)": [],
            "relaxed (8 per host, 0 s delay)": ["--page-concurrency-per-host", "8", "--page-delay", "0"],
        }
        print(f"{args.hosts} hosts x {args.pages_per_host} pages, {args.latency * 1000:.0f} ms latency per response")
        # warm-up (imports, the runner's first start), not reported
        run_job(["--feeds", str(feeds), "--output", str(Path(tmp) / "warmup"), "--full-text", "never", "--no-tagging"])
        for name, extra in configs.items():
            out = Path(tmp) / name.split()[0]
            started = time.monotonic()
            summary = run_job(["--feeds", str(feeds), "--output", str(out), "--allow-private-hosts", "--no-tagging",
                               "--fetch-concurrency", "20", *extra])
            wall = time.monotonic() - started
            fetched = summary.counters.get("pages_fetched", 0)
            used = summary.counters.get("pages_used", 0)
            if baseline is None:
                baseline = wall
            net = wall - baseline
            rate = f"{fetched / wall:6.1f} pages/s" + (f"; page step ~{net:5.1f} s = {fetched / net:5.1f} pages/s" if fetched and net > 0 else "")
            print(f"  {name:<38} {fetched:>4} pages ({used} used) in {wall:6.1f} s = {rate}")
    for server in servers:
        server.shutdown()


if __name__ == "__main__":
    main()
