"""Deduplication composites (exact now; near-duplicates build on the same clusters)."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline import metrics
from pipeline.dedup.exact import UnionFind, exact_keys, record_uid, resolve, star_edges

DUPLICATES = "duplicates"


class ExactKeysFn(beam.DoFn):
    def process(self, article: dict):
        yield from exact_keys(article)


class StarEdgesFn(beam.DoFn):
    def process(self, group):
        key, members = group
        yield from star_edges(key, members)


class UnionFindCombineFn(beam.CombineFn):
    """Connected components of the duplicate edges.  Only records that share a key
    with another record are held (memory grows with duplicates, not with input)."""

    def create_accumulator(self) -> UnionFind:
        return UnionFind()

    def add_input(self, acc: UnionFind, edge) -> UnionFind:
        rank, head, label = edge
        acc.union(tuple(rank), tuple(head), label)
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
    """Article + side input of clusters -> the kept article, or a duplicate row."""

    def setup(self) -> None:
        self._exact = Metrics.counter(metrics.NAMESPACE, metrics.DUPLICATES_BY_KIND.format(kind="exact"))

    def process(self, article: dict, components):
        found = components.get(record_uid(article))
        kind, row = resolve(article, tuple(found) if found else None)
        if kind == "article":
            yield row
        else:
            self._exact.inc()
            yield beam.pvalue.TaggedOutput(DUPLICATES, row)


class DeduplicateArticles(beam.PTransform):
    """Articles -> ``{"articles": kept, "duplicates": DuplicateRecord dicts}``.

    Keys -> GroupByKey -> star edges -> union-find (connected components) ->
    each article looks its record up in the components (a side input holding only
    records that have duplicates).  No all-pairs comparison and no shuffle of
    article rows: work is linear in the number of keys, and memory of the
    component step grows with the number of duplicated records.
    """

    def expand(self, articles):
        components = (
            articles
            | "ExactKeys" >> beam.ParDo(ExactKeysFn())
            | "GroupByExactKey" >> beam.GroupByKey()
            | "StarEdges" >> beam.ParDo(StarEdgesFn())
            | "ConnectedComponents" >> beam.CombineGlobally(UnionFindCombineFn())
            | "EmitComponents" >> beam.ParDo(EmitComponentsFn())
        )
        resolved = articles | "ResolveDuplicates" >> beam.ParDo(
            ResolveDuplicatesFn(), beam.pvalue.AsDict(components)
        ).with_outputs(DUPLICATES, main="articles")
        return {"articles": resolved.articles, "duplicates": resolved[DUPLICATES]}
