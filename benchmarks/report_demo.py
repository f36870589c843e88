"""The README's report screenshot: a run over the seeds and BBC (x1), three loopback feeds polled
twice (one answers 304 the second time, one is gone), then ``newsbeam report`` and a screenshot
in headless Chromium.

    .venv/bin/python benchmarks/report_demo.py [--bbc ../shared/corpora/bbc] [--png docs/report.png]

Needs ../shared/corpora/bbc and Debian's chromium (/usr/bin/chromium).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from loopback import serve  # noqa: E402

from pipeline.job import run_job  # noqa: E402
from pipeline.report import summary_lines, write_report  # noqa: E402

EXAMPLES = ROOT / "seeds" / "examples"


def responder():
    hits: dict[str, int] = {}

    def respond(path: str):
        hits[path] = hits.get(path, 0) + 1
        if path == "/world.rss":
            return 200, [("Content-Type", "application/rss+xml")], (EXAMPLES / "world-news.rss").read_bytes()
        if path == "/updates.atom":  # unchanged since the first poll
            if hits[path] > 1:
                return 304, [("ETag", '"v1"')], b""
            return 200, [("Content-Type", "application/atom+xml"), ("ETag", '"v1"')], (EXAMPLES / "updates.atom").read_bytes()
        return 404, [("Content-Type", "text/plain")], b"gone"

    return respond


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bbc", default=str(ROOT.parent / "shared" / "corpora" / "bbc"))
    parser.add_argument("--png", default=str(ROOT / "docs" / "report.png"))
    parser.add_argument("--html", default=None, help="Keep the page here too.")
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("needs chromium (apt-get install chromium)")
    work = Path(tempfile.mkdtemp(prefix="newsbeam-report-"))
    out = work / "out"
    server = serve(responder())
    base = f"http://127.0.0.1:{server.server_address[1]}"
    feeds = work / "feeds.txt"
    feeds.write_text(f"{base}/world.rss\n{base}/updates.atom\n{base}/gone.rss\n")
    inputs = ["--input", str(ROOT / "seeds" / "**"), "--input", f"{args.bbc}/*/*.txt"]
    for n in range(2):
        summary = run_job([*inputs, "--feeds", str(feeds), "--output", str(out)])
        print(f"run {n + 1}: {summary.state}, {summary.written('articles')} articles written")
    server.shutdown()
    page = Path(args.html) if args.html else work / "report.html"
    data = write_report(str(out), str(page))
    print("\n".join(summary_lines(data, str(page))))
    png = Path(args.png)
    png.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                    f"--user-data-dir={work / 'profile'}", "--window-size=1200,3900", "--virtual-time-budget=10000",
                    f"--screenshot={png}", page.as_uri()], check=True, capture_output=True)
    print(f"screenshot: {png}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
