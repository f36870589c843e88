"""Keywords: the top key phrases of one article, without a corpus.

A light statistical extractor in the spirit of YAKE and RAKE (the ``yake`` package gives similar
phrases but costs ~11 ms per article here, ten times the rest of the pipeline).  Candidates are
1-3 word n-grams inside runs of non-stopwords (stopwords and punctuation break phrases).  A
candidate's score is

    frequency x (1 + share of its mentions written capitalised mid-sentence)
              x (1 + 1 / (1 + index of the sentence it first appears in))
              x (1 + 0.5 x (words - 1))

with a headline mention counting as two and multi-word phrases needing two mentions of the same
spelling.
A phrase is dropped when a better-scored phrase contains it or it contains a better one.
At most ``MAX_KEYWORDS``; the surface form is the most frequent spelling.
"""

from __future__ import annotations

import re
from collections import Counter
from importlib import resources
from typing import Optional

MAX_KEYWORDS = 10
_TOKEN = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ0-9]+(?:['’-][A-Za-zÀ-ÖØ-öø-ÿ0-9]+)*|[.!?;:,()\"“”—–]")
_BREAKS = frozenset(".!?;:,()\"“”—–")
_SENTENCE_END = frozenset(".!?")
_POSSESSIVE = frozenset(("'s", "’s"))
_START = "\x00"


def load_stopwords() -> frozenset[str]:
    text = (resources.files("pipeline.tagging") / "data" / "stopwords_en.txt").read_text("utf-8")
    return frozenset(w.strip().lower() for w in text.split() if w.strip() and not w.startswith("#"))


def _runs(chunk: str, stopwords: frozenset[str], sentence: int, runs: list) -> int:
    """Append (sentence index, tokens) for each run of non-stopwords; return the next sentence index."""
    run: list[str] = []
    sentence_start = True
    for token in _TOKEN.findall(chunk):
        if token in _BREAKS:
            if run:
                runs.append((sentence, run))
                run = []
            if token in _SENTENCE_END:
                sentence += 1
                sentence_start = True
            continue
        if token[-2:] in _POSSESSIVE:
            token = token[:-2]
        lower = token.lower()
        if lower in stopwords or len(token) < 2 or token.isdigit():
            if run:
                runs.append((sentence, run))
                run = []
        else:
            # A capital that only marks a sentence start says nothing about the word: marked, so it
            # is not counted as capitalised (but "Qatar says ..." still spells Qatar).
            run.append(_START + token if sentence_start and not token.isupper() else token)
        sentence_start = False
    if run:
        runs.append((sentence, run))
    return sentence + 1


def extract_keywords(title: str, text: str, stopwords: frozenset[str], limit: int = MAX_KEYWORDS) -> list[str]:
    runs: list[tuple[int, list[str]]] = []
    title_runs = _runs(title, stopwords, 0, runs)
    n_title = len(runs)
    _runs(text, stopwords, title_runs, runs)

    grams: list[str] = []
    sentences: list[int] = []
    title_grams: list[str] = []
    for index, (sentence, run) in enumerate(runs):
        found = run if len(run) == 1 else run + [f"{x} {y}" for x, y in zip(run, run[1:])]
        if len(run) > 2:
            found += [f"{x} {y} {z}" for x, y, z in zip(run, run[1:], run[2:])]
        if index < n_title:
            title_grams += found
        grams += found
        sentences += [sentence] * len(found)
    surfaces = Counter(grams)
    first: dict[str, int] = {}
    for gram, sentence in zip(grams, sentences):
        if gram not in first:
            first[gram] = sentence

    mentions: Counter = Counter()
    capitalised: Counter = Counter()
    first_sentence: dict[str, int] = {}
    best_surface: dict[str, tuple[int, int, str]] = {}
    for surface, count in surfaces.items():
        if count == 1 and " " in surface:
            continue  # a phrase needs two mentions (spellings are not merged for single mentions)
        position = first[surface]
        marked = _START in surface
        if marked:
            surface = surface.replace(_START, "")
        key = surface.lower()
        mentions[key] += count
        if position < first_sentence.get(key, 1 << 30):
            first_sentence[key] = position
        if not marked and surface != key and all(w[0].isupper() for w in surface.split(" ")):
            capitalised[key] += count
        # The commonest spelling mid-sentence, then the commonest at sentence starts.
        rank = (0 if marked else count, count)
        if rank > best_surface.get(key, (-1, 0, ""))[:2]:
            best_surface[key] = (*rank, surface)
    counts = mentions.copy()
    for gram in title_grams:  # a headline mention counts twice
        key = gram.replace(_START, "").lower()
        if key in counts:
            counts[key] += 1

    scored = []
    for key, count in counts.items():
        size = key.count(" ") + 1
        if size > 1 and count < 2:
            continue
        score = count * (1 + capitalised[key] / mentions[key]) * (1 + 1 / (1 + first_sentence[key])) * (1 + 0.5 * (size - 1))
        scored.append((-score, key))
    scored.sort()

    chosen: list[str] = []
    for _score, key in scored:
        padded = f" {key} "
        if any(padded in f" {k} " or f" {k} " in padded for k in chosen):
            continue  # contains, or is contained in, a better phrase
        words = set(key.split(" "))
        if len(words) > 1 and any(len(words & set(k.split(" "))) >= 2 for k in chosen):
            continue  # overlaps a better phrase ("Prime Minister Boris" after "Minister Boris Johnson")
        chosen.append(key)
        if len(chosen) >= limit:
            break
    return [best_surface[key][2] for key in chosen]


class KeywordExtractor:
    def __init__(self, stopwords: Optional[frozenset[str]] = None, limit: int = MAX_KEYWORDS) -> None:
        self.stopwords = stopwords if stopwords is not None else load_stopwords()
        self.limit = limit

    def extract(self, title: str, text: str) -> list[str]:
        return extract_keywords(title, text, self.stopwords, self.limit)
