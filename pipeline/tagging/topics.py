"""Topics: multi-label IPTC Media Topics (top level) from a shipped, editable taxonomy file.

The taxonomy (``pipeline/tagging/data/iptc_topics.json``, or ``--taxonomy FILE``) lists, per
topic, terms (words and phrases, lower case) with weights 1-3.  An article's score for a topic is
the weighted count of its terms in the text, with the headline counted ``TITLE_WEIGHT`` times; the
topics whose score is at least ``MIN_SHARE`` of all topic evidence (and at least ``MIN_EVIDENCE``)
are kept, best first, each with its share of the evidence as its score.  Matching is one
Aho-Corasick pass over the lower-cased text on whole tokens; nothing is tuned to a corpus.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Optional

import ahocorasick

TITLE_WEIGHT = 3
MIN_EVIDENCE = 3.0
MIN_SHARE = 0.2
MAX_TOPICS = 4


@dataclass(frozen=True)
class Topic:
    code: str
    label: str


def _is_token_char(ch: str) -> bool:
    return ch.isalnum() or ch in "'’-"


class Taxonomy:
    """A compiled taxonomy.  ``path=None`` loads the shipped IPTC file."""

    def __init__(self, path: Optional[str] = None) -> None:
        if path:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        else:
            data = json.loads((resources.files("pipeline.tagging") / "data" / "iptc_topics.json").read_text("utf-8"))
        self.name = data.get("name", "")
        self.topics_data = data["topics"]
        self.topics: list[Topic] = []
        weights: dict[str, list[tuple[int, float]]] = {}
        for index, item in enumerate(data["topics"]):
            self.topics.append(Topic(item["code"], item["label"]))
            for term, weight in item["terms"].items():
                weights.setdefault(term.strip().lower(), []).append((index, float(weight)))
        if not self.topics:
            raise ValueError(f"taxonomy {path or 'default'} has no topics")
        self.automaton = ahocorasick.Automaton()
        for term, topic_weights in weights.items():
            self.automaton.add_word(term, (len(term), tuple(topic_weights)))
        self.automaton.make_automaton()
        self.terms = len(weights)

    def evidence(self, text: str) -> list[float]:
        """Weighted term counts per topic in ``text`` (whole tokens, longest match wins)."""
        lowered = text.lower().replace("’", "'")  # curly apostrophes match the taxonomy's straight ones
        n = len(lowered)
        scores = [0.0] * len(self.topics)
        hits = []
        for end_index, (length, topic_weights) in self.automaton.iter(lowered):
            start = end_index - length + 1
            if start > 0 and _is_token_char(lowered[start - 1]):
                continue
            after = end_index + 1
            if after < n and _is_token_char(lowered[after]) and lowered[after] not in "'’":
                continue
            hits.append((start, end_index + 1, topic_weights))
        hits.sort(key=lambda h: (h[0], -(h[1] - h[0])))
        last_end = -1
        for start, end, topic_weights in hits:
            if start < last_end:
                continue
            last_end = end
            for index, weight in topic_weights:
                scores[index] += weight
        return scores


def classify_topics(title: str, text: str, taxonomy: Taxonomy) -> list[dict]:
    """Topics of an article, best first: ``[{code, label, score}]`` (score = share of evidence)."""
    body = taxonomy.evidence(text)
    head = taxonomy.evidence(title)
    scores = [b + TITLE_WEIGHT * h for b, h in zip(body, head)]
    total = sum(scores)
    if total <= 0:
        return []
    ranked = sorted(range(len(scores)), key=lambda i: (-scores[i], taxonomy.topics[i].code))
    out = []
    for index in ranked[:MAX_TOPICS]:
        share = scores[index] / total
        if scores[index] < MIN_EVIDENCE or share < MIN_SHARE:
            break
        topic = taxonomy.topics[index]
        out.append({"code": topic.code, "label": topic.label, "score": round(share, 4)})
    return out
