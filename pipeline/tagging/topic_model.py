"""Topics from a learned classifier: multi-label IPTC Media Topics (the 17 top-level codes).

A linear model per topic (one-vs-rest logistic regression) over a fixed vocabulary of word and
word-bigram features of the headline and the first ``MAX_BODY_CHARS`` characters of the body,
trained by ``benchmarks/train_topics.py`` (``make train-topics``; the numpy trainer is
:mod:`pipeline.tagging.training`).  Each topic's raw score is mapped to a probability by a
per-topic Platt scaling fitted on out-of-fold scores of the training data, so a score is "how often
an article scored like this carried the topic" in that data.

Which topics an article gets (:func:`select_topics`):

* the best topic when its probability is at least ``FLOOR`` (0.15);
* every further topic whose probability is at least ``THRESHOLD`` (0.5);
* at most ``MAX_TOPICS`` (4), best first; ``[]`` when even the best is below the floor.

Inference is a few lines of numpy (no scikit-learn), the weights ship with the package
(``pipeline/tagging/data/topic_model.npz``, described by ``topic_model.json``), nothing is
downloaded.  Features, in :func:`features`: the text is lower-cased, split into runs of letters
and digits (any script), tokens of one character dropped and numbers folded to ``<num>``; the
features are title words (``t:`` prefix), words and adjacent-word bigrams of title + body, each
``1 + ln(count)``, the vector L2-normalised.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from contextlib import nullcontext
from importlib import resources
from typing import Optional, Sequence

import numpy as np

MAX_BODY_CHARS = 600
FLOOR = 0.15
THRESHOLD = 0.5
MAX_TOPICS = 4

_TOKEN = re.compile(r"[^\W_]{2,}")  # runs of letters/digits of 2+ characters
MODEL_FILE = "topic_model.npz"
META_FILE = "topic_model.json"


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens (letters/digits of any script); 1-character tokens dropped, numbers -> ``<num>``."""
    return ["<num>" if tok.isdigit() else tok for tok in _TOKEN.findall(text.lower())]


def features(title: str, text: str) -> Counter:
    """Raw feature counts of one article (before the vocabulary and weighting)."""
    head = tokens(title or "")
    words = head + tokens((text or "")[:MAX_BODY_CHARS])
    counts: Counter = Counter(words)
    counts.update(["t:" + w for w in head])
    counts.update([f"{a} {b}" for a, b in zip(words, words[1:])])
    return counts


def vectorize(counts: Counter, vocab: dict) -> tuple[np.ndarray, np.ndarray]:
    """(feature indices, values): ``1 + ln(count)`` for features in ``vocab``, L2-normalised."""
    idx, val = [], []
    for feat, count in counts.items():
        j = vocab.get(feat)
        if j is not None:
            idx.append(j)
            val.append(1.0 + math.log(count))
    if not idx:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    values = np.asarray(val, dtype=np.float32)
    values /= np.sqrt(np.dot(values, values))
    return np.asarray(idx, dtype=np.int64), values


def select_topics(probabilities: Sequence[float], codes: Sequence[str], labels: Sequence[str]) -> list[dict]:
    """``[{code, label, score}]`` best first: the best topic if >= FLOOR, others if >= THRESHOLD, at most MAX_TOPICS.

    Ties go to the lower code (``codes`` are in code order)."""
    p = np.asarray(probabilities, dtype=np.float64)
    out = []
    for rank, i in enumerate(np.argsort(-p, kind="stable")[:MAX_TOPICS].tolist()):
        score = float(p[i])
        if score < (FLOOR if rank == 0 else THRESHOLD):
            break
        out.append({"code": codes[i], "label": labels[i], "score": round(score, 4)})
    return out


def sha256_file(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class TopicModel:
    """The shipped (or a given) topic model; build once per worker (~0.1 s)."""

    name = "model"

    def __init__(self, path: Optional[str] = None) -> None:
        source = nullcontext(path) if path else resources.as_file(resources.files("pipeline.tagging") / "data" / MODEL_FILE)
        with source as real:
            with np.load(real, allow_pickle=False) as data:
                self.codes: list[str] = [str(c) for c in data["codes"]]
                self.labels: list[str] = [str(c) for c in data["labels"]]
                vocab = bytes(data["vocab_utf8"]).decode("utf-8").split("\n")
                self.weights = data["weights"].astype(np.float32)          # (features, topics)
                self.bias = data["bias"].astype(np.float32)                # (topics,)
                self.calibration = data["calibration"].astype(np.float64)  # (topics, 2): a, b
        self._index(vocab)

    @classmethod
    def from_arrays(cls, codes, labels, vocab, weights, bias, calibration) -> "TopicModel":
        """A model from arrays in memory (the trainer's output), exactly as it would load from a file."""
        model = cls.__new__(cls)
        model.codes, model.labels = list(codes), list(labels)
        model.weights = np.asarray(weights).astype(np.float32)
        model.bias = np.asarray(bias).astype(np.float32)
        model.calibration = np.asarray(calibration).astype(np.float64)
        model._index(list(vocab))
        return model

    def _index(self, vocab: list) -> None:
        self._slope = np.ascontiguousarray(self.calibration[:, 0])
        self._intercept = np.ascontiguousarray(self.calibration[:, 1])
        self.vocab = {feat: j for j, feat in enumerate(vocab)}
        self._num = self.vocab.get("<num>", len(vocab))
        if self.weights.shape != (len(vocab), len(self.codes)):
            raise ValueError(f"topic model: weights {self.weights.shape} do not match {len(vocab)} features x {len(self.codes)} topics")
        # bigram features by the vocabulary indices of their two words (both are features too: a
        # bigram seen in MIN_DF documents has words seen in as many), sorted for a vectorised lookup;
        # code = left * (n + 1) + right, where n (the vocabulary size) stands for a missing word
        n = len(vocab)
        self._missing = n
        codes, ids = [], []
        for j, feat in enumerate(vocab):
            a, space, b = feat.partition(" ")
            if space:
                ia, ib = self.vocab.get(a), self.vocab.get(b)
                if ia is not None and ib is not None:
                    codes.append(ia * (n + 1) + ib)
                    ids.append(j)
        order = np.argsort(np.asarray(codes, dtype=np.int64), kind="stable")
        self._bigram_codes = np.asarray(codes, dtype=np.int64)[order]
        self._bigram_ids = np.asarray(ids, dtype=np.int64)[order]
        if not len(self._bigram_codes):  # keep the lookup well-defined
            self._bigram_codes = np.array([-1], dtype=np.int64)
            self._bigram_ids = np.array([n], dtype=np.int64)

    def vector(self, title: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Same (indices, values) as ``vectorize(features(title, text), vocab)``, ~5x faster: words are
        looked up once, bigrams found by their two word indices in one sorted search."""
        get, missing = self.vocab.get, self._missing
        head = _TOKEN.findall((title or "").lower())
        words = head + _TOKEN.findall((text or "")[:MAX_BODY_CHARS].lower())
        ids = [get(w, missing) for w in words]
        if self._num != missing:  # numbers are one feature, <num>; only the misses can be numbers
            for k in [k for k, v in enumerate(ids) if v == missing]:
                if words[k].isdigit():
                    ids[k] = self._num
        ids += [get("t:<num>" if w.isdigit() else "t:" + w, missing) for w in head]
        unigram = np.array(ids, dtype=np.int64)
        n_words = len(words)
        # a missing word is index ``missing`` (= vocabulary size), never part of a bigram code
        pair = unigram[:n_words - 1] * (missing + 1) + unigram[1:n_words]
        at = np.searchsorted(self._bigram_codes, pair)
        np.minimum(at, len(self._bigram_codes) - 1, out=at)
        found = np.concatenate((unigram, self._bigram_ids[at[self._bigram_codes[at] == pair]]))
        idx, counts = np.unique(found[found < missing], return_counts=True)
        if not len(idx):
            return idx, np.zeros(0, dtype=np.float32)
        values = np.log(counts) + 1.0
        values /= np.sqrt(values @ values)
        return idx, values.astype(np.float32)

    def scores(self, title: str, text: str) -> np.ndarray:
        """Raw linear scores per topic."""
        idx, val = self.vector(title, text)
        return val @ self.weights[idx] + self.bias

    def probabilities(self, title: str, text: str) -> np.ndarray:
        z = self._slope * self.scores(title, text) + self._intercept  # float64
        np.negative(z, out=z)
        np.exp(z, out=z)
        z += 1.0
        return np.reciprocal(z, out=z)

    def classify(self, title: str, text: str) -> list[dict]:
        return select_topics(self.probabilities(title, text), self.codes, self.labels)


def model_metadata() -> dict:
    return json.loads((resources.files("pipeline.tagging") / "data" / META_FILE).read_text("utf-8"))
