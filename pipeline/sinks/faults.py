"""Fault injection for the crash tests of the commit protocol (no effect unless asked for).

``NEWSBEAM_FAULT=<point>[@<dataset>][:<k>]`` ends the process at the k-th time (default 1) it
passes the named point of :mod:`pipeline.sinks.commit` (with ``@dataset``: only points of a commit
that publishes that dataset, e.g. ``after_rename@articles:1`` = a streaming bundle's article file
is published, its index file not yet):

    before_commit_step  a commit step starts (every file staged, nothing committed)
    before_commit       the record is about to be written
    after_commit        the record is written, nothing renamed
    after_rename        after each rename (data datasets first, the index last)
    after_remove        after each file a compaction replaces is deleted
    before_forget       every file renamed, the record still there
    after_forget        the record deleted, the staging folder still there

Hits are counted in the file named by ``NEWSBEAM_FAULT_STATE`` (shared by every process of a
job, so multi-process runners count together; without it every hit counts as the first).
``NEWSBEAM_FAULT_ACTION``: ``kill`` (default; SIGKILL of the process: nothing runs after it, not
even ``finally``) or ``raise`` (:class:`InjectedCrash`, for in-process tests).
"""

from __future__ import annotations

import fcntl
import os
import signal

ENV = "NEWSBEAM_FAULT"
STATE_ENV = "NEWSBEAM_FAULT_STATE"
ACTION_ENV = "NEWSBEAM_FAULT_ACTION"


class InjectedCrash(BaseException):
    """Raised at a fault point with ``NEWSBEAM_FAULT_ACTION=raise`` (a BaseException: no
    ``except Exception`` on the way may swallow it)."""


def _hits(state: str) -> int:
    with open(state, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        count = len(handle.read()) + 1
        handle.write("x")
    return count


def checkpoint(point: str, datasets: tuple = ()) -> None:
    """``datasets``: those of the commit passing the point."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    target, _, k = spec.partition(":")
    name, _, dataset = target.partition("@")
    if name != point or (dataset and dataset not in datasets):
        return
    state = os.environ.get(STATE_ENV)
    if (_hits(state) if state else 1) != int(k or 1):
        return
    if os.environ.get(ACTION_ENV) == "raise":
        raise InjectedCrash(spec)
    os.kill(os.getpid(), signal.SIGKILL)
