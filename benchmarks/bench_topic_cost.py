"""Cost per article of the two topic taggers, side by side in one process, on BBC.

    .venv/bin/python benchmarks/bench_topic_cost.py [--shared ../shared] [--rounds 3] [--every 4]

Times ``TopicModel.classify`` and the taxonomy's ``classify_topics`` (and the model's feature step
alone) on every ``--every``-th BBC article (headline + full body), ``--rounds`` times, alternating;
prints the medians in µs and the model's load time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--every", type=int, default=4)
    args = parser.parse_args()

    from pipeline.tagging.topic_model import TopicModel
    from pipeline.tagging.topics import Taxonomy, classify_topics

    started = time.perf_counter()
    model = TopicModel()
    load_s = time.perf_counter() - started
    taxonomy = Taxonomy()
    files = sorted((args.shared / "corpora" / "bbc").glob("*/*.txt"))[:: args.every]
    articles = []
    for path in files:
        title, _, body = path.read_bytes().decode("utf-8", "replace").partition("\n")
        articles.append((title.strip(), body.strip()))
    taggers = {"model": model.classify, "taxonomy": lambda t, x: classify_topics(t, x, taxonomy), "model features": model.vector}
    times: dict[str, list[float]] = {k: [] for k in taggers}
    for _ in range(args.rounds):
        for name, tag in taggers.items():
            for title, body in articles:
                t0 = time.perf_counter()
                tag(title, body)
                times[name].append((time.perf_counter() - t0) * 1e6)
    print(f"{len(articles)} BBC articles x {args.rounds} rounds; topic model load {load_s:.3f} s")
    for name, values in times.items():
        print(f"  {name}: median {statistics.median(values):.0f} µs, p95 {sorted(values)[int(0.95 * (len(values) - 1))]:.0f} µs")


if __name__ == "__main__":
    main()
