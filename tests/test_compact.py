"""newsbeam compact: fewer files, the same rows, and no reader ever sees a row twice or not at all
(a reader thread queries while compactions run; a crash at every step is recovered)."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from conftest import EXAMPLES, SEEDS
from pipeline.job import run_job
from pipeline.query import query_rows
from pipeline.sinks import faults
from pipeline.sinks.commit import recover
from pipeline.sinks.compact import compact

IDS = {"articles": "article_id", "duplicates": "article_id || duplicate_of", "rejected": "rejected_id"}


@pytest.fixture(scope="module")
def small_files(tmp_path_factory):
    """An output with one file per row (as streaming leaves it)."""
    root = tmp_path_factory.mktemp("compact")
    out = root / "out"
    run_job(["--input", f"{SEEDS}/**", "--output", str(out), "--rows-per-file", "1", "--no-tagging"])
    return out


def _state(out: Path) -> dict:
    return {ds: sorted(r[0] for r in query_rows(str(out), f"SELECT {col} FROM {ds}")[1]) for ds, col in IDS.items()}


def _files(out: Path, dataset: str) -> int:
    return len(list((out / dataset).rglob("*.parquet")))


def test_compaction_keeps_every_row_once_in_fewer_files(small_files, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(small_files, out)
    before = _state(out)
    files_before = _files(out, "articles")
    report = compact(str(out), older_than=0)
    assert report.partitions and _files(out, "articles") < files_before
    assert _state(out) == before
    again = compact(str(out), older_than=0)  # nothing left to merge: idempotent
    assert not again.partitions and _state(out) == before


def test_recent_partitions_are_left_alone(small_files, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(small_files, out)
    files_before = _files(out, "articles")
    report = compact(str(out), older_than=3600)  # the files were written just now
    assert not report.partitions and report.skipped_recent >= 1 and _files(out, "articles") == files_before


@pytest.mark.parametrize("step", ["after_commit", "after_rename:1", "after_remove:1", "before_forget"])
def test_a_crash_during_compaction_is_recovered(step, small_files, tmp_path, monkeypatch):
    out = tmp_path / "out"
    shutil.copytree(small_files, out)
    before = _state(out)
    monkeypatch.setenv(faults.ENV, step)
    monkeypatch.setenv(faults.STATE_ENV, str(tmp_path / "hits"))
    monkeypatch.setenv(faults.ACTION_ENV, "raise")
    with pytest.raises(faults.InjectedCrash):
        compact(str(out), older_than=0)
    monkeypatch.delenv(faults.ENV)
    assert _state(out) == before  # at the instant of the crash: every row once
    recover(str(out))
    assert _state(out) == before
    files = [p for p in out.rglob("*.parquet") if "_temporary" not in p.parts]
    assert len(files) == len({p.name for p in files})  # no file both old and new


def test_a_concurrent_reader_never_sees_a_row_twice_or_not_at_all(small_files, tmp_path):
    expected = None
    seen: list = []
    errors: list = []
    stop = threading.Event()
    outs = []
    for n in range(4):
        out = tmp_path / f"out{n}"
        shutil.copytree(small_files, out)
        outs.append(out)
    expected = {ds: len(ids) for ds, ids in _state(outs[0]).items()}
    current = {"out": outs[0]}

    def read() -> None:
        while not stop.is_set():
            out = current["out"]
            try:
                for ds, col in IDS.items():
                    (total, distinct), = query_rows(str(out), f"SELECT count(*), count(DISTINCT {col}) FROM {ds}")[1]
                    seen.append((ds, total, distinct))
            except Exception as exc:  # noqa: BLE001 - recorded: the assertion below fails on it
                errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for out in outs:
            current["out"] = out
            compact(str(out), older_than=0)
    finally:
        stop.set()
        reader.join(timeout=60)
    assert not errors, errors[:3]
    assert len(seen) >= 3
    assert all(total == distinct == expected[ds] for ds, total, distinct in seen), [s for s in seen if s[1] != expected[s[0]]][:5]


def test_a_file_really_missing_still_fails_the_query(small_files, tmp_path, monkeypatch):
    """The retry is for files a commit replaced meanwhile; a listed file that stays unreadable
    (lost outside newsbeam) fails the query loudly once the deadline has passed."""
    import duckdb

    from pipeline.sinks import commit

    listed = commit.committed_files

    def with_a_lost_file(output, dataset):
        return listed(output, dataset) + [commit.CommittedFile(str(tmp_path / "lost.parquet"))]

    monkeypatch.setattr(commit, "committed_files", with_a_lost_file)
    with pytest.raises(duckdb.IOException):
        query_rows(str(small_files), "SELECT count(*) FROM articles", deadline_s=0.3)
