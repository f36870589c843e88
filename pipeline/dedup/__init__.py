"""``DeduplicateArticles``: exact and near duplicates, within the run and against
everything earlier runs wrote to the same output.

    articles -> keys (exact) and MinHash band keys (near), in sharded lists (shards.py)
      + the index of earlier runs (read at run time)
    exact keys -> GroupByKey (shard) -> per key: edges to the group's lowest node
    band keys  -> GroupByKey (shard) -> per bucket: star verified by estimated Jaccard -> edges
               (a head written by an earlier run: its signature joined from the index by uid)
    edges -> union-find (a CombineFn; memory grows with linked records only)
    articles + components (side input) -> kept article | duplicate row, and index rows

No all-pairs comparison anywhere; no shuffle of article rows.
"""

from __future__ import annotations

from typing import Optional

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics
from apache_beam.utils.windowed_value import WindowedValue

from pipeline import metrics
from pipeline.coders import Row
from pipeline.dedup.exact import (
    UnionFind,
    exact_group,
    exact_keys,
    index_row,
    node_of,
    record_uid,
    resolve,
)
from pipeline.dedup.index import ReadIndexKeys, ReadIndexSignatures
from pipeline.dedup.minhash import MinHashConfig, MinHasher, sketch
from pipeline.dedup.near import band_group, verify
from pipeline.dedup.shards import ShardBuffer, regroup

DUPLICATES = "duplicates"
INDEX = "index"
EXACT, BANDS, PENDING, SEEN, SKETCHES = "exact", "bands", "pending", "seen", "sketches"
MINHASH_FIELD = "_minhash"  # transient: the signature (uint32 bytes) travels with the article to its index row


class PrepareDedupFn(beam.DoFn):
    """Article -> its exact keys and band keys, as sharded lists (``shards.py``), plus
    the article itself, carrying its signature for its index row.

    A band member is only the record's uid: its node and sketch travel once per record
    (``sketches``: ``(uid, (node, sketch))``, a side input of the band step) instead of
    once per band, which makes the band shuffle ~5x smaller."""

    def __init__(self, near: Optional[MinHashConfig], parts: int = 1):
        self._near = near
        self._parts = parts

    def setup(self) -> None:
        self._hasher = MinHasher(self._near) if self._near else None
        self._tags = [None] + [article_tag(part) for part in range(1, self._parts)]

    def _out(self, article: dict, uid: str):
        tag = self._tags[int(uid, 16) % self._parts] if self._parts > 1 else None
        return article if tag is None else beam.pvalue.TaggedOutput(tag, article)

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
        if signature is None:
            yield self._out(article, uid)
        else:
            for key in self._hasher.band_keys(signature):
                full |= self._bands.add(window, key, uid)
            yield beam.pvalue.TaggedOutput(SKETCHES, (uid, (node, sketch(signature))))
            yield self._out({**article, MINHASH_FIELD: signature.tobytes()}, uid)
        if full:
            yield from self._drain()

    def finish_bundle(self):
        yield from self._drain()

    def _drain(self):
        for tag, buffer in ((EXACT, self._exact), (BANDS, self._bands)):
            for window, value in buffer.drain():
                yield beam.pvalue.TaggedOutput(tag, WindowedValue(value, window.max_timestamp(), [window]))


def article_tag(part: int) -> str:
    return f"articles{part}"


class _CompactEdgesFn(beam.DoFn):
    """Edges found in a bundle are merged there (union-find per window) and leave as one
    edge per linked node: a near-duplicate pair met in several bands, or a cluster met
    through several keys, costs one element downstream instead of many."""

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
    written (same uid) go to ``seen``."""

    def process(self, group, window=beam.DoFn.WindowParam):
        _, lists = group
        for key, members in regroup(lists):
            edges, seen = exact_group(key, members)
            for edge in edges:
                self._add(window, edge)
            for item in seen:
                yield beam.pvalue.TaggedOutput(SEEN, item)


class BandGroupFn(_CompactEdgesFn):
    """A shard of band buckets -> verified near edges; candidates whose head was written before
    go out as ``(head uid, ("c", (member node, head node, member signature)))``.

    Members of this run are uids, looked up in ``sketches`` (uid -> (node, sketch));
    members written before arrive whole, as ``(node, uid, None)``."""

    def __init__(self, max_bucket: int, threshold: float):
        self._max_bucket = max_bucket
        self._threshold = threshold

    def setup(self) -> None:
        self._oversized = Metrics.counter(metrics.NAMESPACE, "near/oversized_buckets")
        self._candidates = Metrics.counter(metrics.NAMESPACE, "near/candidates")
        self._verified = Metrics.counter(metrics.NAMESPACE, "near/verified")

    def process(self, group, sketches, window=beam.DoFn.WindowParam):
        _, lists = group
        oversized = compared = verified = 0
        for _, members in regroup(lists):
            if len(members) < 2:
                continue
            members = [_band_member(member, sketches) for member in members]
            edges, pending, count, too_big = band_group(members, self._max_bucket, self._threshold)
            oversized += too_big
            compared += count
            verified += len(edges)
            for edge in edges:
                self._add(window, edge)
            for node, head_node, head_uid, signature in pending:
                yield beam.pvalue.TaggedOutput(PENDING, (head_uid, ("c", (node, head_node, signature))))
        if oversized:
            self._oversized.inc(oversized)
        if compared:
            self._candidates.inc(compared)
            self._verified.inc(verified)


def _band_member(member, sketches):
    if isinstance(member, str):
        node, raw = sketches[member]
        return node, member, raw
    return member


class HeadUidFn(beam.DoFn):
    def process(self, item):
        yield item[0]


class TagSignatureFn(beam.DoFn):
    def process(self, item):
        uid, signature = item
        yield uid, ("s", signature)


class VerifyPendingFn(beam.DoFn):
    """(written head uid, [candidates…, its signature]) -> verified near edges."""

    def __init__(self, threshold: float):
        self._config = MinHashConfig(threshold=threshold)

    def setup(self) -> None:
        self._candidates = Metrics.counter(metrics.NAMESPACE, "near/candidates")
        self._verified = Metrics.counter(metrics.NAMESPACE, "near/verified")

    def process(self, group):
        _, values = group
        head_signature, pending = None, []
        for tag, value in values:
            if tag == "s":
                head_signature = value
            else:
                pending.append(value)
        for node, head_node, signature in pending:
            self._candidates.inc()
            matched = verify(signature, head_signature, self._config)
            if matched is not None:
                self._verified.inc()
                yield (node, head_node, *matched)


class UnionFindCombineFn(beam.CombineFn):
    """Connected components of all edges (exact and near, within the run and to the index)."""

    def create_accumulator(self) -> UnionFind:
        return UnionFind()

    def add_input(self, acc: UnionFind, edge) -> UnionFind:
        a, b, label, similarity = edge
        acc.union(tuple(a), tuple(b), label, similarity)
        return acc

    def merge_accumulators(self, accumulators) -> UnionFind:
        accumulators = iter(accumulators)
        merged = next(accumulators)
        for acc in accumulators:
            merged.merge(acc)
        return merged

    def extract_output(self, acc: UnionFind):
        return list(acc.components())


class EmitComponentsFn(beam.DoFn):
    def process(self, components):
        yield from components


class ResolveDuplicatesFn(beam.DoFn):
    """Article + clusters (side inputs) -> kept article, or duplicate row; and index rows."""

    def __init__(self, near: Optional[MinHashConfig] = None):
        self._near = near

    def setup(self) -> None:
        self._hasher = MinHasher(self._near) if self._near else None
        self._exact = Metrics.counter(metrics.NAMESPACE, metrics.DUPLICATES_BY_KIND.format(kind="exact"))
        self._near_count = Metrics.counter(metrics.NAMESPACE, metrics.DUPLICATES_BY_KIND.format(kind="near"))
        self._already = Metrics.counter(metrics.NAMESPACE, metrics.ALREADY_WRITTEN)

    def process(self, article: dict, components, seen):
        uid = record_uid(article)
        if uid in seen:
            self._already.inc()  # the very same record is already in the output: nothing to write
            return
        near = article.get(MINHASH_FIELD)
        if near is not None:
            article = {k: v for k, v in article.items() if k != MINHASH_FIELD}
        found = components.get(uid)
        kind, row, root = resolve(article, tuple(found) if found else None)
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

    ``parts`` > 1: the articles wait for the clusters in that many PCollections (split by
    record uid) and are resolved by as many ParDos; every value of the result is then a
    tuple of ``parts`` PCollections.  The local runner keeps a PCollection that crosses a
    stage boundary in memory and copies a stage's whole input several times over when it
    hands it to the worker; in parts those copies are a fraction of the articles (x50 peak
    2.5 -> 1.7 GB).  Managed runners are indifferent to it."""

    def __init__(self, output: Optional[str] = None, near: Optional[MinHashConfig] = MinHashConfig(), parts: int = 1):
        super().__init__()
        self._output = output
        self._near = near
        self._parts = parts

    def expand(self, articles):
        pipeline = articles.pipeline
        article_tags = [article_tag(part) for part in range(1, self._parts)]
        prepared = articles | "PrepareDedup" >> beam.ParDo(PrepareDedupFn(self._near, self._parts)).with_output_types(
            Row, **{tag: Row for tag in article_tags}
        ).with_outputs(EXACT, BANDS, SKETCHES, *article_tags, main="articles")
        index = pipeline | "ReadIndexKeys" >> ReadIndexKeys(self._output) if self._output else None

        exact_inputs = [prepared[EXACT]] + ([index[EXACT]] if index else [])
        exact = (
            exact_inputs
            | "CollectExactKeys" >> beam.Flatten()
            | "GroupByExactKey" >> beam.GroupByKey()
            | "ExactEdges" >> beam.ParDo(ExactGroupFn()).with_outputs(SEEN, main="edges")
        )
        edges = [exact.edges]
        if self._near:
            band_inputs = [prepared[BANDS]] + ([index[BANDS]] if index else [])
            bands = (
                band_inputs
                | "CollectBandKeys" >> beam.Flatten()
                | "GroupByBand" >> beam.GroupByKey()
                | "VerifyBandCandidates" >> beam.ParDo(
                    BandGroupFn(self._near.max_bucket, self._near.threshold), beam.pvalue.AsDict(prepared[SKETCHES])
                ).with_outputs(PENDING, main="edges")
            )
            edges.append(bands.edges)
            if index:
                needed = bands[PENDING] | "WrittenHeadUids" >> beam.ParDo(HeadUidFn()) | "UniqueWrittenHeads" >> beam.Distinct()
                signatures = (
                    pipeline
                    | "ReadIndexSignatures" >> ReadIndexSignatures(self._output, needed)
                    | "TagSignatures" >> beam.ParDo(TagSignatureFn())
                )
                edges.append(
                    (bands[PENDING], signatures)
                    | "CollectWrittenHeadJoin" >> beam.Flatten()
                    | "JoinWrittenHeadSignature" >> beam.GroupByKey()
                    | "VerifyWrittenHeadCandidates" >> beam.ParDo(VerifyPendingFn(self._near.threshold))
                )
        components = (
            edges
            | "CollectEdges" >> beam.Flatten()
            | "ConnectedComponents" >> beam.CombineGlobally(UnionFindCombineFn())
            | "EmitComponents" >> beam.ParDo(EmitComponentsFn())
        )
        clusters, seen = beam.pvalue.AsDict(components), beam.pvalue.AsDict(exact[SEEN])
        resolved = [
            part | f"ResolveDuplicates{label}" >> beam.ParDo(ResolveDuplicatesFn(self._near), clusters, seen).with_outputs(
                DUPLICATES, INDEX, main="articles"
            )
            for label, part in [("", prepared.articles)] + [(tag[len("articles"):], prepared[tag]) for tag in article_tags]
        ]
        if self._parts == 1:
            only = resolved[0]
            return {"articles": only.articles, DUPLICATES: only[DUPLICATES], INDEX: only[INDEX]}
        return {name: tuple(r[name] for r in resolved) for name in ("articles", DUPLICATES, INDEX)}
