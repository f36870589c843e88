"""Reading a JSONL file in byte ranges gives exactly what reading it whole gives, for every split."""

from __future__ import annotations

import io
import json
import random

import pytest

from pipeline.sources.files import read_file_records
from pipeline.sources.ranges import byte_ranges, read_ranges_whole


def _random_jsonl(rng: random.Random) -> bytes:
    lines = []
    for i in range(rng.randrange(0, 30)):
        kind = rng.random()
        if kind < 0.1:
            lines.append(b"")  # a blank line
        elif kind < 0.15:
            lines.append(b"{not json")
        elif kind < 0.2:
            lines.append(b"[1, 2]")  # JSON, not an object
        else:
            text = " ".join(rng.choice(["w\u00e9", "x", "yy", "\u4e2d\u6587", "zz"]) for _ in range(rng.randrange(1, 40)))
            lines.append(json.dumps({"title": f"t{i}", "text": text}, ensure_ascii=rng.random() < 0.5).encode())
    newline = b"\r\n" if rng.random() < 0.2 else b"\n"
    data = newline.join(lines)
    if lines and rng.random() < 0.7:
        data += newline  # with or without a final newline
    return data


def _opener(data: bytes):
    return lambda path: io.BytesIO(data)


@pytest.mark.parametrize("seed", range(60))
def test_every_split_reads_exactly_what_the_whole_file_reader_reads(seed):
    rng = random.Random(seed)
    data = _random_jsonl(rng)
    whole = list(read_file_records("/in/f.jsonl", _opener(data)))
    for split in sorted({1, 2, 3, 7, rng.randrange(1, len(data) + 2), len(data) or 1, len(data) + 5}):
        ranged = list(read_ranges_whole("/in/f.jsonl", _opener(data), len(data), split))
        if not data.strip():
            assert [(r.stage, r.reason) for r in ranged] == [("read", "empty_file")]
        else:
            assert ranged == whole, (seed, split)


def test_ranges_cover_the_file():
    assert byte_ranges(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert byte_ranges(0, 4) == []


def _read_with(tmp_path, split_bytes: int, data: bytes):
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from pipeline.sources import ReadArticleFiles

    path = tmp_path / "big.jsonl"
    path.write_bytes(data)
    expected = [(item.position, type(item).__name__, getattr(item, "reason", None))
                for item in read_file_records(str(path), lambda p: open(p, "rb"))]
    with TestPipeline() as p:
        read = p | ReadArticleFiles([str(path)], split_bytes=split_bytes)
        both = (read["records"], read["rejected"]) | beam.Flatten()
        assert_that(both | beam.Map(lambda item: (item.position, type(item).__name__, getattr(item, "reason", None))),
                    equal_to(expected))
    return expected


@pytest.mark.parametrize("split_bytes", [7, 100, 10**9])
def test_the_composite_reads_ranges_like_the_whole_file(tmp_path, split_bytes):
    data = _random_jsonl(random.Random(7)) + _random_jsonl(random.Random(8))
    assert len(_read_with(tmp_path, split_bytes, data)) > 10


def test_a_blank_large_file_is_one_empty_file_rejection(tmp_path):
    assert [x[1:] for x in _read_with(tmp_path, 3, b"\n \n\n   \n")] == [("Rejection", "empty_file")]


def test_the_job_writes_the_same_rows_however_its_input_is_split(tmp_path):
    import duckdb

    from pipeline.job import run_job

    src = tmp_path / "in"
    src.mkdir()
    rng = random.Random(3)
    from feedserver import body

    lines = [json.dumps({"title": f"S{i}", "text": body(f"s{i % 30}", 80) + (" More." if i >= 30 else ""),
                         "url": f"https://x.example/{i}"}) for i in range(60)]
    rng.shuffle(lines)
    (src / "wire.jsonl").write_text("\n".join(lines) + "\n")
    rows = {}
    for split in (10**9, 4096):
        out = tmp_path / f"out{split}"
        summary = run_job(["--input", str(src / "*"), "--output", str(out), "--no-tagging", "--split-bytes", str(split)])
        assert summary.balanced
        con = duckdb.connect()
        rows[split] = (
            con.execute(f"SELECT article_id, position FROM read_parquet('{out}/articles/**/*.parquet') ORDER BY 1").fetchall(),
            con.execute(f"SELECT article_id, duplicate_of FROM read_parquet('{out}/duplicates/**/*.parquet') ORDER BY 1").fetchall(),
        )
    assert rows[4096] == rows[10**9] and len(rows[4096][1]) >= 20
