"""The floor newsbeam is measured against: the same stages as a plain single-process Python loop.

    .venv/bin/python benchmarks/plain_loop.py INPUT_FOLDER OUTPUT_FOLDER [--tagging]

read (the project's own readers) -> normalise (the project's Normalizer) -> exact keys (content
hash, canonical URL, guid) -> MinHash signature + LSH band buckets, each bucket's members verified
against its lowest member -> union-find over all links -> kept article or duplicate row ->
[tagging] -> Parquet (articles and duplicates, zstd).  No Beam, no shuffle, one process: what the
work costs when nothing else does.  Prints one JSON line: records, articles, duplicates, seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class _Components:
    """Union-find whose root is the smallest node (the record that is kept)."""

    def __init__(self) -> None:
        self.parent: dict = {}

    def find(self, node):
        self.parent.setdefault(node, node)
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:
            self.parent[node], node = root, self.parent[node]
        return root

    def union(self, a, b) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            low, high = (ra, rb) if ra < rb else (rb, ra)
            self.parent[high] = low


def run(folder: Path, out: Path, tagging: bool = False) -> dict:
    from pipeline.dedup.exact import duplicate_row, exact_keys, node_of
    from pipeline.dedup.minhash import MinHashConfig, MinHasher, sketch, sketch_similarity
    from pipeline.errors import Rejection
    from pipeline.normalize.article import Normalizer
    from pipeline.sinks.parquet import article_partition, write_parquet_file
    from pipeline.sources.files import read_file_records

    started = time.perf_counter()
    config = MinHashConfig()
    normalizer, hasher = Normalizer(), MinHasher(config)
    now = datetime.now(timezone.utc)
    articles, rejected = [], 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        for item in read_file_records(str(path), lambda p: open(p, "rb")):
            if isinstance(item, Rejection):
                rejected += 1
                continue
            try:
                articles.append(normalizer.normalize(item, now))
            except Exception:  # noqa: BLE001 - a rejection, as in the job
                rejected += 1
    components = _Components()
    owners: dict[str, tuple] = {}
    buckets: dict[str, list] = {}
    similarity: dict[tuple, float] = {}
    nodes = []
    for article in articles:
        node = node_of(article)
        nodes.append(node)
        components.find(node)
        for key in exact_keys(article):
            owner = owners.setdefault(key, node)
            if owner != node:
                components.union(owner, node)
        signature = hasher.signature(article["text"])
        if signature is not None:
            mine = sketch(signature)
            for key in hasher.band_keys(signature):
                buckets.setdefault(key, []).append((node, mine))
    for members in buckets.values():
        if 1 < len(members) <= config.max_bucket:
            head, head_sketch = min(members)
            for node, mine in members:
                if node != head:
                    s = sketch_similarity(mine, head_sketch)
                    if s >= config.threshold:
                        components.union(head, node)
                        similarity[node] = max(similarity.get(node, 0.0), s)
    kept, duplicates = [], []
    for article, node in zip(articles, nodes):
        root = components.find(node)
        if root == node:
            kept.append(article)
        else:
            near = node in similarity
            duplicates.append(duplicate_row(article, duplicate_of=root[3], kind="near" if near else "exact",
                                            matched_on="minhash" if near else "text", cluster_id=root[3],
                                            similarity=round(similarity.get(node, 1.0), 4)))
    if tagging:
        from pipeline.tagging import Tagger

        kept = Tagger().tag_batch(kept)
    for dataset, rows in (("articles", kept), ("duplicates", duplicates)):
        by_partition: dict[str, list] = {}
        for row in rows:
            by_partition.setdefault(article_partition(row), []).append(row)
        for partition, part in sorted(by_partition.items()):
            write_parquet_file(str(out), dataset, partition, part)
    return {"records": len(articles) + rejected, "articles": len(kept), "duplicates": len(duplicates),
            "rejected": rejected, "seconds": round(time.perf_counter() - started, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--tagging", action="store_true")
    args = parser.parse_args()
    print(json.dumps(run(args.input, args.output, args.tagging)))


if __name__ == "__main__":
    main()
