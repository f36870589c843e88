"""Near duplicates end to end, incremental runs against the index, and determinism."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from conftest import SEEDS
from pipeline.job import run_job

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _paragraph_articles() -> list[str]:
    """Distinct article texts cut from the seeds (runs of paragraphs, 120+ words each)."""
    texts = []
    for path in sorted(SEEDS.glob("*.txt")):
        paragraphs = [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]
        chunk: list[str] = []
        for p in paragraphs:
            chunk.append(p)
            if sum(len(c.split()) for c in chunk) >= 120:
                texts.append("\n\n".join(chunk))
                chunk = []
    return texts


def _near(text: str) -> str:
    """A syndicated copy: one word changed mid-text and an agency credit added (Jaccard ~0.85)."""
    words = text.split(" ")
    middle = len(words) // 2
    words[middle] = words[middle].upper() + "s"
    return " ".join(words) + " (Reporting by the wire desk.)"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    texts = _paragraph_articles()
    assert len(texts) >= 12
    first, second = texts[:8], texts[8:12]
    for i, text in enumerate(first):
        (root / f"h1-{i:02d}.txt").write_text(f"Story {i} headline\n\n{text}\n", encoding="utf-8")
    for i, text in enumerate(second):
        (root / f"h2-{i:02d}.txt").write_text(f"Story {i + 8} headline\n\n{text}\n", encoding="utf-8")
    # Second half: copies and rewrites of first-half stories, plus one of its own.
    (root / "h2-90-copy.txt").write_text(f"Story 1 headline\n\n{first[1]}\n", encoding="utf-8")
    (root / "h2-91-near.txt").write_text(f"Another headline for story 2\n\n{_near(first[2])}\n", encoding="utf-8")
    (root / "h2-92-near.txt").write_text(f"Story 9 rewritten\n\n{_near(second[1])}\n", encoding="utf-8")
    (root / "h1-90-near.txt").write_text(f"Story 5 again\n\n{_near(first[5])}\n", encoding="utf-8")
    return root


def _state(out: Path) -> tuple[set, set]:
    con = duckdb.connect()
    kept = {r[0] for r in con.execute(f"SELECT article_id FROM read_parquet('{out}/articles/**/*.parquet')").fetchall()}
    pairs = set(con.execute(f"SELECT article_id, duplicate_of, kind FROM read_parquet('{out}/duplicates/**/*.parquet')").fetchall())
    return kept, pairs


@pytest.fixture(scope="module")
def one_run(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("one") / "out"
    summary = run_job(["--input", str(corpus / "*.txt"), "--output", str(out)])
    return out, summary


def test_near_duplicates_found_in_one_run(one_run):
    out, summary = one_run
    kept, pairs = _state(out)
    kinds = sorted(kind for _, _, kind in pairs)
    assert kinds == ["exact", "near", "near", "near"]
    assert summary.counters["duplicates/near"] == 3 and summary.written("articles") == 12
    con = duckdb.connect()
    rows = con.execute(f"""
        SELECT d.input_uri, a.input_uri, d.similarity, d.cluster_id = a.cluster_id, a.duplicate_count
        FROM read_parquet('{out}/duplicates/**/*.parquet') d
        JOIN read_parquet('{out}/articles/**/*.parquet') a ON a.article_id = d.duplicate_of
        WHERE d.kind = 'near'""").fetchall()
    by_dup = {Path(r[0]).name: (Path(r[1]).name, r[2], r[3], r[4]) for r in rows}
    assert by_dup["h2-91-near.txt"][0] == "h1-02.txt"
    assert by_dup["h2-92-near.txt"][0] == "h2-01.txt"
    assert by_dup["h1-90-near.txt"][0] == "h1-05.txt"
    assert all(0.75 <= sim < 1.0 and same_cluster and count == 1 for _, sim, same_cluster, count in by_dup.values())


def test_two_halves_equal_one_run(corpus, one_run, tmp_path):
    out = tmp_path / "out"
    first = run_job(["--input", str(corpus / "h1-*.txt"), "--output", str(out)])
    second = run_job(["--input", str(corpus / "h2-*.txt"), "--output", str(out)])
    assert first.balanced and second.balanced and second.already_written == 0
    assert _state(out) == _state(one_run[0])


def test_later_near_duplicate_points_at_earlier_kept_article(corpus, tmp_path):
    out = tmp_path / "out"
    run_job(["--input", str(corpus / "h1-02.txt"), "--output", str(out)])
    later = run_job(["--input", str(corpus / "h2-91-near.txt"), "--output", str(out)])
    assert later.written("articles") == 0 and later.counters["duplicates/near"] == 1
    con = duckdb.connect()
    (dup_of, kept_uri), = con.execute(f"""
        SELECT d.duplicate_of, a.input_uri FROM read_parquet('{out}/duplicates/**/*.parquet') d
        JOIN read_parquet('{out}/articles/**/*.parquet') a ON a.article_id = d.duplicate_of""").fetchall()
    assert Path(kept_uri).name == "h1-02.txt"


def test_same_input_twice_writes_nothing_new(corpus, tmp_path):
    out = tmp_path / "out"
    first = run_job(["--input", str(corpus / "*.txt"), "--output", str(out)])
    again = run_job(["--input", str(corpus / "*.txt"), "--output", str(out)])
    assert again.written("articles") == again.written("duplicates") == 0
    assert again.already_written == again.records_read == first.records_read


def test_multi_processing_gives_the_same_output(corpus, one_run, tmp_path):
    out = tmp_path / "out"
    run_job(["--input", str(corpus / "*.txt"), "--output", str(out),
             "--direct_num_workers", "2", "--direct_running_mode", "multi_processing"])
    assert _state(out) == _state(one_run[0])
