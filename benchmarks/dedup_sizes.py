"""Encoded bytes per article of every shuffle of the batch dedup graph, measured on a corpus
(default BBC x1; ``--scale 10`` for the syndicated copies of corpus.py).

    .venv/bin/python benchmarks/dedup_sizes.py [--scale 1] [--format jsonl]

Runs the DoFns of pipeline/dedup/batch.py and the plain functions of components.py in one
process (no Beam runner) and encodes what each shuffle carries with the coder Beam would
use (``FastPrimitivesCoder`` for keys and values, bytes as they are).  Prints one line per
shuffle: elements, bytes, bytes per article, and the largest state of its stateful step.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from corpus import DEFAULT_BBC, build  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--format", choices=("jsonl", "text"), default="jsonl")
    parser.add_argument("--bbc", type=Path, default=DEFAULT_BBC)
    parser.add_argument("--workdir", type=Path, default=HERE / "data")
    args = parser.parse_args()

    from apache_beam.coders import FastPrimitivesCoder
    from apache_beam.transforms.window import GlobalWindow

    from pipeline.dedup.batch import (
        BANDS, EXACT, SEEN, SKETCHES, AttachMemberSketchFn, BandStarFn, ExactGroupFn, GraphEdgeFn,
        MemberLinkFn, PrepareDedupFn, VerifyCandidatesFn,
    )
    from pipeline.dedup.components import both_ways, connected_components, large_star, small_star, tell_label
    from pipeline.dedup.minhash import MinHashConfig
    from pipeline.normalize.article import Normalizer
    from pipeline.sources.files import read_file_records

    folder = build(args.bbc, args.scale, args.workdir, args.format)
    coder = FastPrimitivesCoder()
    normalizer = Normalizer()
    now = datetime.now(timezone.utc)
    articles = [normalizer.normalize(r, now) for p in sorted(folder.rglob("*")) if p.is_file()
                for r in read_file_records(str(p), lambda q: open(q, "rb"))]
    articles = [a for a in articles if isinstance(a, dict)]
    n = len(articles)
    rows: list[tuple[str, int, int, str]] = []

    def add(name: str, items, state: str = "") -> None:
        items = list(items)
        size = sum(len(coder.encode(item)) if not isinstance(item, bytes) else len(item) for item in items)
        rows.append((name, len(items), size, state))

    window = GlobalWindow()
    prepare = PrepareDedupFn(MinHashConfig())
    prepare.setup()
    prepare.start_bundle()
    keyed, sketches, exact_lists, band_lists = [], [], defaultdict(list), defaultdict(list)
    outputs = [o for a in articles for o in prepare.process(a, window)] + list(prepare.finish_bundle())
    for out in outputs:
        tag = getattr(out, "tag", None)
        if tag is None:
            keyed.append(out)
        elif tag == SKETCHES:
            sketches.append(out.value)
        else:
            shard, blob = out.value.value
            (exact_lists if tag == EXACT else band_lists)[shard].append(blob)
    exact_pairs = sum(len(pickle.loads(b)) for blobs in exact_lists.values() for b in blobs)
    band_pairs = sum(len(pickle.loads(b)) for blobs in band_lists.values() for b in blobs)
    add("GroupByExactKey (shard, pickled [(key, (node, uid))])",
        [(s, b) for s, blobs in exact_lists.items() for b in blobs],
        f"{exact_pairs / n:.2f} keys/article over 1,024 shards")
    add("GroupByBand (shard, pickled [(key, packed node)])",
        [(s, b) for s, blobs in band_lists.items() for b in blobs],
        f"{band_pairs / n:.2f} keys/article over 4,096 shards")

    def run(fn, groups):
        fn.setup() if hasattr(fn, "setup") else None
        fn.start_bundle()
        main, tagged = [], defaultdict(list)
        produced = [o for g in groups for o in (fn.process(g, window) or ())] + list(fn.finish_bundle())
        for out in produced:
            tag = getattr(out, "tag", None)
            value = out.value if tag is not None else out
            value = getattr(value, "value", value)  # WindowedValue
            (tagged[tag] if tag is not None else main).append(value)
        return main, tagged

    exact_edges, exact_tagged = run(ExactGroupFn(), list(exact_lists.items()))
    stars, _ = run(BandStarFn(MinHashConfig().max_bucket), list(band_lists.items()))
    add("JoinMemberSketch: candidates (member uid, ('h', (node, head node, head uid)))", stars)
    add("JoinMemberSketch + JoinHeadSketch: sketches (uid, ('s', sketch)), each", sketches)
    joined = defaultdict(list)
    for uid, value in stars + sketches:
        joined[uid].append(value)
    attached = [o for g in joined.items() for o in AttachMemberSketchFn().process(g)]
    add("JoinHeadSketch: candidates (head uid, ('c', (node, head node, sketch)))", attached)
    joined = defaultdict(list)
    for uid, value in attached + sketches:
        joined[uid].append(value)
    band_edges, _ = run(VerifyCandidatesFn(MinHashConfig()), list(joined.items()))
    edges = exact_edges + band_edges
    links = [o for e in edges for o in MemberLinkFn().process(e)]
    graph = [o for e in edges for o in GraphEdgeFn().process(e)]
    add("BestLink CombinePerKey (uid, (label, similarity)) [before combiner lifting]", links)

    # Components: the element streams of every shuffle, from the plain functions.
    current = [pair for edge in graph for pair in both_ways(edge)]
    from pipeline.dedup.components import ROUNDS, _group

    for r in range(1, ROUNDS + 1):
        add(f"GroupLargeStar{r} (node, node)", current)
        large = []
        for node, neighbours in _group(current).items():
            large += list(large_star(node, neighbours)[1])
        add(f"GroupSmallStar{r} (node, node)", large)
        current = []
        for node, smaller in _group(large).items():
            out, _ = small_star(node, smaller)
            current += [pair for edge in out for pair in both_ways(edge)]
    add("GroupLabel (node, node)", current)
    told = [t for node, neighbours in _group(current).items() for t in tell_label(node, neighbours)]
    add("GroupSettle (node, (tag, label))", told)
    roots, stats = connected_components(graph)
    add("GroupRoot (label, (tag, node))", [(root, ("m", node)) for node, root in roots.items()])
    add("GroupByRoot (root, node)", [(root, node) for node, root in roots.items()])
    sizes = defaultdict(int)
    for root in roots.values():
        sizes[root] += 1
    clusters = [(node[4], ("c", (node, root, sizes[root]))) for node, root in roots.items() if node[0] == 1]
    seen = exact_tagged[SEEN]
    add("GroupByRecord: articles (uid, ('a', RowCoder bytes + signature))", keyed)
    add("GroupByRecord: clusters (uid, ('c', (node, root, size)))", clusters)
    add("GroupByRecord: links (uid, ('l', (label, similarity))) [after BestLink]",
        [(uid, ("l", link)) for uid, link in {u: l for u, l in links}.items()])
    add("GroupByRecord: seen (uid, ('s', article_id))", seen)

    print(f"{folder.name}: {n:,} articles, {len(graph):,} graph edges, {len(roots):,} linked nodes, "
          f"largest component {max(sizes.values(), default=0):,}, fallback edges {stats['fallback_edges']}, "
          f"changes per round {stats['changes']}")
    print(f"{'shuffle':<80} {'elements':>9} {'bytes':>12} {'B/article':>10}")
    for name, count, size, state in rows:
        print(f"{name:<80} {count:>9,} {size:>12,} {size / n:>10.1f}  {state}")
    print(json.dumps({"articles": n, "rows": [{"shuffle": r[0], "elements": r[1], "bytes": r[2],
                                               "bytes_per_article": round(r[2] / n, 1)} for r in rows]}))


if __name__ == "__main__":
    main()
