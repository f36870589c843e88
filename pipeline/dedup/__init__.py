"""``DeduplicateArticles``: exact and near duplicates, within the run and against
everything earlier runs wrote to the same output.

    articles -> keys (exact) and MinHash band keys (near)
      + the index of earlier runs (read at run time)
    exact keys -> GroupByKey -> edges to each group's lowest node
    band keys  -> GroupByKey -> candidates (star per bucket) -> signatures joined
               -> verified by estimated Jaccard -> edges
    edges -> union-find (a CombineFn; memory grows with linked records only)
    articles + components (side input) -> kept article | duplicate row, and index rows

No all-pairs comparison anywhere; no shuffle of article rows.
"""

from __future__ import annotations

from typing import Optional

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from pipeline import metrics
from pipeline.coders import Row
from pipeline.dedup.exact import (
    EXISTING,
    UnionFind,
    exact_group,
    exact_keys,
    index_row,
    node_of,
    record_uid,
    resolve,
)
from pipeline.dedup.index import ReadIndexKeys, ReadIndexSignatures
from pipeline.dedup.minhash import MinHashConfig, MinHasher
from pipeline.dedup.near import band_group, verify

DUPLICATES = "duplicates"
INDEX = "index"
EXACT, BANDS, SIGS, SEEN = "exact", "bands", "sigs", "seen"
MINHASH_FIELD = "_minhash"  # transient: the signature travels with the article to the index rows


class PrepareDedupFn(beam.DoFn):
    """Article -> its exact keys, band keys and signature (plus the article itself)."""

    def __init__(self, near: Optional[MinHashConfig]):
        self._near = near

    def setup(self) -> None:
        self._hasher = MinHasher(self._near) if self._near else None

    def process(self, article: dict):
        node = node_of(article)
        member = (node, node[4])
        for key in exact_keys(article):
            yield beam.pvalue.TaggedOutput(EXACT, (key, member))
        signature = self._hasher.signature(article["text"]) if self._hasher else None
        if signature is None:
            yield article
            return
        raw = signature.astype("<u4").tobytes()
        for key in self._hasher.band_keys(signature):
            yield beam.pvalue.TaggedOutput(BANDS, (key, member))
        yield beam.pvalue.TaggedOutput(SIGS, (node[4], raw))
        yield {**article, MINHASH_FIELD: raw}


class ExactGroupFn(beam.DoFn):
    def process(self, group):
        key, members = group
        edges, seen = exact_group(key, members)
        yield from edges
        for item in seen:
            yield beam.pvalue.TaggedOutput(SEEN, item)


class BandGroupFn(beam.DoFn):
    def __init__(self, max_bucket: int):
        self._max_bucket = max_bucket

    def setup(self) -> None:
        self._oversized = Metrics.counter(metrics.NAMESPACE, "near/oversized_buckets")

    def process(self, group):
        _, members = group
        candidates, oversized = band_group(members, self._max_bucket)
        if oversized:
            self._oversized.inc()
        yield from candidates


class NeededWrittenUidFn(beam.DoFn):
    """Uids of records written before whose signature a candidate needs."""

    def process(self, candidate):
        if candidate[3][0] == EXISTING:
            yield candidate[1]


class KeyByMemberFn(beam.DoFn):
    def process(self, candidate):
        yield candidate[0], ("c", candidate)


class TagSignatureFn(beam.DoFn):
    def process(self, item):
        uid, signature = item
        yield uid, ("s", signature)


class AttachMemberSignatureFn(beam.DoFn):
    """(member uid, [candidates, its signature]) -> (head uid, (candidate, member signature))."""

    def process(self, group):
        _, values = group
        signature, candidates = None, []
        for tag, value in values:
            if tag == "s":
                signature = value
            else:
                candidates.append(value)
        if signature is None:
            return
        for candidate in candidates:
            yield candidate[1], ("m", (candidate, signature))


class VerifyCandidatesFn(beam.DoFn):
    """(head uid, [(candidate, member signature)…, head signature]) -> verified near edges."""

    def __init__(self, threshold: float):
        self._threshold = threshold

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
        if head_signature is None:
            return
        for candidate, member_signature in pending:
            self._candidates.inc()
            similarity = verify(member_signature, head_signature, self._threshold)
            if similarity is not None:
                self._verified.inc()
                yield candidate[2], candidate[3], "minhash", similarity


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

    def __init__(self, near: Optional[MinHashConfig]):
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
        signature = article.get(MINHASH_FIELD)
        if signature is not None:
            article = {k: v for k, v in article.items() if k != MINHASH_FIELD}
        found = components.get(uid)
        kind, row, root = resolve(article, tuple(found) if found else None)
        keys = exact_keys(article)
        if signature is not None and self._hasher is not None:
            keys += self._hasher.band_keys(np.frombuffer(signature, dtype="<u4"))
        yield beam.pvalue.TaggedOutput(INDEX, index_row(keys, uid, root, signature))
        if kind == "article":
            yield row
        else:
            (self._near_count if row["kind"] == "near" else self._exact).inc()
            yield beam.pvalue.TaggedOutput(DUPLICATES, row)


class DeduplicateArticles(beam.PTransform):
    """Articles -> ``{"articles", "duplicates", "index"}``.

    ``output``: dedup also against the index earlier runs wrote there (``None``: within
    the run only).  ``near``: the MinHash configuration (``None``: exact only)."""

    def __init__(self, output: Optional[str] = None, near: Optional[MinHashConfig] = MinHashConfig()):
        super().__init__()
        self._output = output
        self._near = near

    def expand(self, articles):
        pipeline = articles.pipeline
        prepared = articles | "PrepareDedup" >> beam.ParDo(PrepareDedupFn(self._near)).with_output_types(Row).with_outputs(
            EXACT, BANDS, SIGS, main="articles"
        )
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
            candidates = (
                band_inputs
                | "CollectBandKeys" >> beam.Flatten()
                | "GroupByBand" >> beam.GroupByKey()
                | "BandCandidates" >> beam.ParDo(BandGroupFn(self._near.max_bucket))
                | "UniqueCandidates" >> beam.Distinct()
            )
            signatures = [prepared[SIGS]]
            if index:
                needed = candidates | "NeededWrittenUids" >> beam.ParDo(NeededWrittenUidFn()) | "UniqueNeededUids" >> beam.Distinct()
                signatures.append(pipeline | "ReadIndexSignatures" >> ReadIndexSignatures(self._output, needed))
            tagged_signatures = signatures | "CollectSignatures" >> beam.Flatten() | "TagSignatures" >> beam.ParDo(TagSignatureFn())
            with_member = (
                (candidates | "KeyByMember" >> beam.ParDo(KeyByMemberFn()), tagged_signatures)
                | "CollectMemberJoin" >> beam.Flatten()
                | "JoinMemberSignature" >> beam.GroupByKey()
                | "AttachMemberSignature" >> beam.ParDo(AttachMemberSignatureFn())
            )
            edges.append(
                (with_member, tagged_signatures)
                | "CollectHeadJoin" >> beam.Flatten()
                | "JoinHeadSignature" >> beam.GroupByKey()
                | "VerifyCandidates" >> beam.ParDo(VerifyCandidatesFn(self._near.threshold))
            )
        components = (
            edges
            | "CollectEdges" >> beam.Flatten()
            | "ConnectedComponents" >> beam.CombineGlobally(UnionFindCombineFn())
            | "EmitComponents" >> beam.ParDo(EmitComponentsFn())
        )
        resolved = prepared.articles | "ResolveDuplicates" >> beam.ParDo(
            ResolveDuplicatesFn(self._near), beam.pvalue.AsDict(components), beam.pvalue.AsDict(exact[SEEN])
        ).with_outputs(DUPLICATES, INDEX, main="articles")
        return {"articles": resolved.articles, DUPLICATES: resolved[DUPLICATES], INDEX: resolved[INDEX]}
