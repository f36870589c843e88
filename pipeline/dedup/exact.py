"""Exact deduplication as plain functions.

Two records are exact duplicates when they share a key: canonical URL, feed
guid, or the hash of their case- and whitespace-insensitive text.  Shared keys
link records into clusters (connected components, so A~B by URL and B~C by
text puts A, B and C together).  Each cluster keeps its lowest-ranked member:
earliest ``published_at`` (unknown dates last), then the smallest
``article_id`` -- deterministic on every run and runner.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Iterable, Iterator, Optional

# Rank of a record: (published epoch seconds or +inf, article_id, record uid).
Rank = tuple[float, str, str]
# Matched-on labels in order of preference when a record matches on several keys.
KEY_PRIORITY = ("id", "guid", "url", "text")


def record_uid(article: dict) -> str:
    """Identity of one input record (two records may carry the same ``article_id`` when the
    very same article is read twice, e.g. the same file in two folders)."""
    key = f"{article['article_id']}|{article['input_uri']}|{article.get('position')}"
    return hashlib.blake2b(key.encode("utf-8"), digest_size=8).hexdigest()


def rank_of(article: dict) -> Rank:
    published: Optional[datetime] = article.get("published_at")
    return (published.timestamp() if published else float("inf"), article["article_id"], record_uid(article))


def exact_keys(article: dict) -> Iterator[tuple[str, Rank]]:
    """``(key, rank)`` for every exact key of ``article``."""
    rank = rank_of(article)
    yield f"text:{article['content_hash']}", rank
    if article.get("canonical_url"):
        yield f"url:{article['canonical_url']}", rank
    if article.get("guid"):
        yield f"guid:{article['guid']}", rank


def star_edges(key: str, members: Iterable[Rank]) -> Iterator[tuple[Rank, Rank, str]]:
    """Edges ``(rank, head rank, label)`` from every member of one key group to its
    lowest-ranked member (only for groups of two or more distinct records)."""
    distinct = sorted(set(members))
    if len(distinct) < 2:
        return
    head = distinct[0]
    label = key.split(":", 1)[0]
    for rank in distinct[1:]:
        yield rank, head, label


class UnionFind:
    """Disjoint sets of records (keyed by their rank, which holds the record uid) whose
    root is always the lowest-ranked member."""

    def __init__(self) -> None:
        self.parent: dict[Rank, Rank] = {}
        self.label: dict[Rank, str] = {}

    def find(self, node: Rank) -> Rank:
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:  # path compression
            self.parent[node], node = root, self.parent[node]
        return root

    def union(self, a: Rank, b: Rank, label: Optional[str] = None) -> None:
        for node in (a, b):
            self.parent.setdefault(node, node)
        if label is not None:
            self._set_label(a, label)
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if ra < rb:
            self.parent[rb] = ra
        else:
            self.parent[ra] = rb

    def merge(self, other: "UnionFind") -> None:
        for node, parent in other.parent.items():
            self.union(node, parent)
        for node, label in other.label.items():
            self._set_label(node, label)

    def _set_label(self, node: Rank, label: str) -> None:
        old = self.label.get(node)
        if old is None or KEY_PRIORITY.index(label) < KEY_PRIORITY.index(old):
            self.label[node] = label

    def components(self) -> Iterator[tuple[str, "Component"]]:
        """``(record uid, Component)`` for every record in a cluster."""
        roots = {node: self.find(node) for node in self.parent}
        sizes: dict[Rank, int] = {}
        for root in roots.values():
            sizes[root] = sizes.get(root, 0) + 1
        for node in sorted(roots):
            root = roots[node]
            label = None if node == root else ("id" if node[1] == root[1] else self.label.get(node, "text"))
            yield node[2], (root[2], root[1], label, sizes[root])


# (root record uid, root article_id, matched_on or None for the root, cluster size)
Component = tuple[str, str, Optional[str], int]


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


def resolve(article: dict, component: Optional[Component]) -> tuple[str, dict]:
    """``("article", row)`` when ``article`` is kept, ``("duplicate", row)`` otherwise.
    ``component`` is its union-find result (``None``: it shares no key with another record)."""
    if component is None:
        return "article", article
    root_uid, root_id, matched_on, size = component
    if root_uid == record_uid(article):
        return "article", {**article, "cluster_id": article["article_id"], "duplicate_count": size - 1}
    return "duplicate", duplicate_row(article, duplicate_of=root_id, kind="exact", matched_on=matched_on or "text", cluster_id=root_id)
