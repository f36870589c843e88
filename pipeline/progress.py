"""Live progress of a local run: records read, rows staged, rate, elapsed, ETA.

The local runners do not report Beam metrics until the job ends, so the DoFns that read records
and stage rows also keep a small tally (:class:`ProgressTally`) that they write at most once a
second to a file of their own in the folder named by ``NEWSBEAM_PROGRESS_DIR``.  The driver sets
that variable for a local run (worker processes of ``multi_processing`` inherit it) and a thread
(:class:`ProgressReporter`) sums the files: on a terminal one line redrawn every second and
cleared at the end, otherwise a log line every 30 s.  Without the variable (Dataflow, Flink,
``--quiet``, tests) a tally does nothing.  Cost: a dict increment per element and one small file
write per second per DoFn instance.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Optional, TextIO

ENV = "NEWSBEAM_PROGRESS_DIR"
READ, BYTES, STAGED_ARTICLES, STAGED_DUPLICATES, STAGED_REJECTED = (
    "read", "bytes", "articles", "duplicates", "rejected")
FLUSH_EVERY_S = 1.0


class ProgressTally:
    """Counts of one DoFn instance (made in ``setup()``), flushed to its own file."""

    def __init__(self) -> None:
        folder = os.environ.get(ENV)
        self._path = Path(folder, f"{os.getpid()}-{uuid.uuid4().hex[:8]}.json") if folder else None
        self._counts: dict[str, int] = {}
        self._flushed = 0.0

    def add(self, kind: str, n: int = 1) -> None:
        if self._path is None:
            return
        self._counts[kind] = self._counts.get(kind, 0) + n
        now = time.monotonic()
        if now - self._flushed >= FLUSH_EVERY_S:
            self.flush(now)

    def flush(self, now: Optional[float] = None) -> None:
        if self._path is None or not self._counts:
            return
        temp = self._path.with_suffix(".tmp")
        temp.write_text(json.dumps(self._counts))
        os.replace(temp, self._path)
        self._flushed = time.monotonic() if now is None else now


def read_tallies(folder: Path) -> dict[str, int]:
    total: dict[str, int] = {}
    for path in folder.glob("*.json"):
        try:
            counts = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being replaced right now: counted at the next tick
        for kind, n in counts.items():
            total[kind] = total.get(kind, 0) + n
    return total


def render_line(counts: dict[str, int], elapsed: float, total_bytes: Optional[int]) -> str:
    read = counts.get(READ, 0)
    rate = read / elapsed if elapsed > 0 else 0.0
    line = (f"read {read:,} records ({rate:,.0f}/s) · staged {counts.get(STAGED_ARTICLES, 0):,} articles, "
            f"{counts.get(STAGED_DUPLICATES, 0):,} duplicates, {counts.get(STAGED_REJECTED, 0):,} rejected · "
            f"{elapsed:,.0f} s")
    done = counts.get(BYTES, 0)
    if total_bytes and done:
        fraction = min(done / total_bytes, 1.0)
        if fraction < 1:  # an estimate of the reading only: the later steps follow it
            line += f" · input {fraction:.0%} read, ETA {elapsed * (1 - fraction) / fraction:,.0f} s"
        else:
            line += " · input read, deduplicating and writing"
    return line


class ProgressReporter:
    """The driver's side: a thread that prints the sum of the tallies until ``stop()``."""

    def __init__(self, folder: Path, total_bytes: Optional[int] = None, stream: TextIO = sys.stderr,
                 interval: Optional[float] = None) -> None:
        self._folder = folder
        self._total = total_bytes
        self._stream = stream
        self._tty = stream.isatty()
        self._interval = interval if interval is not None else (1.0 if self._tty else 30.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="newsbeam-progress", daemon=True)
        self._started = time.monotonic()
        self._width = 0

    def start(self) -> "ProgressReporter":
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            line = render_line(read_tallies(self._folder), time.monotonic() - self._started, self._total)
            if self._tty:
                self._stream.write("\r" + line.ljust(self._width))
                self._width = len(line)
            else:
                self._stream.write(f"progress: {line}\n")
            self._stream.flush()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if self._tty and self._width:
            self._stream.write("\r" + " " * self._width + "\r")  # cleared: the summary follows
            self._stream.flush()
