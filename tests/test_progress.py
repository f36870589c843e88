"""Live progress: the workers' tallies (also from multi_processing worker processes) add up to the
run's counters, and the reporter redraws one line on a terminal and clears it."""

from __future__ import annotations

import io

import pytest

from conftest import SEEDS
from pipeline import progress
from pipeline.job import run_job


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("workers", [[], ["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"]])
def test_tallies_of_every_worker_add_up_to_the_counters(tmp_path, monkeypatch, workers):
    folder = tmp_path / "tallies"
    folder.mkdir()
    monkeypatch.setenv(progress.ENV, str(folder))  # --quiet: the driver leaves the variable as it is
    summary = run_job(["--input", f"{SEEDS}/**", "--output", str(tmp_path / "out"), "--no-tagging", "--quiet", *workers])
    counts = progress.read_tallies(folder)
    assert counts[progress.READ] == summary.records_read > 0
    assert counts[progress.STAGED_ARTICLES] == summary.written("articles")
    assert counts[progress.STAGED_DUPLICATES] == summary.written("duplicates")
    assert counts[progress.BYTES] == sum(p.stat().st_size for p in SEEDS.rglob("*") if p.is_file())


def test_the_reporter_redraws_one_line_and_clears_it(tmp_path, monkeypatch):
    monkeypatch.setenv(progress.ENV, str(tmp_path))
    tally = progress.ProgressTally()
    tally.add(progress.READ, 1234)
    tally.add(progress.BYTES, 50)
    tally.flush()
    screen = _Terminal()
    reporter = progress.ProgressReporter(tmp_path, total_bytes=100, stream=screen, interval=0.01).start()
    import time

    deadline = time.monotonic() + 30
    while "1,234 records" not in screen.getvalue():  # the marker: a line was drawn
        assert time.monotonic() < deadline, "no progress line in 30 s"
    reporter.stop()
    drawn = screen.getvalue()
    assert drawn.startswith("\r") and "\n" not in drawn and "input 50% read, ETA" in drawn
    assert drawn.endswith("\r") and drawn.rstrip("\r").endswith(" ")  # cleared at the end


def test_without_the_variable_a_tally_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv(progress.ENV, raising=False)
    tally = progress.ProgressTally()
    tally.add(progress.READ, 5)
    tally.flush()
    assert not list(tmp_path.iterdir())
