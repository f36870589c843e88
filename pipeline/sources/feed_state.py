"""The one reader of feed state: what earlier committed runs recorded in ``OUTPUT/feeds/``.

Batch runs take each feed's validators (ETag / Last-Modified of its latest successful fetch) for
a conditional GET: a batch run publishes its feed rows and its articles in one commit, so a
validator never outlives the entries it covered.  A streaming job publishes per bundle: a feed row
may be committed while the entries of that poll were still in flight when the job was killed, so a
restarted job resumes back-off from the feed rows but polls each feed once unconditionally
(entries already written are then "already in output", the others are written: exactly once).
"""

from __future__ import annotations

from typing import Optional

import pyarrow.parquet as pq

from pipeline.sinks.commit import committed_files, open_committed

_COLUMNS = ["feed_url", "fetched_at", "outcome", "etag", "last_modified"]


def feed_history(output: str) -> dict[str, list[dict]]:
    """Feed URL -> its committed fetch rows, oldest first (a first run: empty; any other
    file-system error is raised)."""
    rows: dict[str, list[dict]] = {}
    for file in committed_files(output, "feeds"):
        with open_committed(file) as handle:
            table = pq.read_table(handle, columns=_COLUMNS)
        for row in table.to_pylist():
            rows.setdefault(row["feed_url"], []).append(row)
    return {url: sorted(history, key=lambda r: r["fetched_at"]) for url, history in sorted(rows.items())}


def latest_validators(history: list[dict]) -> Optional[tuple]:
    """``(etag, last_modified)`` of the latest successful fetch that had any."""
    validators = None
    for row in history:
        if row["outcome"] in ("ok", "not_modified") and (row["etag"] or row["last_modified"]):
            validators = (row["etag"], row["last_modified"])
    return validators


def failure_streak(history: list[dict]) -> int:
    """Failed fetches in a row at the end of the history (the back-off to resume)."""
    streak = 0
    for row in reversed(history):
        if row["outcome"] != "error":
            break
        streak += 1
    return streak
