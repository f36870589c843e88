"""Training the topic model (numpy only; run by ``benchmarks/train_topics.py``, ``make train-topics``).

Training examples (:func:`build_examples`) come from three sources, each with its own labels:

* **labelled news**: items whose category maps to IPTC codes (``data/news_category_iptc.tsv`` for
  the HuffPost News Category Dataset; the five BBC categories).  The mapped codes are positives.
  A topic outside them is a negative, *unless* the keyword taxonomy finds it in the item: then it is
  a weak positive (weight ``WEAK_WEIGHT``), because a politics story can also be about a war, and a
  category says nothing about that.
* **weak labels on unlabelled text**: items of categories that map to nothing (site sections such as
  "U.S. NEWS") get the keyword taxonomy's topics as positives and the rest as negatives, at weight
  ``WEAK_WEIGHT``; items where the taxonomy finds nothing are left out.
* **short copies**: each labelled item again as its headline alone, and each BBC article as headline +
  first paragraph, at weight ``SHORT_WEIGHT``: the model is used on wire items and bare headlines too.
* **the taxonomy as a prior**: every term of the taxonomy is a tiny example (headline = the term) for
  its topics, weight ``PRIOR_WEIGHT`` x term weight / 3, so topics with few labelled examples
  (weather, disasters, labour, conflict) start from the editors' word lists.

The model (:func:`fit`) is one logistic regression per topic over the features of
:mod:`pipeline.tagging.topic_model`, trained jointly by mini-batch AdaGrad with L2 regularisation,
positives up-weighted per topic (``sqrt(negatives / positives)``, capped).  Probabilities come from a
per-topic Platt scaling fitted on out-of-fold scores (``CALIBRATION_FOLDS`` folds by group, so exact
duplicates never straddle folds).  Everything is seeded and ordered: the same inputs give the same
bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from typing import Iterable, Optional, Sequence

import numpy as np

from pipeline.tagging.topic_model import features, vectorize

SEED = 20261201
MIN_DF = 2
EPOCHS = 12
BATCH = 128
LEARNING_RATE = 0.4
L2 = 1e-5
MAX_POSITIVE_WEIGHT = 8.0
WEAK_WEIGHT = 0.5
SHORT_WEIGHT = 0.5
PRIOR_WEIGHT = 0.3
CALIBRATION_FOLDS = 3

SHORT_SOURCES = frozenset({"news-category-headline", "bbc-lead", "bbc-headline"})
BBC_TOPICS = {
    "business": "medtop:04000000",
    "entertainment": "medtop:01000000",
    "politics": "medtop:11000000",
    "sport": "medtop:15000000",
    "tech": "medtop:13000000",
}


@dataclass(frozen=True)
class Example:
    title: str
    text: str
    positives: tuple[str, ...]
    weak: tuple[str, ...] = ()         # weak positives (the taxonomy's, beside a category's): weight x WEAK_WEIGHT
    weight: float = 1.0
    group: str = ""                    # fold key: examples of one group stay in one fold
    source: str = ""


def load_mapping(path: Optional[str] = None) -> dict[str, tuple[str, ...]]:
    """Category -> IPTC codes (``()`` for categories that map to nothing)."""
    if path:
        text = open(path, encoding="utf-8").read()
    else:
        text = (resources.files("pipeline.tagging") / "data" / "news_category_iptc.tsv").read_text("utf-8")
    mapping: dict[str, tuple[str, ...]] = {}
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    header = lines[0].split("\t")
    if header[:2] != ["category", "codes"]:
        raise ValueError(f"mapping table: unexpected header {header}")
    for line in lines[1:]:
        category, codes, *_ = line.split("\t")
        mapping[category] = () if codes.strip() == "-" else tuple(codes.split())
    return mapping


def _taxonomy_topics(taxonomy, title: str, text: str) -> tuple[str, ...]:
    from pipeline.tagging.topics import classify_topics

    return tuple(t["code"] for t in classify_topics(title, text, taxonomy))


def build_examples(news_category: Iterable[dict], bbc: Iterable[tuple[str, str, str, str]], taxonomy,
                   mapping: dict[str, tuple[str, ...]]) -> list[Example]:
    """``news_category``: dicts with headline, short_description, category, link;
    ``bbc``: (category, group key, title, body).  Returns the labelled, weak and prior examples."""
    examples: list[Example] = []
    for item in news_category:
        title, text = item["headline"], item["short_description"]
        found = _taxonomy_topics(taxonomy, title, text)
        codes = mapping[item["category"]]
        if codes:
            weak = tuple(c for c in found if c not in codes)
            examples.append(Example(title, text, codes, weak, 1.0, item["link"], "news-category"))
            examples.append(Example(title, "", codes, weak, SHORT_WEIGHT, item["link"], "news-category-headline"))
        elif found:
            examples.append(Example(title, text, found, (), WEAK_WEIGHT, item["link"], "news-category-weak"))
    for category, group, title, body in bbc:
        code = BBC_TOPICS[category]
        found = _taxonomy_topics(taxonomy, title, body)
        weak = tuple(c for c in found if c != code and c not in BBC_TOPICS.values())
        examples.append(Example(title, body, (code,), weak, 1.0, group, "bbc"))
        lead = body.strip().split("\n\n")[0]
        examples.append(Example(title, lead, (code,), weak, SHORT_WEIGHT, group, "bbc-lead"))
        examples.append(Example(title, "", (code,), weak, SHORT_WEIGHT, group, "bbc-headline"))
    for topic in taxonomy.topics_data:
        for term, weight in sorted(topic["terms"].items()):
            examples.append(Example(term, "", (topic["code"],), (), PRIOR_WEIGHT * float(weight) / 3.0,
                                    "prior:" + term, "prior"))
    # a term listed under several topics is one example positive for all of them
    merged: dict[str, Example] = {}
    out = []
    for ex in examples:
        if ex.source != "prior":
            out.append(ex)
            continue
        prev = merged.get(ex.title)
        if prev is None:
            merged[ex.title] = ex
        else:
            merged[ex.title] = Example(ex.title, "", tuple(sorted(set(prev.positives) | set(ex.positives))), (),
                                       max(prev.weight, ex.weight), prev.group, "prior")
    return out + [merged[k] for k in sorted(merged)]


@dataclass
class Design:
    """Examples as a sparse matrix (CSR) plus label, weight arrays."""
    vocab: list[str]
    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray
    y: np.ndarray          # (n, topics) 0/1
    w: np.ndarray          # (n, topics) loss weight (0 = unknown)


def build_vocabulary(examples: Sequence[Example]) -> list[str]:
    df: Counter = Counter()
    forced: set[str] = set()
    for ex in examples:
        if ex.source in SHORT_SOURCES:
            continue  # a short copy's features are its item's: counting them again would double the df
        feats = features(ex.title, ex.text)
        if ex.source == "prior":
            forced.update(feats)
        else:
            df.update(feats.keys())
    keep = {f for f, n in df.items() if n >= MIN_DF} | forced
    return sorted(keep)


def design(examples: Sequence[Example], vocab: list[str], codes: Sequence[str]) -> Design:
    index = {f: j for j, f in enumerate(vocab)}
    col = {c: k for k, c in enumerate(codes)}
    indptr, indices, values = [0], [], []
    y = np.zeros((len(examples), len(codes)), dtype=np.float32)
    w = np.zeros_like(y)
    for i, ex in enumerate(examples):
        idx, val = vectorize(features(ex.title, ex.text), index)
        order = np.argsort(idx, kind="stable")
        indices.append(idx[order])
        values.append(val[order])
        indptr.append(indptr[-1] + len(idx))
        w[i, :] = ex.weight
        for c in ex.positives:
            y[i, col[c]] = 1.0
        for c in ex.weak:
            y[i, col[c]] = 1.0
            w[i, col[c]] = ex.weight * WEAK_WEIGHT
    return Design(list(vocab), np.asarray(indptr, dtype=np.int64),
                  np.concatenate(indices) if indices else np.zeros(0, np.int64),
                  np.concatenate(values) if values else np.zeros(0, np.float32), y, w)


def _rows(d: Design, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR slice: (row number within the batch of each non-zero, feature indices, values)."""
    starts, ends = d.indptr[rows], d.indptr[rows + 1]
    lengths = ends - starts
    take = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends)]) if len(rows) else np.zeros(0, np.int64)
    owner = np.repeat(np.arange(len(rows)), lengths)
    return owner, d.indices[take], d.values[take]


def _segment_sum(keys: np.ndarray, contributions: np.ndarray, n: int) -> np.ndarray:
    """Sum rows of ``contributions`` by ``keys`` (non-decreasing) into an (n, ...) array."""
    out = np.zeros((n,) + contributions.shape[1:], dtype=np.float64)
    if len(keys) == 0:
        return out
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    out[keys[starts]] = np.add.reduceat(contributions, starts, axis=0)
    return out


def _scores(weights: np.ndarray, bias: np.ndarray, owner, idx, val, n: int) -> np.ndarray:
    return _segment_sum(owner, val[:, None].astype(np.float64) * weights[idx], n) + bias


def fit(d: Design, rows: Optional[np.ndarray] = None, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """One-vs-rest logistic regression by mini-batch AdaGrad; returns (weights (features, topics), bias)."""
    rows = np.arange(len(d.y)) if rows is None else np.asarray(rows)
    n_feat, n_top = len(d.vocab), d.y.shape[1]
    weights = np.zeros((n_feat, n_top), dtype=np.float64)
    bias = np.zeros(n_top, dtype=np.float64)
    g2w = np.full((n_feat, n_top), 1e-8)
    g2b = np.full(n_top, 1e-8)
    y, w = d.y[rows], d.w[rows]
    pos = ((y > 0) & (w > 0)).sum(0)
    neg = ((y == 0) & (w > 0)).sum(0)
    pos_weight = np.clip(np.sqrt(np.maximum(neg, 1) / np.maximum(pos, 1)), 1.0, MAX_POSITIVE_WEIGHT)
    rng = np.random.default_rng(seed)
    total = float(w.sum()) or 1.0
    for _ in range(EPOCHS):
        order = rows[rng.permutation(len(rows))]
        for start in range(0, len(order), BATCH):
            batch = order[start:start + BATCH]
            owner, idx, val = _rows(d, batch)
            if len(idx) == 0:
                continue
            z = _scores(weights, bias, owner, idx, val, len(batch))
            p = 1.0 / (1.0 + np.exp(-z))
            yb, wb = d.y[batch], d.w[batch]
            g = (p - yb) * wb * np.where(yb > 0, pos_weight, 1.0) * (len(rows) / total)
            # gradient rows for the features in the batch (sorted unique features, summed contributions)
            by_feature = np.argsort(idx, kind="stable")
            sorted_idx = idx[by_feature]
            starts = np.flatnonzero(np.r_[True, sorted_idx[1:] != sorted_idx[:-1]])
            uniq = sorted_idx[starts]
            contrib = val[by_feature, None].astype(np.float64) * g[owner[by_feature]]
            grad = np.add.reduceat(contrib, starts, axis=0) / len(batch)
            grad += L2 * weights[uniq]
            g2w[uniq] += grad * grad
            weights[uniq] -= LEARNING_RATE * grad / np.sqrt(g2w[uniq])
            gb = g.mean(0)
            g2b += gb * gb
            bias -= LEARNING_RATE * gb / np.sqrt(g2b)
    return weights, bias


def scores(d: Design, weights: np.ndarray, bias: np.ndarray, rows: np.ndarray) -> np.ndarray:
    out = np.zeros((len(rows), weights.shape[1]))
    for start in range(0, len(rows), 1024):
        batch = rows[start:start + 1024]
        owner, idx, val = _rows(d, batch)
        out[start:start + len(batch)] = _scores(weights, bias, owner, idx, val, len(batch))
    return out


def platt(z: np.ndarray, y: np.ndarray, w: np.ndarray, iterations: int = 50) -> tuple[float, float]:
    """Weighted Platt scaling p = sigmoid(a z + b) by Newton's method (with Platt's smoothed targets)."""
    keep = w > 0
    z, y, w = z[keep], y[keep], w[keep]
    if len(z) == 0 or y.min() == y.max():
        return 1.0, 0.0
    n_pos, n_neg = float((w * y).sum()), float((w * (1 - y)).sum())
    t = np.where(y > 0, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    a, b = 1.0, 0.0
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-(a * z + b)))
        r = w * (p - t)
        s = w * p * (1 - p) + 1e-12
        g = np.array([(r * z).sum(), r.sum()])
        h = np.array([[(s * z * z).sum() + 1e-9, (s * z).sum()], [(s * z).sum(), s.sum() + 1e-9]])
        step = np.linalg.solve(h, g)
        a, b = a - step[0], b - step[1]
        if abs(step).max() < 1e-9:
            break
    return float(a), float(b)


def fold_of(group: str, folds: int, salt: str = "") -> int:
    return int(hashlib.sha256(f"{salt}{group}".encode()).hexdigest()[:8], 16) % folds


@dataclass
class Trained:
    codes: list[str]
    labels: list[str]
    vocab: list[str]
    weights: np.ndarray        # float16 as shipped
    bias: np.ndarray
    calibration: np.ndarray    # (topics, 2)


def train(examples: Sequence[Example], codes: Sequence[str], labels: Sequence[str],
          rows: Optional[np.ndarray] = None, seed: int = SEED) -> Trained:
    """Vocabulary, calibration folds and the final fit on ``rows`` of ``examples`` (default all)."""
    rows = np.arange(len(examples)) if rows is None else np.asarray(rows)
    chosen = [examples[i] for i in rows]
    vocab = build_vocabulary(chosen)
    d = design(chosen, vocab, codes)
    everything = np.arange(len(chosen))
    labelled = np.array([i for i, ex in enumerate(chosen) if ex.source != "prior"], dtype=np.int64)
    fold = np.array([fold_of(chosen[i].group, CALIBRATION_FOLDS, "calibration") for i in labelled])
    oof = np.zeros((len(labelled), len(codes)))
    priors = np.array([i for i, ex in enumerate(chosen) if ex.source == "prior"], dtype=np.int64)
    for k in range(CALIBRATION_FOLDS):
        train_rows = np.concatenate([labelled[fold != k], priors])
        w, b = fit(d, np.sort(train_rows), seed + 1 + k)
        oof[fold == k] = scores(d, w, b, labelled[fold == k])
    calibration = np.array([platt(oof[:, t], d.y[labelled, t], d.w[labelled, t]) for t in range(len(codes))])
    weights, bias = fit(d, everything, seed)
    return Trained(list(codes), list(labels), vocab, weights.astype(np.float16), bias.astype(np.float32), calibration)


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def save(trained: Trained, path) -> None:
    """Write the model as a zip of .npy files (np.load reads it) with fixed timestamps: same model, same bytes."""
    arrays = {
        "codes": np.array(trained.codes),
        "labels": np.array(trained.labels),
        "vocab_utf8": np.frombuffer("\n".join(trained.vocab).encode("utf-8"), dtype=np.uint8),
        "weights": trained.weights,
        "bias": trained.bias,
        "calibration": trained.calibration,
    }
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, _npy_bytes(array), compresslevel=9)


def describe(trained: Trained, probes: Sequence[tuple[str, str]], model) -> dict:
    """What the metadata file records: shape and the shipped model's probabilities on probe texts."""
    return {
        "topics": len(trained.codes),
        "features": len(trained.vocab),
        "weights_dtype": str(trained.weights.dtype),
        "probes": [{"title": t, "text": x, "probabilities": [round(float(p), 6) for p in model.probabilities(t, x)]}
                   for t, x in probes],
    }


def dumps(meta: dict) -> str:
    return json.dumps(meta, indent=1, ensure_ascii=False, sort_keys=False) + "\n"


def log_loss(p: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-(w * (y * np.log(p) + (1 - y) * np.log(1 - p))).sum() / max(w.sum(), 1e-9))

