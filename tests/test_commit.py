"""The commit protocol (pipeline/sinks/commit.py) with a crash injected at every step of a
publication: whatever the instant, committed data is visible whole, uncommitted data not at all,
and recovery leaves exactly what a clean publication leaves."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.sinks import commit, faults
from pipeline.sinks.commit import CommitError, StagedFile, commit_and_publish, committed_files, open_committed, recover
from pipeline.sinks.parquet import final_path, temp_folder, write_temp_parquet

RUN = "20260101T000000Z-abcdef"


def _article(i: int, day: int) -> dict:
    from datetime import datetime, timezone

    from conftest import NOW
    from pipeline.normalize.article import Normalizer
    from pipeline.records import RawRecord

    data = f"Headline {i}\n\nThe body of article {i} says something about number {i}.".encode()
    article = Normalizer().normalize(RawRecord(input_uri=f"/in/{i}.txt", input_format="text", payload=data, raw=data), NOW)
    return {**article, "article_id": f"{i:016x}", "published_at": datetime(2021, 8, day, tzinfo=timezone.utc)}


def _index(i: int) -> dict:
    return {"uid": f"u{i:015x}", "root_uid": f"u{i:015x}", "root_article_id": f"{i:016x}", "root_ts": None,
            "root_order": f"{i}", "keys": [f"t:{i:016x}"], "signature": None}


def _stage(out: Path) -> list[StagedFile]:
    """Three article partitions and two index files, staged as a run would."""
    folder = temp_folder(str(out), RUN)
    staged = []
    for day, ids in ((16, range(0, 3)), (17, range(3, 5)), (18, range(5, 9))):
        partition = f"published_date=2021-08-{day}"
        temp, name, count = write_temp_parquet(folder, "articles", [_article(i, day) for i in ids], partition=partition)
        staged.append(StagedFile("articles", temp, final_path(str(out), "articles", partition, name), count))
    for ids in (range(0, 5), range(5, 9)):
        temp, name, count = write_temp_parquet(folder, "index", [_index(i) for i in ids])
        staged.append(StagedFile("index", temp, final_path(str(out), "index", "", name), count))
    return staged


def _ids(out: Path, dataset: str, column: str) -> list:
    values = []
    for file in committed_files(str(out), dataset):
        with open_committed(file) as handle:
            values += pq.read_table(handle, columns=[column]).column(column).to_pylist()
    return sorted(values)


def _published(out: Path) -> set[str]:
    return {str(p.relative_to(out)) for p in out.rglob("*.parquet") if "_temporary" not in p.parts}


@pytest.fixture
def clean(tmp_path):
    out = tmp_path / "clean"
    commit_and_publish(str(out), RUN, RUN, _stage(out))
    commit.remove_staging(str(out), RUN)
    return out


ALL_ARTICLES = sorted(f"{i:016x}" for i in range(9))
ALL_UIDS = sorted(f"u{i:015x}" for i in range(9))
STEPS = ["before_commit_step", "before_commit", "after_commit"] + [f"after_rename:{k}" for k in range(1, 6)] + [
    "before_forget", "after_forget"]


@pytest.mark.parametrize("step", STEPS)
def test_a_crash_at_any_step_is_all_or_nothing_and_recovery_completes_it(step, tmp_path, monkeypatch, clean):
    out = tmp_path / "out"
    staged = _stage(out)
    monkeypatch.setenv(faults.ENV, step)
    monkeypatch.setenv(faults.STATE_ENV, str(tmp_path / "hits"))
    monkeypatch.setenv(faults.ACTION_ENV, "raise")
    with pytest.raises(faults.InjectedCrash):
        commit_and_publish(str(out), RUN, RUN, staged)
    monkeypatch.delenv(faults.ENV)
    committed = step not in ("before_commit_step", "before_commit")
    # At the instant of the crash, before any recovery: all or nothing, never a part, never twice.
    assert _ids(out, "articles", "article_id") == (ALL_ARTICLES if committed else [])
    assert _ids(out, "index", "uid") == (ALL_UIDS if committed else [])
    # A plain glob never sees an index file whose data is not published (the index goes last).
    if any(p.parent.name == "records" for p in out.rglob("*.parquet")):
        assert len([p for p in out.rglob("articles/*/*.parquet")]) == 3

    report = recover(str(out))  # the next run, whose owner check finds this process: same pid is alive
    expected = [RUN] if committed and step != "after_forget" else []  # after_forget: nothing left to do
    assert [r["commit"] for r in report.rolled_forward] == expected
    commit.remove_staging(str(out), RUN)  # the run itself is over (its owner is this test)
    if committed:
        assert _published(out) == _published(clean)
        assert _ids(out, "articles", "article_id") == ALL_ARTICLES
    else:
        assert _published(out) == set()
    assert not (out / "_commits").exists() and not (out / "_temporary").exists()
    again = recover(str(out))  # idempotent
    assert again.empty and _published(out) == (_published(clean) if committed else set())


def test_an_uncommitted_run_of_a_dead_process_is_rolled_back(tmp_path):
    out = tmp_path / "out"
    staged = _stage(out)
    commit.write_owner(str(out), RUN, "DirectRunner")
    owner = Path(temp_folder(str(out), RUN), commit.OWNER_FILE)
    # The owner file names a process that has ended.
    import json
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    document = json.loads(owner.read_text())
    owner.write_text(json.dumps({**document, "pid": int(dead.stdout)}))
    report = recover(str(out))
    assert report.rolled_back == [{"run": RUN, "files_removed": len(staged)}]
    assert not (out / "_temporary").exists() and _published(out) == set()


def test_a_live_runs_staged_files_are_left_alone(tmp_path):
    out = tmp_path / "out"
    _stage(out)
    commit.write_owner(str(out), RUN, "DirectRunner")  # this very process: alive
    report = recover(str(out))
    assert report.in_progress == [RUN] and report.empty
    assert len(list((out / "_temporary").rglob("*.inprogress"))) == 5


def test_a_committed_file_that_vanished_fails_loudly(tmp_path, monkeypatch):
    out = tmp_path / "out"
    staged = _stage(out)
    monkeypatch.setenv(faults.ENV, "after_commit")
    monkeypatch.setenv(faults.ACTION_ENV, "raise")
    with pytest.raises(faults.InjectedCrash):
        commit_and_publish(str(out), RUN, RUN, staged)
    monkeypatch.delenv(faults.ENV)
    os.remove(staged[0].temp)  # lost outside newsbeam
    with pytest.raises(CommitError):
        recover(str(out))


def test_listing_errors_are_raised_not_read_as_empty(tmp_path, monkeypatch):
    out = tmp_path / "out"
    commit_and_publish(str(out), RUN, RUN, _stage(out))

    def broken(patterns, limits=None):
        raise IOError("403 Forbidden: no storage.objects.list permission")

    monkeypatch.setattr(commit.FileSystems, "match", broken)
    with pytest.raises(IOError, match="403"):
        committed_files(str(out), "index")
