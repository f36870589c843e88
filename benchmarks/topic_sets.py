"""Labelled English news sets for the topic evaluation, and how their classes map to IPTC topics.

Each set's classes are coarser than the 17 IPTC topics, so the *top* topic an article gets is mapped
to one of the set's classes (or to none, which counts against recall), and per-class precision,
recall, F1 and macro-F1 are computed.  The maps were written before any evaluation was run.

* **BBC** (``../shared/corpora/bbc``, 2,225 articles, five classes; also a training source, so the
  model is evaluated by 5-fold cross-validation grouped by text): business -> 04000000,
  entertainment -> 01000000, politics -> 11000000, sport -> 15000000, tech -> 13000000.
* **AG News** (``benchmarks/sets/ag_news_test_sample.tsv``): 187 items of the AG News test set
  (title + description, four classes), the rows read at offsets 0, 600,000 and 1,200,000 of
  ``ag_news_csv/test.csv`` in the public repository
  madhubandru/Text-Classification-on-News-Articles-using-BERT-Framework @ 082f2db7 (the
  Zhang et al. 2015 CSV).  Licence: the AG corpus is "provided by the academic community for
  research purposes ... and any other non-commercial activity" (Gulli); used only to measure,
  never to train.  Map: World <- politics, conflict, disaster, crime, religion, society;
  Sports <- sport; Business <- economy/business/finance, labour; Sci/Tech <- science and
  technology, environment.  Others (arts, education, health, human interest, lifestyle, weather)
  map to no class.
* **UCI News Aggregator** (``benchmarks/sets/uci_news_headlines_sample.tsv``): 107 headlines (headline
  only) of 18 stories, six per story at most, from the first rows (10-11 March 2014) of
  ``uci-news-aggregator.csv`` in the public repositories pratikaher88/IPythonNotebooks @ 8482bf77
  and ankurbag/my-refugee-app @ 96a133cf (Gasparetti, UCI ML Repository, CC BY 4.0).  Only three
  of the four classes occur in the rows reachable here (business, science/technology,
  entertainment; no health story).  Map: b <- economy/business/finance, labour; t <- science and
  technology; e <- arts/culture/entertainment/media; m <- health.
"""

from __future__ import annotations

import csv
from pathlib import Path

DATA = Path(__file__).resolve().parent / "sets"

BBC_CLASSES = {
    "medtop:04000000": "business",
    "medtop:01000000": "entertainment",
    "medtop:11000000": "politics",
    "medtop:15000000": "sport",
    "medtop:13000000": "tech",
}
AG_CLASSES = {"1": "World", "2": "Sports", "3": "Business", "4": "Sci/Tech"}
AG_MAP = {
    "medtop:11000000": "World", "medtop:16000000": "World", "medtop:03000000": "World",
    "medtop:02000000": "World", "medtop:12000000": "World", "medtop:14000000": "World",
    "medtop:15000000": "Sports",
    "medtop:04000000": "Business", "medtop:09000000": "Business",
    "medtop:13000000": "Sci/Tech", "medtop:06000000": "Sci/Tech",
}
UCI_CLASSES = {"b": "business", "t": "science and technology", "e": "entertainment", "m": "health"}
UCI_MAP = {
    "medtop:04000000": "business", "medtop:09000000": "business",
    "medtop:13000000": "science and technology",
    "medtop:01000000": "entertainment",
    "medtop:07000000": "health",
}


def _unescape_ag(text: str) -> str:
    """The AG CSV's escapes: ``\\`` for line breaks, ``#39;`` / ``quot;`` / ``&lt;b&gt;`` leftovers."""
    return (text.replace("\\", " ").replace(" #39;", "'").replace("#39;", "'").replace(" quot;", '"')
            .replace("quot;", '"').replace("#36;", "$").replace("&lt;b&gt;...&lt;/b&gt;", "...")
            .replace("&lt;", "<").replace("&gt;", ">").replace(" amp; ", " & "))


def ag_news() -> list[tuple[str, str, str]]:
    """(class, title, description)."""
    with open(DATA / "ag_news_test_sample.tsv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [(AG_CLASSES[r["label"]], _unescape_ag(r["title"]).strip(), _unescape_ag(r["description"]).strip())
            for r in rows]


def uci_headlines() -> list[tuple[str, str, str]]:
    """(class, headline, '')."""
    with open(DATA / "uci_news_headlines_sample.tsv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [(UCI_CLASSES[r["label"]], r["title"].strip(), "") for r in rows]


def macro_f1(pairs: list[tuple[str, str | None]], classes: list[str]) -> tuple[float, list[dict]]:
    """``pairs``: (true class, predicted class or None).  Macro-F1 over ``classes`` (those present)."""
    table, f1s = [], []
    for cls in classes:
        actual = sum(1 for c, _ in pairs if c == cls)
        if not actual:
            continue
        predicted = sum(1 for _, p in pairs if p == cls)
        tp = sum(1 for c, p in pairs if c == cls and p == cls)
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        f1s.append(f1)
        table.append({"class": cls, "articles": actual, "precision": round(precision, 3), "recall": round(recall, 3),
                      "f1": round(f1, 3)})
    return (sum(f1s) / len(f1s) if f1s else 0.0), table
