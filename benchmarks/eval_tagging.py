"""Measured quality and cost of newsbeam's tagging.

    .venv/bin/python benchmarks/eval_tagging.py [--shared ../shared] [--topics model|taxonomy] [--folds 5]

1. Topics, top topic against each set's classes (maps and sources in ``benchmarks/topic_sets.py``):
   BBC (five classes; the model is also trained on BBC, so each article is tagged by a model
   trained without its fold: ``--folds`` cross-validation grouped by text, everything else
   unchanged), AG News (title + description) and UCI News Aggregator (headline only), neither
   used in training.  Each article goes through the pipeline's own ``Tagger`` (the BBC files
   through the reader and normaliser first), language detection and gating included: per-class
   precision, recall, F1, macro-F1, the share of articles the taggers take as English (detected,
   or a short text English fits), and the share of those with no topic.
2. Multi-label sanity: a seeded sample of 100 articles (40 BBC, 40 AG News, 20 UCI) with every
   emitted topic is written to ``benchmarks/labels/topics_sample.tsv``; when the judged copy
   ``benchmarks/labels/topics_judged.tsv`` (same rows plus a 0/1 ``correct`` column per emitted
   topic) exists, the precision of emitted topics (all, by rank, by topic) is reported.
3. Places: the share of BBC articles with at least one place, the most frequent places, and
   precision/recall on the German paragraphs of ``benchmarks/sets/german_places.tsv``.
4. Cost: tagging time per article (median and p95) for each tagger and in all; set-up time of the
   Tagger and of the topic model alone.
5. Rule-based people/organisations: a seeded sample written to
   ``benchmarks/labels/ner_fallback_sample.tsv``; precision when ``ner_fallback.tsv`` is labelled.

Results are printed as Markdown and saved to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
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

from corpus import bbc_files, save_result  # noqa: E402
from topic_sets import AG_CLASSES, AG_MAP, BBC_CLASSES, UCI_CLASSES, UCI_MAP, ag_news, macro_f1, uci_headlines  # noqa: E402

DEFAULT_SHARED = ROOT.parent / "shared"
LABELS = HERE / "labels"
SAMPLE_SIZE = 100
CV_SALT = "bbc-cv"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _context(text: str, name: str, width: int = 60) -> str:
    i = text.find(name)
    if i < 0:
        return ""
    return " ".join(text[max(0, i - width): i + len(name) + width].split())


def _article(title: str, text: str, key: str) -> dict:
    return {"article_id": key, "title": title, "text": text, "language": None, "language_score": None, "dateline": None}


def _bbc_group(path: Path) -> str:
    """The training script's group key of a BBC file (sha256 of its stripped body)."""
    body = path.read_bytes().decode("utf-8", "replace").partition("\n")[2]
    return hashlib.sha256(body.strip().encode()).hexdigest()


def bbc_models(shared: Path, folds: int):
    """One topic model per fold, each trained on everything except that fold's BBC articles."""
    import numpy as np

    from pipeline.tagging import training
    from train_topics import load_inputs, to_model

    examples, codes, labels, _ = load_inputs(shared)
    fold = np.array([training.fold_of(ex.group, folds, CV_SALT) if ex.source.startswith("bbc") else -1 for ex in examples])
    models = []
    for k in range(folds):
        started = time.perf_counter()
        trained = training.train(examples, codes, labels, rows=np.flatnonzero(fold != k))
        models.append(to_model(trained))
        print(f"  fold {k + 1}/{folds} trained in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return models


def evaluate(name: str, rows: list[tuple[str, str, str, dict]], tagger_for, class_map: dict, classes: list[str]) -> dict:
    """rows: (true class, title, text, article); tags each article, scores the top topic."""
    pairs, english, no_topic, tagged_rows = [], 0, 0, []
    for cls, title, text, article in rows:
        tagger = tagger_for(article)
        tagged = tagger.tag(dict(article))
        topics = tagged["topics"]
        if tagger.language_of(tagged) == "en":  # English, or a short text English fits (see tagger.py)
            english += 1
            no_topic += not topics
        pairs.append((cls, class_map.get(topics[0]["code"]) if topics else None))
        tagged_rows.append((cls, tagged))
    f1, table = macro_f1(pairs, classes)
    n = len(rows)
    return {"set": name, "articles": n, "macro_f1": round(f1, 3), "classes": table,
            "english": english, "english_share": round(english / n, 3),
            "english_without_topic": no_topic, "english_without_topic_share": round(no_topic / max(english, 1), 3),
            "_tagged": tagged_rows}


def german_places(gazetteer) -> dict:
    from pipeline.tagging.places import find_places

    lines = [line for line in (HERE / "sets" / "german_places.tsv").read_text("utf-8").splitlines() if not line.startswith("#")]
    expected_n = found_n = correct = 0
    details = []
    for row in csv.DictReader(lines, delimiter="\t"):
        expected = {e for e in row["expected"].split(";") if e}
        found = {p["country_code"] if p["kind"] == "country" else f"{p['country_code']}/{p['name']}"
                 for p in find_places(row["text"], gazetteer)}
        expected_n += len(expected)
        found_n += len(found)
        correct += len(found & expected)
        details.append({"id": row["id"], "missed": sorted(expected - found), "wrong": sorted(found - expected)})
    return {"paragraphs": len(details), "expected": expected_n, "found": found_n, "correct": correct,
            "precision": round(correct / found_n, 3) if found_n else None,
            "recall": round(correct / expected_n, 3) if expected_n else None, "details": details}


def topic_sample(results: list[dict]) -> list[list[str]]:
    rng = random.Random(20261201)
    want = {"BBC": 40, "AG News": 40, "UCI News Aggregator": 20}
    rows = []
    for result in results:
        tagged = [t for _, t in result["_tagged"]]
        for t in rng.sample(tagged, min(want.get(result["set"], 0), len(tagged))):
            for rank, topic in enumerate(t["topics"] or [None]):
                rows.append([result["set"], t["article_id"], t["title"][:150], " ".join(t["text"].split())[:300],
                             str(rank + 1) if topic else "", topic["code"] if topic else "",
                             topic["label"] if topic else "(no topic)", f"{topic['score']:.3f}" if topic else ""])
    return rows


def judged_precision() -> dict:
    path = LABELS / "topics_judged.tsv"
    if not path.exists():
        return {}
    with open(path, encoding="utf-8", newline="") as handle:
        judged = [r for r in csv.DictReader(handle, delimiter="\t") if r.get("correct") in ("0", "1")]
    out = {"judged_topics": len(judged), "articles": len({(r["set"], r["article"]) for r in judged}),
           "precision": round(sum(int(r["correct"]) for r in judged) / len(judged), 3) if judged else None}
    by_rank, by_topic = {}, {}
    for r in judged:
        by_rank.setdefault(r["rank"], []).append(int(r["correct"]))
        by_topic.setdefault(r["label"], []).append(int(r["correct"]))
    out["by_rank"] = {k: {"n": len(v), "precision": round(sum(v) / len(v), 3)} for k, v in sorted(by_rank.items())}
    out["by_topic"] = {k: {"n": len(v), "precision": round(sum(v) / len(v), 3)} for k, v in sorted(by_topic.items())}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--topics", choices=["model", "taxonomy"], default="model")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    bbc_dir = args.shared / "corpora" / "bbc"

    from pipeline.normalize.article import Normalizer
    from pipeline.records import RawRecord
    from pipeline.tagging import Tagger
    from pipeline.tagging.language import tag_language
    from pipeline.tagging.places import find_places
    from pipeline.tagging.topic_model import TopicModel
    from pipeline.tagging import training

    started = time.perf_counter()
    tagger = Tagger(topics=args.topics)
    setup_s = time.perf_counter() - started
    started = time.perf_counter()
    if args.topics == "model":
        TopicModel()
    model_setup_s = time.perf_counter() - started

    # --- BBC: read and normalise once, each distinct text once
    normalizer, now = Normalizer(), datetime.now(timezone.utc)
    seen_hashes: set[str] = set()
    bbc_rows = []
    for path in bbc_files(bbc_dir):
        raw = RawRecord(input_uri=str(path), input_format="text", payload=path.read_bytes())
        article = normalizer.normalize(raw, now)
        if article["content_hash"] in seen_hashes:
            continue
        seen_hashes.add(article["content_hash"])
        bbc_rows.append((path, article))

    if args.topics == "model":
        models = bbc_models(args.shared, args.folds)
        fold_taggers = []
        for model in models:
            t = Tagger.__new__(Tagger)
            t.__dict__.update(tagger.__dict__)
            t.topic_model = model
            fold_taggers.append(t)
        fold_of = {str(path): training.fold_of(_bbc_group(path), args.folds, CV_SALT) for path, _ in bbc_rows}
        bbc_tagger = lambda a: fold_taggers[fold_of[a["input_uri"]]]  # noqa: E731
    else:
        bbc_tagger = lambda a: tagger  # noqa: E731

    results = [
        evaluate("BBC", [(path.parent.name, a["title"], a["text"], a) for path, a in bbc_rows], bbc_tagger,
                 BBC_CLASSES, sorted(BBC_CLASSES.values())),
        evaluate("AG News", [(c, t, x, _article(t, x, f"ag{i:03d}")) for i, (c, t, x) in enumerate(ag_news())],
                 lambda a: tagger, AG_MAP, list(AG_CLASSES.values())),
        evaluate("UCI News Aggregator", [(c, t, x, _article(t, x, f"uci{i:03d}")) for i, (c, t, x) in enumerate(uci_headlines())],
                 lambda a: tagger, UCI_MAP, list(UCI_CLASSES.values())),
    ]
    bbc_tagged = [t for _, t in results[0]["_tagged"]]
    topics_per_article = {r["set"]: round(statistics.mean(len(t["topics"]) for _, t in r["_tagged"]), 2) for r in results}
    top_outside = Counter(t["topics"][0]["code"] for t in bbc_tagged if t["topics"] and t["topics"][0]["code"] not in BBC_CLASSES)

    LABELS.mkdir(exist_ok=True)
    sample_name = "topics_sample.tsv" if args.topics == "model" else f"topics_sample_{args.topics}.tsv"
    with open(LABELS / sample_name, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(["set", "article", "title", "text", "rank", "code", "label", "score"])
        writer.writerows(topic_sample(results))
    judged = judged_precision() if args.topics == "model" else {}

    # --- cost per tagger on BBC (shipped tagger)
    cost = {"language": [], "places": [], "topics": [], "entities": [], "keywords": [], "total": []}
    for _, article in bbc_rows:
        title, text = article["title"], article["text"]
        t0 = time.perf_counter()
        tag_language(article, tagger.language)
        t1 = time.perf_counter()
        find_places(f"{title}\n{text}", tagger.gazetteer)
        t2 = time.perf_counter()
        tagger.classify(title, text)
        t3 = time.perf_counter()
        tagger.entities.extract([f"{title}\n\n{text}"])
        t4 = time.perf_counter()
        tagger.keywords.extract(title, text)
        t5 = time.perf_counter()
        tagger.tag(article)
        t6 = time.perf_counter()
        for key, value in zip(cost, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5)):
            cost[key].append(value * 1e6)

    # --- places
    n = len(bbc_tagged)
    with_place = sum(1 for t in bbc_tagged if t["places"])
    place_counts = Counter(p["name"] for t in bbc_tagged for p in t["places"])
    german = german_places(tagger.gazetteer)

    # --- entities sample
    rng = random.Random(20261129)
    persons = [(f"{Path(t['input_uri']).parent.name}/{Path(t['input_uri']).name}", "person", person, _context(t["text"], person.split()[-1]))
               for t in bbc_tagged for person in t["persons"]]
    orgs = [(f"{Path(t['input_uri']).parent.name}/{Path(t['input_uri']).name}", "organization", org, _context(t["text"], org))
            for t in bbc_tagged for org in t["organizations"]]
    sample = rng.sample(persons, min(SAMPLE_SIZE, len(persons))) + rng.sample(orgs, min(SAMPLE_SIZE, len(orgs)))
    with open(LABELS / "ner_fallback_sample.tsv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(["article", "kind", "name", "context"])
        writer.writerows(sample)
    ner_precision = {}
    labelled = LABELS / "ner_fallback.tsv"
    if labelled.exists():
        with open(labelled, encoding="utf-8") as handle:
            marks_all = [r for r in csv.DictReader(handle, delimiter="\t") if r.get("correct") in ("0", "1")]
        for kind in ("person", "organization"):
            marks = [int(r["correct"]) for r in marks_all if r["kind"] == kind]
            if marks:
                ner_precision[kind] = {"judged": len(marks), "precision": round(sum(marks) / len(marks), 3)}

    result = {
        "topics_tagger": args.topics,
        "setup_s": round(setup_s, 2),
        "topic_model_setup_s": round(model_setup_s, 3),
        "topic_sets": [{k: v for k, v in r.items() if k != "_tagged"} for r in results],
        "topics_per_article": topics_per_article,
        "bbc_top_topic_outside_the_five": dict(top_outside.most_common()),
        "multi_label_judged": judged,
        "with_place": with_place,
        "with_place_share": round(with_place / n, 3),
        "top_places": place_counts.most_common(15),
        "german_places": german,
        "persons_per_article": round(len(persons) / n, 2),
        "organizations_per_article": round(len(orgs) / n, 2),
        "ner_fallback_precision": ner_precision,
        "cost_us": {k: {"median": round(statistics.median(v)), "p95": round(_percentile(v, 0.95))} for k, v in cost.items()},
    }

    print(f"topics: {args.topics}; Tagger setup {setup_s:.2f} s (topic model alone {model_setup_s:.3f} s)\n")
    for r in result["topic_sets"]:
        note = f" ({args.folds}-fold cross-validation)" if r["set"] == "BBC" and args.topics == "model" else ""
        print(f"**{r['set']}**{note}: {r['articles']} articles, macro-F1 **{r['macro_f1']:.3f}**; detected English "
              f"{r['english_share']:.1%}; English without a topic {r['english_without_topic']} "
              f"({r['english_without_topic_share']:.1%}); topics per article {topics_per_article[r['set']]}")
        print("| class | articles | precision | recall | F1 |\n|---|---:|---:|---:|---:|")
        for row in r["classes"]:
            print(f"| {row['class']} | {row['articles']} | {row['precision']} | {row['recall']} | {row['f1']} |")
        print()
    print(f"BBC top topic outside the five: {dict(top_outside.most_common())}")
    print(f"multi-label precision (judged): {judged or 'not judged yet (benchmarks/labels/topics_judged.tsv)'}")
    print(f"articles with at least one place: {with_place:,} / {n:,} = {with_place / n:.1%}")
    print("most frequent places:", ", ".join(f"{k} ({v})" for k, v in place_counts.most_common(10)))
    print(f"German paragraphs: {german['found']} places found, {german['correct']} right (precision {german['precision']}), "
          f"recall {german['recall']} of {german['expected']}; details {german['details']}")
    print(f"rule-based persons per article {len(persons) / n:.2f}, organisations {len(orgs) / n:.2f}; "
          f"precision: {ner_precision or 'not labelled yet (benchmarks/labels/ner_fallback.tsv)'}")
    print("\n| tagger | median µs/article | p95 µs/article |\n|---|---:|---:|")
    for key, stats in result["cost_us"].items():
        print(f"| {key} | {stats['median']:,} | {stats['p95']:,} |")

    save_result(f"tagging-quality-{args.topics}", result)


if __name__ == "__main__":
    main()
