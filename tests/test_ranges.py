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
