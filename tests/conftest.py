from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pipeline.normalize.article import Normalizer
from pipeline.records import RawRecord

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
EXAMPLES = SEEDS / "examples"
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)

# Beam logs this at import when the GCP extra is absent; it is noise in test output.
logging.getLogger().addFilter(lambda record: "apitools not found" not in record.getMessage())


@pytest.fixture(scope="session")
def normalizer() -> Normalizer:
    return Normalizer()


@pytest.fixture(scope="session")
def seed_articles(normalizer):
    """The three seed articles, normalised."""
    out = {}
    for path in sorted(SEEDS.glob("*.txt")):
        raw = RawRecord(input_uri=str(path), input_format="text", payload=path.read_bytes())
        out[path.name[:3]] = normalizer.normalize(raw, NOW)
    return out


def text_record(data: bytes, name: str = "doc.txt") -> RawRecord:
    return RawRecord(input_uri=f"/data/{name}", input_format="text", payload=data, raw=data)
