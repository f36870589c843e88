"""Train the shipped topic model (``make train-topics``).

    .venv/bin/python benchmarks/train_topics.py [--shared ../shared] [--out pipeline/tagging/data]
    .venv/bin/python benchmarks/train_topics.py --check      # retrain in memory, compare with the shipped file

Reads (never at test or run time):

* ``corpora/news-category/News_Category_Dataset_v{3,2}.subset.jsonl.gz``: HuffPost headlines and
  short descriptions (Misra 2022, CC BY 4.0), pinned by sha256 below; items are de-duplicated by
  link (1,325 links are in both files); categories map to IPTC codes by
  ``pipeline/tagging/data/news_category_iptc.tsv``;
* ``corpora/bbc/*/*.txt``: the 2,225 BBC articles (five categories), pinned by a sha256 over the
  sorted file names and contents;
* the shipped keyword taxonomy ``pipeline/tagging/data/iptc_topics.json`` (weak labels and prior).

Writes ``topic_model.npz`` (weights) and ``topic_model.json`` (provenance, sizes, sha256 of the
weights, and the model's probabilities on a few probe texts, which a test recomputes from the
shipped file).  Same inputs, same bytes: every step is seeded and ordered.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

DEFAULT_SHARED = ROOT.parent / "shared"
NEWS_CATEGORY_FILES = {
    "News_Category_Dataset_v3.subset.jsonl.gz": "d363859886b8c2a6acd9a250d57e2e7e973deca0e8041bdcbae7728f0a60635d",
    "News_Category_Dataset_v2.subset.jsonl.gz": "01538600fc5d3206d32aa31b2225122c3de2b6e6b835e9337a204bd263774819",
}

PROBES = [
    ("Prime minister calls snap election", "Opposition parties said voters would punish the government."),
    ("Rebels shell the capital as peace talks collapse", "Troops and militants clashed for a third day."),
    ("Striker signs for record fee", "The club confirmed the transfer after a medical on Tuesday."),
    ("Shares slide as central bank raises rates", "Investors sold stocks after the interest rate rise."),
    ("New vaccine cuts hospital admissions", "Doctors said the trial showed fewer severe cases of the disease."),
    ("Storm brings floods and heavy snow", "Forecasters warned of more rain and high winds overnight."),
    ("Band announces world tour", "The singer said the new album would be out in May."),
    ("", ""),
]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_news_category(folder: Path) -> list[dict]:
    """The two subsets, checked against their pinned sha256, de-duplicated by link (first file wins)."""
    seen, items = set(), []
    for name, digest in NEWS_CATEGORY_FILES.items():
        data = (folder / name).read_bytes()
        if sha256_bytes(data) != digest:
            raise SystemExit(f"{folder / name}: sha256 {sha256_bytes(data)} is not the pinned {digest}")
        for line in gzip.decompress(data).decode("utf-8").splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            if item["link"] in seen:
                continue
            seen.add(item["link"])
            items.append(item)
    return items


def read_bbc(folder: Path) -> tuple[list[tuple[str, str, str, str]], str]:
    """(category, group = sha256 of the text, headline, body) for each file, and a digest of the whole set."""
    rows, digest = [], hashlib.sha256()
    for path in sorted(folder.glob("*/*.txt")):
        data = path.read_bytes()
        digest.update(f"{path.parent.name}/{path.name}\0".encode() + data)
        text = data.decode("utf-8", "replace")
        headline, _, body = text.partition("\n")
        rows.append((path.parent.name, sha256_bytes(body.strip().encode()), headline.strip(), body.strip()))
    return rows, digest.hexdigest()


def load_inputs(shared: Path):
    from pipeline.tagging.topics import Taxonomy
    from pipeline.tagging.training import build_examples, load_mapping

    taxonomy = Taxonomy()
    mapping = load_mapping()
    news = read_news_category(shared / "corpora" / "news-category")
    missing = sorted({i["category"] for i in news} - set(mapping))
    if missing:
        raise SystemExit(f"categories missing from the mapping table: {missing}")
    bbc, bbc_digest = read_bbc(shared / "corpora" / "bbc")
    examples = build_examples(news, bbc, taxonomy, mapping)
    codes = [t.code for t in taxonomy.topics]
    labels = [t.label for t in taxonomy.topics]
    return examples, codes, labels, {"news_category_items": len(news), "bbc_files": len(bbc), "bbc_sha256": bbc_digest}


def to_model(trained):
    from pipeline.tagging.topic_model import TopicModel

    return TopicModel.from_arrays(trained.codes, trained.labels, trained.vocab, trained.weights, trained.bias,
                                  trained.calibration)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--out", type=Path, default=ROOT / "pipeline" / "tagging" / "data")
    parser.add_argument("--check", action="store_true", help="train into a temporary folder and compare with --out")
    args = parser.parse_args()

    from collections import Counter

    from pipeline.tagging import training
    from pipeline.tagging.topic_model import META_FILE, MODEL_FILE, sha256_file

    started = time.perf_counter()
    examples, codes, labels, inputs = load_inputs(args.shared)
    trained = training.train(examples, codes, labels)
    out = Path(tempfile.mkdtemp(prefix="nb-topics-")) if args.check else args.out
    out.mkdir(parents=True, exist_ok=True)
    training.save(trained, out / MODEL_FILE)
    model = to_model(trained)
    sources = Counter(ex.source for ex in examples)
    meta = {
        "model": "one-vs-rest logistic regression over word and bigram features, Platt-calibrated (pipeline/tagging/training.py)",
        "trained_by": "benchmarks/train_topics.py (make train-topics)",
        "sha256": sha256_file(out / MODEL_FILE),
        "bytes": (out / MODEL_FILE).stat().st_size,
        "data": {
            "news_category": {"files": NEWS_CATEGORY_FILES, "licence": "CC BY 4.0 (Misra, News Category Dataset, 2022)",
                              "items": inputs["news_category_items"]},
            "bbc": {"files": inputs["bbc_files"], "sha256": inputs["bbc_sha256"],
                    "licence": "content (c) BBC; research dataset of Greene & Cunningham (ICML 2006)"},
            "taxonomy": "pipeline/tagging/data/iptc_topics.json (weak labels and prior)",
            "mapping": "pipeline/tagging/data/news_category_iptc.tsv",
        },
        "examples": dict(sorted(sources.items())),
        "parameters": {k: getattr(training, k) for k in ("SEED", "MIN_DF", "EPOCHS", "BATCH", "LEARNING_RATE", "L2",
                                                          "MAX_POSITIVE_WEIGHT", "WEAK_WEIGHT", "SHORT_WEIGHT", "PRIOR_WEIGHT",
                                                          "CALIBRATION_FOLDS")},
        **training.describe(trained, PROBES, model),
    }
    (out / META_FILE).write_text(training.dumps(meta), encoding="utf-8")
    print(f"trained on {len(examples):,} examples {dict(sources)} -> {len(trained.vocab):,} features x {len(codes)} topics, "
          f"{meta['bytes'] / 1e6:.2f} MB, sha256 {meta['sha256'][:16]}…, {time.perf_counter() - started:.0f} s, in {out}")
    if args.check:
        shipped = json.loads((args.out / META_FILE).read_text("utf-8"))
        same = shipped["sha256"] == meta["sha256"]
        print("shipped model is reproduced byte for byte" if same else
              f"DIFFERENT: shipped {shipped['sha256']} vs retrained {meta['sha256']}")
        raise SystemExit(0 if same else 1)


if __name__ == "__main__":
    main()
