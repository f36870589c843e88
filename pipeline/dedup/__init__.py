"""Deduplication composites (exact now; near-duplicates build on the same clusters)."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline import metrics
from pipeline.dedup.exact import UnionFind, exact_keys, resolve, star_edges

DUPLICATES = "duplicates"


class ExactKeysFn(beam.DoFn):
    def process(self, article: dict):
        yield from exact_keys(article)


class StarEdgesFn(beam.DoFn):
    def process(self, group):
        key, members = group
        yield from star_edges(key, members)


class UnionFindCombineFn(beam.CombineFn):
    """Connected components of the duplicate edges.  Only articles that share a key
    with another article are held (memory grows with duplicates, not with input)."""

    def create_accumulator(self) -> UnionFind:
        return UnionFind()

    def add_input(self, acc: UnionFind, edge) -> UnionFind:
        rank, article_id, head_rank, head_id, label = edge
        acc.union(article_id, rank, head_id, head_rank, label)
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


class KeyByArticleIdFn(beam.DoFn):
    def process(self, article: dict):
        yield article["article_id"], article


class ResolveDuplicatesFn(beam.DoFn):
    """Joined (article_id, {articles, components}) -> kept article or duplicate rows."""

    def setup(self) -> None:
        self._exact = Metrics.counter(metrics.NAMESPACE, metrics.DUPLICATES_BY_KIND.format(kind="exact"))

    def process(self, joined):
        article_id, grouped = joined
        components = list(grouped["components"])
        for kind, row in resolve(article_id, list(grouped["articles"]), components[0] if components else None):
            if kind == "article":
                yield row
            else:
                self._exact.inc()
                yield beam.pvalue.TaggedOutput(DUPLICATES, row)


class DeduplicateArticles(beam.PTransform):
    """Articles -> ``{"articles": kept, "duplicates": DuplicateRecord dicts}``.

    Keys -> GroupByKey -> star edges -> union-find (connected components) ->
    join back to the articles by id.  No all-pairs comparison: work is linear in
    the number of keys, and memory of the component step in the number of
    duplicated articles.
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
        keyed = articles | "KeyById" >> beam.ParDo(KeyByArticleIdFn())
        resolved = (
            {"articles": keyed, "components": components}
            | "JoinComponents" >> beam.CoGroupByKey()
            | "ResolveDuplicates" >> beam.ParDo(ResolveDuplicatesFn()).with_outputs(DUPLICATES, main="articles")
        )
        return {"articles": resolved.articles, "duplicates": resolved[DUPLICATES]}
