"""Measured quality and cost of newsbeam's tagging on ../shared/corpora/bbc.

    .venv/bin/python benchmarks/eval_tagging.py [--bbc ../shared/corpora/bbc]

1. Topics: every BBC file is read and normalised by the pipeline's own reader and normaliser,
   then tagged (``Tagger``, no spaCy model).  The five BBC categories map to IPTC Media Topics
   (business -> economy, business and finance; entertainment -> arts, culture, entertainment
   and media; politics -> politics; sport -> sport; tech -> science and technology).  The
   *top* topic is compared with the category: precision, recall and F1 per category (a top
   topic outside the five counts against recall) and macro-F1.
2. Places: the share of articles with at least one place, and the most frequent places.
3. Cost: tagging time per article (median and p95) for each tagger and in all.
4. Rule-based people/organisations: a seeded random sample of what the fallback extracted is
   written to ``benchmarks/labels/ner_fallback_sample.tsv`` with its context; when the labelled
   file ``benchmarks/labels/ner_fallback.tsv`` (the same rows plus a 0/1 ``correct`` column,
   judged against the article by written criteria, with a reason for each 0) exists, its
   precision is reported.

Results are printed as Markdown and saved to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from corpus import DEFAULT_BBC, bbc_files, save_result  # noqa: E402

CATEGORY_TOPIC = {
    "business": "medtop:04000000",
    "entertainment": "medtop:01000000",
    "politics": "medtop:11000000",
    "sport": "medtop:15000000",
    "tech": "medtop:13000000",
}
LABELS = HERE / "labels"
SAMPLE_SIZE = 100


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _context(text: str, name: str, width: int = 60) -> str:
    i = text.find(name)
    if i < 0:
        return ""
    return " ".join(text[max(0, i - width): i + len(name) + width].split())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bbc", type=Path, default=DEFAULT_BBC)
    args = parser.parse_args()

    from pipeline.normalize.article import Normalizer
    from pipeline.records import RawRecord
    from pipeline.tagging import Tagger
    from pipeline.tagging.language import tag_language
    from pipeline.tagging.places import find_places
    from pipeline.tagging.topics import classify_topics

    files = bbc_files(args.bbc)
    normalizer, now = Normalizer(), datetime.now(timezone.utc)
    started = time.perf_counter()
    tagger = Tagger()
    setup_s = time.perf_counter() - started

    seen_hashes: set[str] = set()
    rows = []
    cost = {"language": [], "places": [], "topics": [], "entities": [], "keywords": [], "total": []}
    for path in files:
        raw = RawRecord(input_uri=str(path), input_format="text", payload=path.read_bytes())
        article = normalizer.normalize(raw, now)
        if article["content_hash"] in seen_hashes:
            continue  # evaluate each distinct text once
        seen_hashes.add(article["content_hash"])
        title, text = article["title"], article["text"]
        t0 = time.perf_counter()
        tag_language(article, tagger.language)
        t1 = time.perf_counter()
        find_places(f"{title}\n{text}", tagger.gazetteer)
        t2 = time.perf_counter()
        classify_topics(title, text, tagger.taxonomy)
        t3 = time.perf_counter()
        tagger.entities.extract([f"{title}\n\n{text}"])
        t4 = time.perf_counter()
        tagger.keywords.extract(title, text)
        t5 = time.perf_counter()
        tagged = tagger.tag(article)
        t6 = time.perf_counter()
        for key, value in zip(cost, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5)):
            cost[key].append(value * 1e6)
        rows.append((path.parent.name, path.name, tagged))

    # --- topics
    categories = sorted(CATEGORY_TOPIC)
    top = [(cat, (t["topics"][0]["code"] if t["topics"] else None)) for cat, _, t in rows]
    table = []
    f1s = []
    for cat in categories:
        code = CATEGORY_TOPIC[cat]
        tp = sum(1 for c, p in top if c == cat and p == code)
        predicted = sum(1 for _, p in top if p == code)
        actual = sum(1 for c, _ in top if c == cat)
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        f1s.append(f1)
        table.append({"category": cat, "iptc": code, "articles": actual, "precision": round(precision, 3),
                      "recall": round(recall, 3), "f1": round(f1, 3)})
    macro_f1 = sum(f1s) / len(f1s)
    no_topic = sum(1 for _, p in top if p is None)
    other_topic = Counter(p for c, p in top if p is not None and p not in CATEGORY_TOPIC.values())

    # --- places
    with_place = sum(1 for *_, t in rows if t["places"])
    place_counts = Counter(p["name"] for *_, t in rows for p in t["places"])

    # --- entities sample
    rng = random.Random(20261129)
    persons = [(f"{cat}/{name}", "person", person, _context(t["text"], person.split()[-1]))
               for cat, name, t in rows for person in t["persons"]]
    orgs = [(f"{cat}/{name}", "organization", org, _context(t["text"], org))
            for cat, name, t in rows for org in t["organizations"]]
    sample = rng.sample(persons, min(SAMPLE_SIZE, len(persons))) + rng.sample(orgs, min(SAMPLE_SIZE, len(orgs)))
    LABELS.mkdir(exist_ok=True)
    with open(LABELS / "ner_fallback_sample.tsv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(["article", "kind", "name", "context"])
        writer.writerows(sample)
    ner_precision = {}
    labelled = LABELS / "ner_fallback.tsv"
    if labelled.exists():
        with open(labelled, encoding="utf-8") as handle:
            judged = [r for r in csv.DictReader(handle, delimiter="\t") if r.get("correct") in ("0", "1")]
        for kind in ("person", "organization"):
            marks = [int(r["correct"]) for r in judged if r["kind"] == kind]
            if marks:
                ner_precision[kind] = {"judged": len(marks), "precision": round(sum(marks) / len(marks), 3)}

    n = len(rows)
    result = {
        "articles": n,
        "setup_s": round(setup_s, 2),
        "topics": table,
        "macro_f1": round(macro_f1, 3),
        "no_topic": no_topic,
        "top_topic_outside_the_five": dict(other_topic.most_common()),
        "with_place": with_place,
        "with_place_share": round(with_place / n, 3),
        "top_places": place_counts.most_common(15),
        "persons_per_article": round(len(persons) / n, 2),
        "organizations_per_article": round(len(orgs) / n, 2),
        "ner_fallback_precision": ner_precision,
        "cost_us": {k: {"median": round(statistics.median(v)), "p95": round(_percentile(v, 0.95))} for k, v in cost.items()},
    }

    print(f"BBC: {n:,} distinct articles tagged (setup {setup_s:.2f} s)\n")
    print("| category | IPTC top topic | articles | precision | recall | F1 |")
    print("|---|---|---:|---:|---:|---:|")
    for row in table:
        print(f"| {row['category']} | `{row['iptc']}` | {row['articles']} | {row['precision']} | {row['recall']} | {row['f1']} |")
    print(f"\nmacro-F1: {macro_f1:.3f}; no topic: {no_topic}; top topic outside the five: {dict(other_topic.most_common())}")
    print(f"articles with at least one place: {with_place:,} / {n:,} = {with_place / n:.1%}")
    print("most frequent places:", ", ".join(f"{k} ({v})" for k, v in place_counts.most_common(10)))
    print(f"rule-based persons per article {len(persons) / n:.2f}, organisations {len(orgs) / n:.2f}; "
          f"precision: {ner_precision or 'not labelled yet (benchmarks/labels/ner_fallback.tsv)'}")
    print("\n| tagger | median µs/article | p95 µs/article |\n|---|---:|---:|")
    for key, stats in result["cost_us"].items():
        print(f"| {key} | {stats['median']:,} | {stats['p95']:,} |")

    save_result("tagging-quality", result)


if __name__ == "__main__":
    main()
