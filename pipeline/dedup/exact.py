"""Deduplication as plain functions: ranks, keys, clusters, decisions.

Records are linked when they share an exact key (canonical URL, feed guid,
content hash) or, for near duplicates, when MinHash finds them similar.  Links
make clusters (connected components).  Each cluster keeps its lowest-ranked
record; a record already written by an earlier run always outranks new ones
(first seen wins: files are never rewritten).  Within a run the rank is the
earliest ``published_at`` (unknown dates last), then input order (the input's
last two path segments and the record's position), then ``article_id``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Iterable, Iterator, Optional

from pipeline.normalize.article import input_name

# A node of the dedup graph: (0 written before | 1 new, published epoch or inf,
# input order, article_id, record uid).  Tuples compare in that order.
Node = tuple[int, float, str, str, str]
EXISTING, NEW = 0, 1
INF = float("inf")
# Labels in order of preference when a record is linked by several keys.
KEY_PRIORITY = ("id", "guid", "url", "text", "minhash", "containment")
NEAR_LABELS = ("minhash", "containment")  # links found by near.py::verify
KEY_PREFIXES = {"t": "text", "u": "url", "g": "guid"}


def record_uid(article: dict) -> str:
    """Identity of one input record (two records carry the same ``article_id`` when the
    very same article is read twice, e.g. the same file in two folders)."""
    key = f"{article['article_id']}|{article['input_uri']}|{article.get('position')}"
    return hashlib.blake2b(key.encode("utf-8"), digest_size=8).hexdigest()


def order_key(article: dict) -> str:
    return f"{input_name(article['input_uri'])}#{article.get('position') or 0:010d}"


def node_of(article: dict) -> Node:
    published: Optional[datetime] = article.get("published_at")
    return (NEW, published.timestamp() if published else INF, order_key(article), article["article_id"], record_uid(article))


def exact_keys(article: dict) -> list[str]:
    keys = [f"t:{article['content_hash']}"]
    if article.get("canonical_url"):
        keys.append(f"u:{article['canonical_url']}")
    if article.get("guid"):
        keys.append(f"g:{article['guid']}")
    return keys


def key_label(key: str) -> str:
    return KEY_PREFIXES.get(key[0], "minhash")


# A member of a key group: (node, record uid).  New records are their own node;
# records written before appear as the node of their cluster's kept article.
Member = tuple[Node, str]


def exact_group(key: str, members: Iterable[Member]) -> tuple[list[tuple[Node, Node, str, float]], list[tuple[str, str]]]:
    """Edges from every new member to the group's lowest node, and ``(uid, root article_id)``
    for new records that were already written (same uid in the index)."""
    members = list(members)
    if not any(node[0] == NEW for node, _ in members):
        return [], []
    head = min(node for node, _ in members)
    written = {uid: node for node, uid in members if node[0] == EXISTING}
    label = key_label(key)
    edges, seen = [], []
    for node, uid in sorted(set(members)):
        if node[0] != NEW:
            continue
        if uid in written:
            seen.append((uid, written[uid][3]))
        elif node != head:
            edges.append((node, head, label, 1.0))
    return edges, seen


class MinRootUnionFind:
    """Disjoint sets whose root is always the lowest member (nodes compare as tuples: the lowest
    node is the record that is kept)."""

    def __init__(self) -> None:
        self.parent: dict = {}

    def find(self, node):
        root = self.parent.setdefault(node, node)
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:  # path compression
            self.parent[node], node = root, self.parent[node]
        return root

    def union(self, a, b) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            if ra < rb:
                self.parent[rb] = ra
            else:
                self.parent[ra] = rb

    def roots(self) -> Iterator[tuple]:
        for node in list(self.parent):
            yield node, self.find(node)


class UnionFind(MinRootUnionFind):
    """Disjoint sets of nodes whose root is always the lowest node, with each node's best link
    (how it was matched)."""

    def __init__(self) -> None:
        super().__init__()
        self.link: dict[Node, tuple[str, float]] = {}

    def union(self, a: Node, b: Node, label: Optional[str] = None, similarity: float = 1.0) -> None:
        if label is not None:
            self.parent.setdefault(a, a)
            self._set_link(a, (label, similarity))
        super().union(a, b)

    def _set_link(self, node: Node, link: tuple[str, float]) -> None:
        self.link[node] = better_link(self.link.get(node), link)

    def merge(self, other: "UnionFind") -> None:
        for node, parent in other.parent.items():
            self.union(node, parent)
        for node, link in other.link.items():
            self._set_link(node, link)

    def edges(self) -> Iterator[tuple[Node, Node, Optional[str], float]]:
        """The same clusters and links as a few edges, one per node (node -> its root):
        what a bundle emits instead of every edge it found."""
        for node in sorted(self.parent):
            label, similarity = self.link.get(node, (None, 1.0))
            root = self.find(node)
            if node != root or label is not None:
                yield node, root, label, similarity

    def components(self) -> Iterator[tuple[str, "Component"]]:
        """``(record uid, Component)`` for every new record in a cluster."""
        roots = {node: self.find(node) for node in self.parent}
        sizes: dict[Node, int] = {}
        for root in roots.values():
            sizes[root] = sizes.get(root, 0) + 1
        for node in sorted(roots):
            if node[0] != NEW:
                continue
            root = roots[node]
            yield node[4], component(node, root, self.link.get(node), sizes[root])


# (root node, matched_on or None for the root itself, similarity of the link, cluster size)
Component = tuple[Node, Optional[str], float, int]
Link = tuple[str, float]


def better_link(old: Optional[Link], new: Link) -> Link:
    """The link a record keeps when several keys link it: ``KEY_PRIORITY``, then similarity."""
    if old is None or (KEY_PRIORITY.index(new[0]), -new[1]) < (KEY_PRIORITY.index(old[0]), -old[1]):
        return new
    return old


def component(node: Node, root: Node, link: Optional[Link], size: int) -> Component:
    """The ``Component`` of a new record: its cluster's lowest node, how it is linked (its best
    link, "text" if it has none of its own; "id" when it is the root's very article read
    again), and the cluster size."""
    if node == root:
        return root, None, 1.0, size
    label, similarity = link or ("text", 1.0)
    if label not in NEAR_LABELS and node[3] == root[3]:
        label = "id"
    return root, label, similarity, size


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


def resolve(article: dict, component: Optional[Component]) -> tuple[str, dict, Node]:
    """``("article", row, root)`` when ``article`` is kept, ``("duplicate", row, root)``
    otherwise.  ``component`` is its union-find result (``None``: linked to nothing)."""
    if component is None:
        return "article", article, node_of(article)
    root, matched_on, similarity, size = component
    if root[4] == record_uid(article):
        return "article", {**article, "cluster_id": article["article_id"], "duplicate_count": size - 1}, root
    near = matched_on in NEAR_LABELS
    row = duplicate_row(
        article,
        duplicate_of=root[3],
        kind="near" if near else "exact",
        matched_on=matched_on or "text",
        cluster_id=root[3],
        similarity=round(similarity, 4) if near else 1.0,
    )
    return "duplicate", row, root


def index_row(keys: list[str], uid: str, root: Node, signature: Optional[bytes]) -> dict:
    """The ``IndexRecord`` of one written record."""
    return {
        "uid": uid,
        "root_uid": root[4],
        "root_article_id": root[3],
        "root_ts": None if root[1] == INF else root[1],
        "root_order": root[2],
        "keys": keys,
        "signature": signature,
    }


def existing_member(row: dict) -> Member:
    """An ``IndexRecord`` as a member of its key groups: the node of its cluster's kept article."""
    ts = row["root_ts"]
    node: Node = (EXISTING, INF if ts is None else ts, row["root_order"], row["root_article_id"], row["root_uid"])
    return node, row["uid"]
