"""Crash-safe publishing, end to end: the real job is SIGKILLed at every kind of publish step
(fault points of pipeline/sinks/faults.py), or its whole process group mid-run, and the same
command is run again.  The final articles, duplicates, rejected and _index must equal a clean
run's: same ids, none twice, none missing.  Before the rerun, ``newsbeam query`` must see all of
the killed run or nothing of it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from feedserver import body
from pipeline.job import run_job
from pipeline.query import connect
from pipeline.sinks import faults

ROOT = Path(__file__).resolve().parent.parent
DATASET_IDS = {"articles": "article_id", "duplicates": "article_id || '>' || duplicate_of",
               "rejected": "rejected_id", "_index/records": "uid"}


def _corpus(folder: Path) -> Path:
    """40 records over four days: 24 distinct stories, 8 exact copies, 8 near copies (a sentence
    added), 3 bad JSON lines, and two text files."""
    folder.mkdir(parents=True)
    lines = []
    for i in range(24):
        text = body(f"crash{i}", 90)
        day = 16 + i % 4
        record = {"title": f"Story {i}", "text": text, "url": f"https://wire.example/{i}",
                  "published_at": f"2021-08-{day}T10:00:00Z"}
        lines.append(json.dumps(record))
        if i < 8:
            lines.append(json.dumps({**record, "url": f"https://mirror.example/{i}"}))  # exact copy
        elif i < 16:
            lines.append(json.dumps({**record, "url": f"https://other.example/{i}",
                                     "text": text + " A sentence was added by the second paper."}))  # near copy
    lines[5:5] = ["{not json", '{"title": "no text"', "[1, 2"]
    half = len(lines) // 2
    (folder / "wire-1.jsonl").write_text("\n".join(lines[:half]) + "\n")
    (folder / "wire-2.jsonl").write_text("\n".join(lines[half:]) + "\n")
    (folder / "local.txt").write_text("Local headline\n\n" + body("local", 80))
    (folder / "empty.txt").write_text("")
    return folder


def _args(src: Path, out: Path) -> list[str]:
    return ["--input", f"{src}/*", "--output", str(out), "--rows-per-file", "3", "--no-tagging"]


def snapshot(out: Path) -> dict[str, list]:
    """Every id of every dataset as a plain glob sees it (so a row twice shows twice)."""
    con = duckdb.connect()
    result = {}
    for dataset, column in DATASET_IDS.items():
        files = list((out / dataset).rglob("*.parquet"))
        result[dataset] = sorted(
            r[0] for r in con.execute(f"SELECT {column} FROM read_parquet('{out}/{dataset}/**/*.parquet')").fetchall()
        ) if files else []
    return result


def committed_counts(out: Path) -> dict[str, int]:
    con = connect(str(out))
    return {ds: con.execute(f"SELECT count(*) FROM {ds}").fetchone()[0] for ds in ("articles", "duplicates", "rejected")}


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    root = tmp_path_factory.mktemp("clean")
    src = _corpus(root / "in")
    out = root / "out"
    summary = run_job(_args(src, out))
    assert summary.balanced and not list(out.glob("_temporary")) and not list(out.glob("_commits"))
    files = {ds: summary.counters.get(f"files_written/{ds}", 0) for ds in ("articles", "duplicates", "rejected", "index")}
    return src, snapshot(out), files, summary


def _killed_run(src: Path, out: Path, tmp: Path, point: str, extra: list[str] = ()) -> subprocess.CompletedProcess:
    tmp.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, faults.ENV: point, faults.STATE_ENV: str(tmp / "fault-hits"),
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", *_args(src, out), *extra], env=env,
                          capture_output=True, text=True, timeout=300, start_new_session=True)
    assert done.returncode == -signal.SIGKILL, done.stderr[-3000:]
    return done


def _points(files: dict[str, int]) -> list[tuple[str, bool]]:
    """(fault point, whether the killed run had committed), for every kind of publish step."""
    data = files["articles"] + files["duplicates"] + files["rejected"]
    return [
        ("before_commit_step", False),  # every file staged, nothing committed
        ("before_commit", False),
        ("after_commit", True),  # the record written, nothing renamed
        ("after_rename:1", True),  # the first file published
        (f"after_rename:{files['articles']}", True),  # between datasets: articles done, duplicates not
        (f"after_rename:{data}", True),  # between data and index
        (f"after_rename:{data + 1}", True),  # in the middle of the index
        ("before_forget", True),  # everything renamed, the record still there
        ("after_forget", True),  # the record gone, the staging folder left
    ]


def test_a_crash_at_every_publish_step_is_rolled_forward_or_back_by_the_next_run(clean, tmp_path):
    src, expected, files, clean_summary = clean
    assert files["articles"] >= 3 and files["index"] >= 2  # several files per dataset: the kill points differ
    for n, (point, committed) in enumerate(_points(files)):
        out = tmp_path / f"out{n}"
        _killed_run(src, out, tmp_path / f"f{n}", point)
        # Before any recovery, newsbeam query sees the killed run whole or not at all.
        seen = committed_counts(out)
        want = {ds: len(expected[ds]) if committed else 0 for ds in ("articles", "duplicates", "rejected")}
        assert seen == want, point
        # A plain glob never sees index rows for records whose data files are not published.
        globbed = snapshot(out)
        if globbed["_index/records"]:
            assert globbed["articles"] == expected["articles"] and globbed["duplicates"] == expected["duplicates"], point
        # The same command again: the output ends exactly as a clean run leaves it.
        again = run_job(_args(src, out))
        assert again.balanced, point
        assert snapshot(out) == expected, point
        assert not (out / "_temporary").exists() and not (out / "_commits").exists(), point
        if committed:  # every record was already written; rejections are rewritten to the same files
            assert again.written("articles") == again.written("duplicates") == 0, point
            assert again.already_written == clean_summary.records_read - clean_summary.written("rejected"), point
            if point != "after_forget":
                assert [r["run"] for r in again.recovery["rolled_forward"]] and "rolled forward" in again.render(), point
        else:
            assert again.written("articles") == clean_summary.written("articles"), point
            assert again.recovery["rolled_back"][0]["files_removed"] == sum(files.values()), point
            assert "rolled back" in again.render(), point


def test_sigkill_of_the_whole_process_group_mid_run(clean, tmp_path):
    """Two worker processes; the group is killed once the first bundle has staged a file."""
    src, expected, _, _ = clean
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    child = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "run", *_args(src, out), "--direct_num_workers", "2",
         "--direct_running_mode", "multi_processing"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 240
    try:
        while not list((out / "_temporary").glob("*/**/*.inprogress")):  # the marker: a staged file
            assert child.poll() is None, "the job ended before staging a file"
            assert time.monotonic() < deadline, "no staged file in 240 s"
            time.sleep(0.02)
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(timeout=60)
    state = committed_counts(out)
    assert state in ({"articles": 0, "duplicates": 0, "rejected": 0},
                     {ds: len(expected[ds]) for ds in ("articles", "duplicates", "rejected")})
    again = run_job(_args(src, out))
    assert again.balanced and snapshot(out) == expected
    assert not (out / "_temporary").exists()


# --- streaming -------------------------------------------------------------------------------
WIRE_ENTRIES = 12  # /wire-a and /wire-b serve six entries each (tests/feedserver.py)


def _streaming(out: Path, feeds: Path, env_extra: dict, duration: int) -> subprocess.CompletedProcess:
    """A streaming job that polls for ``duration`` seconds, then drains and ends by itself
    (so every polled entry has been processed when it returns)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", "--streaming", "--feeds", str(feeds), "--poll-interval", "1",
         "--duration", str(duration), "--output", str(out), "--no-tagging"],
        env=env, capture_output=True, text=True, start_new_session=True, timeout=300)


def _run_to_the_end(out: Path, feeds: Path) -> str:
    done = _streaming(out, feeds, {}, duration=3)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    return done.stdout


def _stream_snapshot(out: Path) -> dict[str, list]:
    ids = snapshot(out)
    return {"entries": sorted(ids["articles"] + [d.split(">")[0] for d in ids["duplicates"]]),
            "index": ids["_index/records"]}


@pytest.fixture(scope="module")
def wire(tmp_path_factory):
    from feedserver import FeedServer

    root = tmp_path_factory.mktemp("wire")
    with FeedServer() as server:
        feeds = root / "feeds.txt"
        feeds.write_text(f"{server.url('/wire-a')}\n{server.url('/wire-b')}\n")
        clean = root / "clean"
        _run_to_the_end(clean, feeds)
        yield feeds, _stream_snapshot(clean)


@pytest.mark.parametrize("point", [
    "after_commit@articles:1",   # a bundle's record written, nothing renamed
    "after_rename@articles:1",   # a bundle's article file published, its index file not yet
    "after_forget@articles:1",   # between two bundles
    "before_commit@duplicates:1",  # a bundle staged, not committed
])
def test_a_streaming_job_killed_while_publishing_writes_every_entry_once_after_a_restart(point, wire, tmp_path):
    feeds, expected = wire
    assert len(expected["entries"]) == WIRE_ENTRIES == len(set(expected["entries"]))
    out = tmp_path / "out"
    killed = _streaming(out, feeds, {faults.ENV: point, faults.STATE_ENV: str(tmp_path / "hits")}, duration=30)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]  # the fault point was reached
    printed = _run_to_the_end(out, feeds)  # the same job restarted
    assert _stream_snapshot(out) == expected, printed  # every entry once: none lost, none twice
    assert not (out / "_temporary").exists() and not (out / "_commits").exists()
