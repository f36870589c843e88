"""``DeduplicateArticles``: exact and near duplicates, within the run and against
everything earlier runs wrote to the same output.  Shuffles and joins only: no side
input; every stateful step says what bounds it (the key groups of shards.py are the one
state that grows with the data: N / fixed shard count).

    articles -> (uid, article) + exact keys and MinHash band keys, in sharded lists (shards.py)
      + the index of earlier runs (read at run time)
    exact keys -> GroupByKey (shard) -> per key: edges to the group's lowest node; "seen" uids
    band keys  -> GroupByKey (shard) -> per bucket (members carry their node): its star,
               candidate pairs (member -> the bucket's lowest member), once per bundle
               -> GroupByKey on member uid with (uid, sketch): the member's sketch joined
               -> GroupByKey on head uid with (uid, sketch) of this run and of the index
                  (a head written before): verified by ``near.verify`` -> edges
    edges -> links: CombinePerKey on the member's uid (its best label, ``KEY_PRIORITY``)
          -> components: large-star / small-star rounds (components.py) -> (node, root)
             -> GroupByKey on root: cluster size
    (uid, article) + (uid, seen) + (uid, link) + (uid, root, size) -> GroupByKey on uid
          -> kept article | duplicate row | already written; and index rows
"""

from __future__ import annotations

import struct
from typing import Optional

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics
from apache_beam.utils.windowed_value import WindowedValue

from pipeline import metrics
from pipeline.coders import Row, RowCoder
from pipeline.dedup.components import FindComponents
from pipeline.dedup.exact import (
    NEW,
    Node,
    UnionFind,
    better_link,
    component,
    exact_group,
    exact_keys,
    index_row,
    node_of,
    record_uid,
    resolve,
)
from pipeline.dedup.index import ReadIndexKeys, ReadIndexSignatures
from pipeline.dedup.minhash import MinHashConfig, MinHasher, sketch
from pipeline.dedup.near import band_star, verify
from pipeline.dedup.shards import ShardBuffer, regroup

DUPLICATES = "duplicates"
INDEX = "index"
EXACT, BANDS, SKETCHES, SEEN = "exact", "bands", "sketches", "seen"
MINHASH_FIELD = "_minhash"  # transient: the signature (uint32 bytes) travels with the article to its index row
# Tags of the values joined by record uid in ResolveDuplicates.
ARTICLE, SEEN_TAG, LINK, CLUSTER = "a", "s", "l", "c"
# Tags of the candidate joins: a sketch (this run's or the index's), a candidate's head, a
# candidate with its member's sketch.
SIGNATURE, HEAD, CANDIDATE = "s", "h", "c"


_HEAD = struct.Struct(">Bd8s")  # written-before flag, published epoch, uid (8 raw bytes)


def pack_band_member(node: Node) -> bytes:
    """A new record as a band member, in one bytes value (it travels once per band, 16 times per
    record): rank and uid, then input order and article_id.  Half the size of the pickled
    node; its sketch travels once, joined by uid where a candidate needs it."""
    kind, published, order, article_id, uid = node
    return b"".join((_HEAD.pack(kind, published, bytes.fromhex(uid)), order.encode("utf-8"), b"\0",
                     article_id.encode("utf-8")))


def unpack_band_member(member) -> tuple[Node, str, None]:
    """``pack_band_member`` undone -> ``near.BandMember`` (no sketch); members written before
    arrive as ``(node, uid, None)`` tuples and pass as they are."""
    if not isinstance(member, bytes):
        return member
    kind, published, raw_uid = _HEAD.unpack_from(member)
    end = member.index(b"\0", _HEAD.size)  # input order never holds a NUL (a path and a number)
    uid = raw_uid.hex()
    return (kind, published, member[_HEAD.size:end].decode("utf-8"), member[end + 1:].decode("utf-8"), uid), uid, None


class PrepareDedupFn(beam.DoFn):
    """Article -> ``(uid, ("a", RowCoder bytes))`` carrying its signature for its index row,
    its exact keys and band keys as sharded lists (``shards.py``; a band member is
    ``pack_band_member(node)``), and ``(uid, ("s", sketch))``."""

    def __init__(self, near: Optional[MinHashConfig]):
        self._near = near

    def setup(self) -> None:
        self._hasher = MinHasher(self._near) if self._near else None
        self._coder = RowCoder()

    def start_bundle(self) -> None:
        self._exact = ShardBuffer()
        self._bands = ShardBuffer()

    def process(self, article: dict, window=beam.DoFn.WindowParam):
        node = node_of(article)
        uid = node[4]
        member = (node, uid)
        full = False
        for key in exact_keys(article):
            full |= self._exact.add(window, key, member)
        signature = self._hasher.signature(article["text"]) if self._hasher else None
        if signature is not None:
            band_member = pack_band_member(node)
            for key in self._hasher.band_keys(signature):
                full |= self._bands.add(window, key, band_member)
            yield beam.pvalue.TaggedOutput(SKETCHES, (uid, (SIGNATURE, sketch(signature))))
            article = {**article, MINHASH_FIELD: signature.tobytes()}
        yield uid, (ARTICLE, self._coder.encode(article))
        if full:
            yield from self._drain()

    def finish_bundle(self):
        yield from self._drain()

    def _drain(self):
        for tag, buffer in ((EXACT, self._exact), (BANDS, self._bands)):
            for window, value in buffer.drain():
                yield beam.pvalue.TaggedOutput(tag, WindowedValue(value, window.max_timestamp(), [window]))


class _CompactEdgesFn(beam.DoFn):
    """Edges found in a bundle are merged there (union-find per window) and leave as one
    edge per linked node: a near-duplicate pair met in several bands, or a cluster met
    through several keys, costs one element downstream instead of many.  Bounded by the
    bundle (flushed in finish_bundle)."""

    def start_bundle(self) -> None:
        self._found: dict = {}

    def _add(self, window, edge) -> None:
        found = self._found.get(window)
        if found is None:
            found = self._found[window] = UnionFind()
        a, b, label, similarity = edge
        found.union(a, b, label, similarity)

    def finish_bundle(self):
        found, self._found = self._found, {}
        for window, union_find in found.items():
            for edge in union_find.edges():
                yield WindowedValue(edge, window.max_timestamp(), [window])


class ExactGroupFn(_CompactEdgesFn):
    """A shard of exact keys -> edges to each key group's lowest node; records already
    written (same uid) go to ``seen`` as ``(uid, ("s", root article_id))``."""

    def process(self, group, window=beam.DoFn.WindowParam):
        _, lists = group
        for key, members in regroup(lists):
            edges, seen = exact_group(key, members)
            for edge in edges:
                self._add(window, edge)
            for uid, root_id in seen:
                yield beam.pvalue.TaggedOutput(SEEN, (uid, (SEEN_TAG, root_id)))


class BandStarFn(beam.DoFn):
    """A shard of band buckets -> the star of each bucket (``near.band_star``) as candidates
    ``(member uid, ("h", (member node, head node, head uid)))``, each pair once per bundle
    (a pair meets in several bands).  State: the pairs of one bundle."""

    def __init__(self, max_bucket: int):
        self._max_bucket = max_bucket

    def setup(self) -> None:
        self._oversized = Metrics.counter(metrics.NAMESPACE, "near/oversized_buckets")

    def start_bundle(self) -> None:
        self._pairs: dict = {}

    def process(self, group, window=beam.DoFn.WindowParam):
        _, lists = group
        pairs = self._pairs.setdefault(window, set())
        oversized = 0
        for _, members in regroup(lists):
            if len(members) < 2:
                continue
            star, too_big = band_star(map(unpack_band_member, members), self._max_bucket)
            oversized += too_big
            pairs.update(star)
        if oversized:
            self._oversized.inc(oversized)

    def finish_bundle(self):
        found, self._pairs = self._pairs, {}
        for window, pairs in found.items():
            for node, uid, head_node, head_uid in sorted(pairs):
                yield WindowedValue((uid, (HEAD, (node, head_node, head_uid))), window.max_timestamp(), [window])


class AttachMemberSketchFn(beam.DoFn):
    """(member uid, [its sketch, candidates…]) -> ``(head uid, ("c", (member node, head node,
    member sketch)))``.  State: one record's candidates (<= one per band)."""

    def process(self, group):
        _, values = group
        member_sketch, heads = None, []
        for tag, value in values:
            if tag == SIGNATURE:
                member_sketch = value
            else:
                heads.append(value)
        if member_sketch is None:
            return
        for node, head_node, head_uid in heads:
            yield head_uid, (CANDIDATE, (node, head_node, member_sketch))


class TagSignatureFn(beam.DoFn):
    def process(self, item):
        uid, signature = item
        yield uid, (SIGNATURE, signature)


class VerifyCandidatesFn(_CompactEdgesFn):
    """(head uid, [candidates…, the head's sketch]) -> verified near edges (``near.verify``),
    merged per bundle.  The head's sketch comes from this run or from the index (a head
    written before).  State: the candidates of one head (<= bands x max_bucket)."""

    def __init__(self, near: MinHashConfig):
        self._near = near

    def setup(self) -> None:
        self._candidates = Metrics.counter(metrics.NAMESPACE, "near/candidates")
        self._verified = Metrics.counter(metrics.NAMESPACE, "near/verified")

    def process(self, group, window=beam.DoFn.WindowParam):
        _, values = group
        head_sketch, candidates = None, []
        for tag, value in values:
            if tag == SIGNATURE:
                head_sketch = value
            else:
                candidates.append(value)
        verified = 0
        for node, head_node, member_sketch in candidates:
            match = verify(member_sketch, head_sketch, self._near)
            if match is not None:
                verified += 1
                self._add(window, (tuple(node), tuple(head_node), *match))
        if candidates:
            self._candidates.inc(len(candidates))
            self._verified.inc(verified)


class GraphEdgeFn(beam.DoFn):
    """A labelled edge -> the plain ``(a, b)`` edge of the graph."""

    def process(self, edge):
        a, b, _, _ = edge
        yield tuple(a), tuple(b)


class MemberLinkFn(beam.DoFn):
    """A labelled edge -> ``(member uid, (label, similarity))`` (edges without a label only connect)."""

    def process(self, edge):
        a, _, label, similarity = edge
        if label is not None:
            yield a[4], (label, similarity)


class BestLinkCombineFn(beam.CombineFn):
    """The link a record keeps (``exact.better_link``: ``UnionFind`` semantics)."""

    def create_accumulator(self):
        return None

    def add_input(self, acc, link):
        return better_link(acc, tuple(link))

    def merge_accumulators(self, accumulators):
        best = None
        for acc in accumulators:
            if acc is not None:
                best = better_link(best, acc)
        return best

    def extract_output(self, acc):
        return acc


class TagLinkFn(beam.DoFn):
    def process(self, item):
        uid, link = item
        yield uid, (LINK, link)


class KeyByRootFn(beam.DoFn):
    def process(self, item):
        node, root = item
        yield root, node


class ClusterSizeFn(beam.DoFn):
    """``(root, [nodes…])`` -> ``(uid, ("c", (node, root, size)))`` per new node.  Two passes
    over the grouped nodes (count, then emit): nothing held per cluster but the count."""

    def process(self, group):
        root, nodes = group
        size = sum(1 for _ in nodes)
        for node in nodes:
            if node[0] == NEW:
                yield node[4], (CLUSTER, (node, root, size))


class ResolveDuplicatesFn(beam.DoFn):
    """(uid, [article, seen?, link?, cluster?]) -> kept article, or duplicate row; and its
    index row.  State: the values of one record uid."""

    def __init__(self, near: Optional[MinHashConfig] = None):
        self._near = near

    def setup(self) -> None:
        self._hasher = MinHasher(self._near) if self._near else None
        self._coder = RowCoder()
        self._exact = Metrics.counter(metrics.NAMESPACE, metrics.DUPLICATES_BY_KIND.format(kind="exact"))
        self._near_count = Metrics.counter(metrics.NAMESPACE, metrics.DUPLICATES_BY_KIND.format(kind="near"))
        self._already = Metrics.counter(metrics.NAMESPACE, metrics.ALREADY_WRITTEN)

    def process(self, group):
        uid, values = group
        articles, seen, link, cluster = [], False, None, None
        for tag, value in values:
            if tag == ARTICLE:
                articles.append(value)
            elif tag == SEEN_TAG:
                seen = True
            elif tag == LINK:
                link = value
            else:
                cluster = value
        for encoded in articles:
            if seen:
                self._already.inc()  # the very same record is already in the output: nothing to write
                continue
            yield from self._resolve(self._coder.decode(encoded), uid, link, cluster)

    def _resolve(self, article: dict, uid: str, link, cluster):
        near = article.pop(MINHASH_FIELD, None)
        found = None
        if cluster is not None:
            node, root, size = cluster
            found = component(tuple(node), tuple(root), tuple(link) if link else None, size)
        kind, row, root = resolve(article, found)
        keys = exact_keys(article)
        signature = None
        if near is not None:
            minimums = np.frombuffer(near, dtype=np.uint32)
            signature = sketch(minimums)
            keys += self._hasher.band_keys(minimums)
        yield beam.pvalue.TaggedOutput(INDEX, index_row(keys, uid, root, signature))
        if kind == "article":
            yield row
        else:
            (self._near_count if row["kind"] == "near" else self._exact).inc()
            yield beam.pvalue.TaggedOutput(DUPLICATES, row)


class DeduplicateArticles(beam.PTransform):
    """Articles -> ``{"articles", "duplicates", "index"}``.

    ``output``: dedup also against the index earlier runs wrote there (``None``: within
    the run only).  ``near``: the MinHash configuration (``None``: exact only).
"""

    def __init__(self, output: Optional[str] = None, near: Optional[MinHashConfig] = MinHashConfig()):
        super().__init__()
        self._output = output
        self._near = near

    def expand(self, articles):
        pipeline = articles.pipeline
        prepared = articles | "PrepareDedup" >> beam.ParDo(PrepareDedupFn(self._near)).with_outputs(
            EXACT, BANDS, SKETCHES, main="articles")
        index = pipeline | "ReadIndexKeys" >> ReadIndexKeys(self._output) if self._output else None

        exact = (
            [prepared[EXACT]] + ([index[EXACT]] if index else [])
            | "CollectExactKeys" >> beam.Flatten()
            | "GroupByExactKey" >> beam.GroupByKey()
            | "ExactEdges" >> beam.ParDo(ExactGroupFn()).with_outputs(SEEN, main="edges")
        )
        edges = [exact.edges]
        if self._near:
            stars = (
                [prepared[BANDS]] + ([index[BANDS]] if index else [])
                | "CollectBandKeys" >> beam.Flatten()
                | "GroupByBand" >> beam.GroupByKey()
                | "BandStars" >> beam.ParDo(BandStarFn(self._near.max_bucket))
            )
            sketches = prepared[SKETCHES]
            candidates = (
                (stars, sketches)
                | "CollectMemberSketchJoin" >> beam.Flatten()
                | "JoinMemberSketch" >> beam.GroupByKey()
                | "AttachMemberSketch" >> beam.ParDo(AttachMemberSketchFn())
            )
            head_sketches = [sketches]
            if index:
                head_sketches.append(
                    pipeline
                    | "ReadIndexSignatures" >> ReadIndexSignatures(self._output)
                    | "TagSignatures" >> beam.ParDo(TagSignatureFn())
                )
            edges.append(
                [candidates, *head_sketches]
                | "CollectHeadSketchJoin" >> beam.Flatten()
                | "JoinHeadSketch" >> beam.GroupByKey()
                | "VerifyCandidates" >> beam.ParDo(VerifyCandidatesFn(self._near))
            )
        edges = edges | "CollectEdges" >> beam.Flatten()
        links = (
            edges
            | "MemberLinks" >> beam.ParDo(MemberLinkFn())
            | "BestLink" >> beam.CombinePerKey(BestLinkCombineFn())
            | "TagLinks" >> beam.ParDo(TagLinkFn())
        )
        clusters = (
            edges
            | "GraphEdges" >> beam.ParDo(GraphEdgeFn())
            | "ConnectedComponents" >> FindComponents()
            | "KeyByRoot" >> beam.ParDo(KeyByRootFn())
            | "GroupByRoot" >> beam.GroupByKey()
            | "ClusterSizes" >> beam.ParDo(ClusterSizeFn())
        )
        decisions = (exact[SEEN], links, clusters) | "CollectDecisions" >> beam.Flatten()
        resolved = (
            (prepared.articles, decisions)
            | "CollectByRecord" >> beam.Flatten()
            | "GroupByRecord" >> beam.GroupByKey()
            | "ResolveDuplicates" >> beam.ParDo(ResolveDuplicatesFn(self._near)).with_output_types(
                Row, **{DUPLICATES: Row, INDEX: Row}).with_outputs(DUPLICATES, INDEX, main="articles")
        )
        return {"articles": resolved.articles, DUPLICATES: resolved[DUPLICATES], INDEX: resolved[INDEX]}
