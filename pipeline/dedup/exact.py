"""Exact deduplication as plain functions.

Two records are exact duplicates when they share a key: canonical URL, feed
guid, or the hash of their case- and whitespace-insensitive text.  Shared keys
link records into clusters (connected components, so A~B by URL and B~C by
text puts A, B and C together).  Each cluster keeps its lowest-ranked member:
earliest ``published_at`` (unknown dates last), then the smallest
``article_id`` -- deterministic on every run and runner.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable, Iterator, Optional

# Rank of an article: (published epoch seconds or +inf, article_id).
Rank = tuple[float, str]
# Matched-on labels in order of preference when a record matches on several keys.
KEY_PRIORITY = ("id", "guid", "url", "text")


def rank_of(article: dict) -> Rank:
    published: Optional[datetime] = article.get("published_at")
    return (published.timestamp() if published else float("inf"), article["article_id"])


def exact_keys(article: dict) -> Iterator[tuple[str, tuple[Rank, str]]]:
    """``(key, (rank, article_id))`` for every exact key of ``article``."""
    member = (rank_of(article), article["article_id"])
    yield f"text:{article['content_hash']}", member
    if article.get("canonical_url"):
        yield f"url:{article['canonical_url']}", member
    if article.get("guid"):
        yield f"guid:{article['guid']}", member


def star_edges(key: str, members: Iterable[tuple[Rank, str]]) -> Iterator[tuple[Rank, str, Rank, str, str]]:
    """Edges ``(rank, id, min_rank, min_id, label)`` from every member of one key group to
    its lowest-ranked member (only for groups of two or more distinct articles)."""
    distinct = dict((article_id, rank) for rank, article_id in members)
    if len(distinct) < 2:
        return
    head_id = min(distinct, key=lambda i: (distinct[i], i))
    label = key.split(":", 1)[0]
    for article_id, rank in sorted(distinct.items()):
        if article_id != head_id:
            yield rank, article_id, distinct[head_id], head_id, label


class UnionFind:
    """Disjoint sets whose root is always the lowest-ranked member."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.rank: dict[str, Rank] = {}
        self.label: dict[str, str] = {}

    def _add(self, node: str, rank: Rank) -> None:
        if node not in self.parent:
            self.parent[node] = node
            self.rank[node] = rank

    def find(self, node: str) -> str:
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:  # path compression
            self.parent[node], node = root, self.parent[node]
        return root

    def union(self, a: str, a_rank: Rank, b: str, b_rank: Rank, label: Optional[str] = None) -> None:
        self._add(a, a_rank)
        self._add(b, b_rank)
        if label is not None:
            self._set_label(a, label)
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if (self.rank[ra], ra) <= (self.rank[rb], rb):
            self.parent[rb] = ra
        else:
            self.parent[ra] = rb

    def merge(self, other: "UnionFind") -> None:
        for node, parent in other.parent.items():
            self.union(node, other.rank[node], parent, other.rank[parent])
        for node, label in other.label.items():
            self._set_label(node, label)

    def _set_label(self, node: str, label: str) -> None:
        old = self.label.get(node)
        if old is None or KEY_PRIORITY.index(label) < KEY_PRIORITY.index(old):
            self.label[node] = label

    def components(self) -> Iterator[tuple[str, tuple[str, Optional[str], int]]]:
        """``(node, (root, matched_on, component size))`` for every node."""
        roots = {node: self.find(node) for node in self.parent}
        sizes: dict[str, int] = {}
        for root in roots.values():
            sizes[root] = sizes.get(root, 0) + 1
        for node in sorted(roots):
            root = roots[node]
            yield node, (root, None if node == root else self.label.get(node, "text"), sizes[root])


def duplicate_row(article: dict, *, duplicate_of: str, kind: str, matched_on: str, cluster_id: str,
                  similarity: Optional[float] = 1.0, detected_at: Optional[datetime] = None) -> dict:
    """A ``DuplicateRecord``-shaped dict for ``article``."""
    return {
        "schema_version": article["schema_version"],
        "article_id": article["article_id"],
        "duplicate_of": duplicate_of,
        "kind": kind,
        "matched_on": matched_on,
        "similarity": similarity,
        "cluster_id": cluster_id,
        "title": article["title"],
        "url": article.get("url"),
        "canonical_url": article.get("canonical_url"),
        "published_at": article.get("published_at"),
        "input_uri": article["input_uri"],
        "input_format": article["input_format"],
        "position": article.get("position"),
        "detected_at": detected_at or datetime.now(timezone.utc),
    }


def resolve(article_id: str, articles: list[dict], component: Optional[tuple[str, Optional[str], int]]
            ) -> Iterator[tuple[str, dict]]:
    """Decide the records that carry ``article_id``: ``("article", row)`` for the kept one,
    ``("duplicate", row)`` for the others.  ``component`` is the union-find result
    (absent for articles that share no key with another article)."""
    articles = sorted(articles, key=lambda a: (a["input_uri"], a.get("position") or 0))
    root, matched_on, size = component or (article_id, None, 1)
    if root != article_id:
        for article in articles:
            yield "duplicate", duplicate_row(article, duplicate_of=root, kind="exact",
                                             matched_on=matched_on or "text", cluster_id=root)
        return
    keep, extra = articles[0], articles[1:]
    duplicates = size - 1 + len(extra)
    if duplicates:
        keep = {**keep, "cluster_id": article_id, "duplicate_count": keep.get("duplicate_count", 0) + duplicates}
    yield "article", keep
    for article in extra:  # the very same record read twice (same id: same name, position and content)
        yield "duplicate", duplicate_row(article, duplicate_of=article_id, kind="exact", matched_on="id", cluster_id=article_id)
