"""Scaled corpora made from ../shared/corpora/bbc (written to files, never beam.Create).

Copy 0 of every article is the original; copy k > 0 is a realistic syndicated
variant that is *not* an exact duplicate: a changed headline, one sentence
dropped, a wire footer added.  (They are near-duplicates of the original.)
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

DEFAULT_BBC = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "bbc"
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def bbc_files(bbc: Path) -> list[Path]:
    return sorted(bbc.glob("*/*.txt"))


def perturb(headline: str, body: str, copy: int) -> tuple[str, str]:
    if copy == 0:
        return headline, body
    rng = random.Random(f"{headline}|{copy}")
    paragraphs = [p for p in body.split("\n\n") if p.strip()]
    target = rng.randrange(len(paragraphs))
    sentences = _SENTENCE.split(paragraphs[target])
    if len(sentences) > 1:
        del sentences[rng.randrange(len(sentences))]
    paragraphs[target] = " ".join(sentences)
    paragraphs.append(f"Reporting by the newsbeam syndication desk, edition {copy}.")
    return f"{headline} (update {copy})", "\n\n".join(paragraphs)


SHAPES = {
    "jsonl": "JSONL files of 5,000 records",
    "one-jsonl": "one large JSONL file",
    "text": "one small text file per article",
    "jsonl-gz": "one gzipped JSONL file (not splittable)",
}


def build_shape(bbc: Path, scale: int, out: Path, shape: str) -> Path:
    """The ×``scale`` corpus in one of ``SHAPES``; returns its folder (built once)."""
    if shape == "jsonl":
        return build(bbc, scale, out, "jsonl")
    if shape == "text":
        return build(bbc, scale, out, "text")
    if shape == "one-jsonl":
        return build(bbc, scale, out, "jsonl", shard_size=10**9, name="one-jsonl")
    if shape == "jsonl-gz":
        import gzip
        import shutil

        source = build_shape(bbc, scale, out, "one-jsonl")
        folder = out / f"bbc_x{scale}_jsonl-gz"
        done = out / f"bbc_x{scale}_jsonl-gz.complete"
        if not done.exists():
            folder.mkdir(parents=True, exist_ok=True)
            with open(source / "part-0000.jsonl", "rb") as raw, gzip.open(folder / "part-0000.jsonl.gz", "wb", 6) as packed:
                shutil.copyfileobj(raw, packed)
            done.touch()
        return folder
    raise ValueError(f"unknown shape {shape!r}: {', '.join(SHAPES)}")


def build(bbc: Path, scale: int, out: Path, fmt: str = "jsonl", shard_size: int = 5000, name: str = "") -> Path:
    """Write the ×``scale`` corpus under ``out`` once; returns the folder."""
    folder = out / f"bbc_x{scale}_{name or fmt}"
    done = out / f"bbc_x{scale}_{name or fmt}.complete"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    originals = []
    for path in bbc_files(bbc):
        text = path.read_bytes().decode("utf-8", "replace")
        headline, _, body = text.partition("\n")
        originals.append((path, headline.strip(), body.strip()))
    shard, count, handle = 0, 0, None
    for copy in range(scale):
        for path, headline, body in originals:
            title, text = perturb(headline, body, copy)
            if fmt == "text":
                target = folder / f"c{copy:03d}" / path.parent.name / path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(f"{title}\n\n{text}\n", encoding="utf-8")
                continue
            if handle is None or count % shard_size == 0:
                if handle:
                    handle.close()
                handle = open(folder / f"part-{shard:04d}.jsonl", "w", encoding="utf-8")
                shard += 1
            handle.write(json.dumps({"title": title, "text": text, "id": f"{path.parent.name}/{path.stem}/{copy}"}) + "\n")
            count += 1
    if handle:
        handle.close()
    done.touch()
    return folder


def save_result(kind: str, result) -> Path:
    """Write ``result`` as benchmarks/results/<kind>-<UTC time>.json; returns the path."""
    import json
    from datetime import datetime, timezone

    folder = Path(__file__).resolve().parent / "results"
    folder.mkdir(exist_ok=True)
    path = folder / f"{kind}-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(result, indent=2))
    return path
