"""Measured quality of newsbeam's deduplication on a labelled corpus built from BBC.

    .venv/bin/python benchmarks/eval_dedup.py [--bbc ../shared/corpora/bbc] [-- extra flags for newsbeam run]

1. The distinct BBC articles (one per exact-duplicate group) are the originals:
   published 2005-01-01, each with its own URL.  They are the negatives: none of
   them should end up as a duplicate of another ("false merge").
2. Every original also gets one copy per transformation below, published a day
   later under another URL (what syndication does to a wire story).  These are
   the positives: each should be found to duplicate its own original.
3. The corpus goes through the real job (``newsbeam run``, tagging off) and the
   output is read back with DuckDB.  A transformed copy counts as found when it
   is in ``duplicates`` and its ``duplicate_of`` is an article of the same origin;
   pointing at another story is a false positive.  BBC itself repeats some stories
   under the same headline with other edits: originals with the same headline (or
   a true Jaccard >= 0.75) count as one story.
4. The true Jaccard similarity of each copy to its original (5-word shingles of
   the *normalised* texts, the same tokens MinHash sees) is computed exactly, so
   recall is also reported for the edits that keep Jaccard >= 0.8, the target of
   the defaults.  Partial copies (truncated, extended) are the target of the
   containment rule: their true containment (the share of the shorter text's
   shingles found in the longer) is reported too.
5. Negatives for containment: round-ups, four consecutive originals of one
   category concatenated under a new headline (published two days later).  A
   round-up contains each of its items wholly, but none of them is a copy of it:
   a round-up found as a duplicate, or an original merged with one, is a false
   merge.

Finally the job runs on BBC as-is and the script reports what it finds there.
Results are printed as Markdown and saved to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from corpus import DEFAULT_BBC, bbc_files, save_result  # noqa: E402

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")
ADDED_SENTENCES = (
    "The ministry did not immediately respond to a request for comment.",
    "Further details are expected to be announced later this week.",
    "Analysts said the move had been widely expected in recent days.",
    "The company's shares closed slightly higher on the news.",
    "It was not immediately clear how many people would be affected.",
)
AGENCIES = ("Wire Service", "Global News Agency", "Press Association", "Newsdesk International")


# ---- transformations: (headline, paragraphs, rng, donor) -> (headline, paragraphs) ---------
# ``donor``: the paragraphs of another article of the same category (the extensions' new text)

def headline_changed(headline, paragraphs, rng, donor):
    prefix = rng.choice(("UPDATE: ", "Breaking: ", "Analysis: ", ""))
    return f"{prefix}{headline} - latest", paragraphs


def sentence_dropped(headline, paragraphs, rng, donor):
    sentences = [(i, j) for i, p in enumerate(paragraphs) for j, _ in enumerate(_SENTENCE.split(p))]
    i, j = rng.choice(sentences[1:] or sentences)
    parts = _SENTENCE.split(paragraphs[i])
    del parts[j]
    return headline, [*paragraphs[:i], " ".join(parts), *paragraphs[i + 1:]] if parts else paragraphs[:i] + paragraphs[i + 1:]


def sentence_added(headline, paragraphs, rng, donor):
    i = rng.randrange(len(paragraphs))
    return headline, [*paragraphs[:i], f"{paragraphs[i]} {rng.choice(ADDED_SENTENCES)}", *paragraphs[i + 1:]]


def boilerplate_added(headline, paragraphs, rng, donor):
    agency = rng.choice(AGENCIES)
    header = f"By staff reporters, {agency}"
    footer = f"Copyright 2005 {agency}. All rights reserved. This material may not be published, broadcast or redistributed."
    return headline, [header, *paragraphs, footer]


def paragraph_reordered(headline, paragraphs, rng, donor):
    if len(paragraphs) < 3:
        return headline, paragraphs[::-1]
    moved = list(paragraphs)
    item = moved.pop(rng.randrange(1, len(moved)))
    moved.insert(rng.randrange(1, len(moved)), item)
    return headline, moved if moved != paragraphs else paragraphs[:1] + paragraphs[:0:-1]


def typos(headline, paragraphs, rng, donor):
    """About one typo per 60 words: two neighbouring letters of a word swapped."""
    out = []
    for paragraph in paragraphs:
        words = paragraph.split(" ")
        for k, word in enumerate(words):
            if len(word) > 3 and word.isalpha() and rng.random() < 1 / 60:
                p = rng.randrange(1, len(word) - 2)
                words[k] = word[:p] + word[p + 1] + word[p] + word[p + 2:]
        out.append(" ".join(words))
    return headline, out


def truncated(share):
    """The first ``share`` of the words, cut at a sentence end (a wire story's first paragraphs)."""
    def truncate(headline, paragraphs, rng, donor):
        words = sum(len(p.split()) for p in paragraphs)
        return headline, _first_words(paragraphs, share * words)
    return truncate


def _first_words(paragraphs, limit: float) -> list:
    """Whole sentences from the start of ``paragraphs`` until ``limit`` words are reached (the
    paragraph structure kept, empty paragraphs dropped)."""
    taken, count = [], 0
    for paragraph in paragraphs:
        kept = []
        for sentence in _SENTENCE.split(paragraph):
            if count >= limit:
                break
            kept.append(sentence)
            count += len(sentence.split())
        if kept:
            taken.append(" ".join(kept))
        if count >= limit:
            break
    return taken


def extended(share):
    """An update: the whole story, then new paragraphs (``share`` more words) at the end.  The new
    text comes from other articles of the same category, the second half of each (new facts on
    the same subject, with no shingles of the story itself, which would raise the similarity,
    and never a whole other article, which a copy does not contain)."""
    def extend(headline, paragraphs, rng, donor):
        words = sum(len(p.split()) for p in paragraphs)
        return f"UPDATE: {headline}", [*paragraphs, *_first_words(donor, share * words)]
    return extend


TRANSFORMS = {
    "headline changed": headline_changed,
    "sentence dropped": sentence_dropped,
    "sentence added": sentence_added,
    "boilerplate header+footer": boilerplate_added,
    "paragraph reordered": paragraph_reordered,
    "typos (1 per 60 words)": typos,
    "truncated to 70%": truncated(0.7),
    "truncated to 50%": truncated(0.5),
    "extended by 30%": extended(0.3),
    "extended by 60%": extended(0.6),
}
PARTIAL = ("truncated to 70%", "truncated to 50%", "extended by 30%", "extended by 60%")
ROUNDUP_ITEMS = 4
ROUNDUP = "round-up (negative)"
first_items: dict[str, str] = {}  # round-up id -> its first item (filled by write_corpus)


# ---- corpus ------------------------------------------------------------------------------

def originals(bbc: Path) -> tuple[list[dict], int]:
    """Distinct BBC articles (the first of each exact-duplicate group) and how many files were skipped."""
    seen, out, skipped = set(), [], 0
    for path in bbc_files(bbc):
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        headline, _, body = text.strip().partition("\n")
        paragraphs = [" ".join(p.split()) for p in body.split("\n\n") if p.strip()]
        key = " ".join(body.lower().split())
        if key in seen:
            skipped += 1
            continue
        seen.add(key)
        out.append({"id": f"{path.parent.name}/{path.stem}", "headline": headline.strip(), "paragraphs": paragraphs})
    return out, skipped


def _second_half(paragraphs: list[str]) -> list[str]:
    return paragraphs[len(paragraphs) // 2:] if len(paragraphs) > 1 else [" ".join(_SENTENCE.split(paragraphs[0])[1:])]


def write_corpus(items: list[dict], path: Path) -> dict[str, tuple[str, str]]:
    """Writes the JSONL corpus; returns url -> (origin id, transformation, 'original' or 'round-up')."""
    labels = {}
    first_items.clear()
    by_category = defaultdict(list)
    for item in items:
        by_category[item["id"].split("/")[0]].append(item)
    donors = {}
    for members in by_category.values():  # donors from other round-up groups (no overlap with them)
        for pos, item in enumerate(members):
            donors[item["id"]] = [p for d in range(ROUNDUP_ITEMS + 1, 2 * ROUNDUP_ITEMS + 1)
                                  for p in _second_half(members[(pos + d) % len(members)]["paragraphs"])]
    with path.open("w", encoding="utf-8") as handle:
        for item in items:
            url = f"https://news.example/bbc/{item['id']}"
            labels[url] = (item["id"], "original")
            handle.write(json.dumps({"title": item["headline"], "text": "\n\n".join(item["paragraphs"]), "url": url,
                                     "published": "2005-01-01T00:00:00Z"}) + "\n")
            for n, (name, transform) in enumerate(TRANSFORMS.items()):
                rng = random.Random(f"{item['id']}|{name}")
                headline, paragraphs = transform(item["headline"], list(item["paragraphs"]), rng, donors[item["id"]])
                url = f"https://mirror{n}.example/{item['id']}"
                labels[url] = (item["id"], name)
                handle.write(json.dumps({"title": headline, "text": "\n\n".join(paragraphs), "url": url,
                                         "published": "2005-01-02T00:00:00Z"}) + "\n")
        for category, members in sorted(by_category.items()):
            for start in range(0, len(members) - ROUNDUP_ITEMS + 1, ROUNDUP_ITEMS):
                group = members[start:start + ROUNDUP_ITEMS]
                rid = f"roundup/{category}-{start // ROUNDUP_ITEMS:03d}"
                url = f"https://digest.example/{rid}"
                labels[url] = (rid, ROUNDUP)
                first_items[rid] = group[0]["id"]
                paragraphs = [p for item in group for p in (item["headline"], *item["paragraphs"])]
                handle.write(json.dumps({"title": f"{category.title()} round-up: {group[0]['headline']} and more",
                                         "text": "\n\n".join(paragraphs), "url": url,
                                         "published": "2005-01-03T00:00:00Z"}) + "\n")
    return labels


def normalised_texts(path: Path) -> dict[str, str]:
    """url -> normalised text, with the pipeline's own reader and normaliser."""
    from pipeline.normalize.article import Normalizer
    from pipeline.records import RawRecord
    from pipeline.sources.files import read_file_records

    normalizer, now, texts = Normalizer(), datetime.now(timezone.utc), {}
    for item in read_file_records(str(path), lambda p: open(p, "rb")):
        if isinstance(item, RawRecord):
            article = normalizer.normalize(item, now)
            texts[article["url"]] = article["text"]
    return texts


def shingles(text: str, k: int = 5) -> set:
    from pipeline.dedup.minhash import _TOKEN_TABLE

    tokens = text.lower().encode("utf-8").translate(_TOKEN_TABLE).split()
    return {tuple(tokens[i:i + k]) for i in range(max(1, len(tokens) - k + 1))}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def containment(a: set, b: set) -> float:
    """Share of the smaller set found in the larger one, when it has at least
    ``containment_ratio`` of its size (below that ratio the containment rule does not apply: 0)."""
    from pipeline.dedup.minhash import MinHashConfig

    small, large = sorted((a, b), key=len)
    if not small or len(small) < MinHashConfig().containment_ratio * len(large):
        return 0.0
    return len(small & large) / len(small)


def run_job(inputs: list[str], out: Path, extra: list[str]) -> float:
    # this checkout's pipeline, with the interpreter running this script (a worktree has no .venv)
    cmd = [sys.executable, "-m", "pipeline.cli", "run", *(x for i in inputs for x in ("--input", i)), "--output", str(out),
           "--no-tagging", *extra]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"newsbeam run failed:\n{proc.stdout}\n{proc.stderr}")
    return time.perf_counter() - started


def read_output(out: Path):
    import duckdb

    con = duckdb.connect()
    articles = dict(con.execute(
        f"SELECT article_id, url FROM read_parquet('{out}/articles/**/*.parquet', hive_partitioning = true)").fetchall())
    duplicates = con.execute(
        f"SELECT url, duplicate_of, kind, similarity, title, input_uri, matched_on FROM read_parquet('{out}/duplicates/**/*.parquet')"
    ).fetchall()
    return articles, duplicates


# ---- evaluation ----------------------------------------------------------------------------

def evaluate(bbc: Path, work: Path, extra: list[str]) -> dict:
    items, skipped = originals(bbc)
    corpus = work / "eval.jsonl"
    labels = write_corpus(items, corpus)
    texts = normalised_texts(corpus)
    by_origin = {origin: shingles(texts[url]) for url, (origin, kind) in labels.items() if kind in ("original", ROUNDUP)}
    copies = {url: shingles(texts[url]) for url, (origin, kind) in labels.items() if kind in TRANSFORMS}
    true_j = {url: jaccard(copies[url], by_origin[origin]) for url, (origin, kind) in labels.items() if kind in TRANSFORMS}
    true_c = {url: containment(copies[url], by_origin[origin]) for url, (origin, kind) in labels.items() if kind in TRANSFORMS}

    out = work / "eval-out"
    seconds = run_job([str(corpus)], out, extra)
    articles, duplicates = read_output(out)
    found: dict[str, tuple[str, str, float, str]] = {url: (dup_of, kind, sim, matched) for url, dup_of, kind, sim, _, _, matched in duplicates}

    # The BBC corpus repeats some stories under the same headline with different edits:
    # originals with the same headline are one story, and so are originals the job merged
    # whose texts really are near-identical (true J >= 0.75) or one a partial copy of the
    # other (true containment >= 0.85 with a length ratio >= 0.45, the containment rule).
    # Anything else merged among the originals is a false merge, and so is any merge of a
    # round-up.
    headline = {item["id"]: " ".join(item["headline"].lower().split()) for item in items}
    headline.update({origin: origin for origin, kind in labels.values() if kind == ROUNDUP})
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.get(key, key) != key:
            key = parent[key]
        return key

    def story(origin: str) -> str:
        return root(headline[origin])

    per = defaultdict(Counter)
    false_merges, bbc_repeats, roundup_merges = [], [], []
    roundups = sum(kind == ROUNDUP for _, kind in labels.values())
    for url, (origin, kind) in labels.items():
        hit = found.get(url)
        if kind not in ("original", ROUNDUP) or not hit:
            continue
        target = labels[articles[hit[0]]][0]
        j = jaccard(by_origin[origin], by_origin[target])
        c = containment(by_origin[origin], by_origin[target])
        entry = (origin, target, round(j, 3), round(c, 3), hit[1], hit[3], hit[2])
        if kind == ROUNDUP or target.startswith("roundup/"):
            roundup_merges.append(entry)
        elif story(origin) == story(target) or j >= 0.75 or c >= 0.85:
            bbc_repeats.append(entry)
            a, b = sorted((story(origin), story(target)))
            if a != b:
                parent[b] = a
        else:
            false_merges.append(entry)
    for url, (origin, kind) in labels.items():
        hit = found.get(url)
        if kind not in TRANSFORMS:
            continue
        row = per[kind]
        row["n"] += 1
        high = true_j[url] >= 0.8
        row["n_j80"] += high
        row["j_sum"] += true_j[url]
        row["c_sum"] += true_c[url]
        if hit is None:
            continue
        if story(labels[articles[hit[0]]][0]) == story(origin):
            row["tp"] += 1
            row["tp_j80"] += high
            row[f"kind_{hit[3]}"] += 1
        else:
            row["fp"] += 1

    table = []
    totals = Counter()
    for name in TRANSFORMS:
        row = per[name]
        totals.update(row)
        table.append(_row(name, row))
    totals["fp"] += len(false_merges) + len(roundup_merges)
    table.append(_row("all transformations", totals))
    return {
        "originals": len(items),
        "skipped_exact_duplicate_files": skipped,
        "records": len(labels),
        "roundups": roundups,
        "job_seconds": round(seconds, 1),
        "table": table,
        "false_merges": false_merges,
        "roundup_merges": roundup_merges,
        "bbc_repeats_among_originals": bbc_repeats,
    }


def _row(name: str, row: Counter) -> dict:
    tp, fp, n = row["tp"], row["fp"], row["n"]
    return {
        "transformation": name,
        "copies": n,
        "mean_true_jaccard": round(row["j_sum"] / n, 3) if n else None,
        "mean_true_containment": round(row["c_sum"] / n, 3) if n else None,
        "found": tp,
        "wrong_target": row["fp"] if name != "all transformations" else fp,
        "precision": round(tp / (tp + fp), 4) if tp + fp else None,
        "recall": round(tp / n, 4) if n else None,
        "copies_j80": row["n_j80"],
        "recall_j80": round(row["tp_j80"] / row["n_j80"], 4) if row["n_j80"] else None,
        "exact": sum(v for k, v in row.items() if k in ("kind_url", "kind_guid", "kind_text", "kind_id")),
        "minhash": row["kind_minhash"],
        "containment": row["kind_containment"],
    }


def as_is(bbc: Path, work: Path, extra: list[str]) -> dict:
    out = work / "bbc-out"
    seconds = run_job([f"{bbc}/*/*.txt"], out, extra)
    articles, duplicates = read_output(out)
    import duckdb

    con = duckdb.connect()
    read = con.execute(f"SELECT count(*) FROM read_parquet('{out}/articles/**/*.parquet', hive_partitioning = true)").fetchone()[0]
    kinds = Counter(kind for _, _, kind, _, _, _, _ in duplicates)
    matched = Counter()
    near = []
    titles = dict(con.execute(
        f"SELECT article_id, title FROM read_parquet('{out}/articles/**/*.parquet', hive_partitioning = true)").fetchall())
    kept_uri = dict(con.execute(
        f"SELECT article_id, input_uri FROM read_parquet('{out}/articles/**/*.parquet', hive_partitioning = true)").fetchall())
    for url, dup_of, kind, sim, title, uri, matched_on in duplicates:
        if kind == "near":
            near.append({"duplicate": uri.split("bbc/")[-1], "of": kept_uri[dup_of].split("bbc/")[-1], "similarity": sim,
                         "matched_on": matched_on, "title": title, "kept_title": titles[dup_of]})
    near.sort(key=lambda pair: (pair["matched_on"], pair["duplicate"]))
    for row in con.execute(f"SELECT matched_on, count(*) FROM read_parquet('{out}/duplicates/**/*.parquet') GROUP BY 1").fetchall():
        matched[row[0]] = row[1]
    return {"articles": read, "duplicates": len(duplicates), "by_kind": dict(kinds), "matched_on": dict(matched),
            "near_pairs": near, "job_seconds": round(seconds, 1)}


def markdown(result: dict) -> str:
    lines = [
        f"Labelled corpus: {result['originals']:,} distinct BBC originals ({result['skipped_exact_duplicate_files']} exact-duplicate "
        f"files left out) + {len(TRANSFORMS)} transformed copies each + {result['roundups']} round-ups of {ROUNDUP_ITEMS} originals "
        f"= {result['records']:,} records; job {result['job_seconds']} s.",
        "",
        "| transformation | copies | mean true J | mean true containment | precision | recall | copies with J >= 0.8 | recall (J >= 0.8) "
        "| found as exact / minhash / containment |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in result["table"]:
        lines.append(
            f"| {row['transformation']} | {row['copies']:,} | {row['mean_true_jaccard']} | {row['mean_true_containment']} | "
            f"{row['precision']} | {row['recall']} | {row['copies_j80']:,} | {row['recall_j80']} | "
            f"{row['exact']:,} / {row['minhash']:,} / {row['containment']:,} |"
        )
    merges = result["roundup_merges"]
    first = [m for m in merges if first_items.get(m[0]) == m[1]]
    lines += ["", f"Round-ups merged with anything (false merges): {len(merges)} of {result['roundups']}; "
                  f"{len(first)} of them with their own first item (which makes {min((m[2] for m in first), default=0)} to "
                  f"{max((m[2] for m in first), default=0)} of the round-up's shingles)"]
    for origin, target, j, c, kind, matched, sim in merges:
        where = "its first item" if first_items.get(origin) == target else "NOT its first item"
        lines.append(f"- {origin} -> {target} ({where}): true J {j}, true containment {c}, {kind}/{matched} (similarity {sim})")
    lines += [f"False merges among the distinct originals (different headline, true J < 0.75, true containment < 0.85): "
              f"{len(result['false_merges'])}"]
    for origin, target, j, c, kind, matched, sim in result["false_merges"]:
        lines.append(f"- {origin} -> {target}: true J {j}, true containment {c}, {kind}/{matched} (similarity {sim})")
    lines.append(f"Originals merged with another original of the same story (same headline, true J >= 0.75 or true "
                 f"containment >= 0.85): {len(result['bbc_repeats_among_originals'])}")
    for origin, target, j, c, kind, matched, sim in result["bbc_repeats_among_originals"]:
        lines.append(f"- {origin} -> {target}: true J {j}, true containment {c}, {kind}/{matched} (similarity {sim})")
    bbc = result.get("bbc_as_is")
    if bbc:
        lines += ["", f"BBC as-is: {bbc['articles']:,} articles, {bbc['duplicates']} duplicates {bbc['by_kind']} "
                      f"(matched on {bbc['matched_on']}); job {bbc['job_seconds']} s."]
        for pair in bbc["near_pairs"]:
            lines.append(f"- {pair['matched_on']}: {pair['duplicate']} -> {pair['of']} (similarity {pair['similarity']}): "
                         f"\"{pair['title']}\" / \"{pair['kept_title']}\"")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bbc", type=Path, default=DEFAULT_BBC)
    parser.add_argument("extra", nargs="*", help="extra flags for 'newsbeam run' (after --)")
    args = parser.parse_args()
    if not args.bbc.is_dir():
        raise SystemExit(f"BBC corpus not found at {args.bbc}: the evaluation needs ../shared/corpora/bbc")
    with tempfile.TemporaryDirectory(prefix="nb-eval-") as tmp:
        work = Path(tmp)
        result = evaluate(args.bbc, work, args.extra)
        result["bbc_as_is"] = as_is(args.bbc, work, args.extra)
    print(markdown(result))
    save_result("dedup-quality", result)


if __name__ == "__main__":
    main()
