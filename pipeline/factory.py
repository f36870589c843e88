"""The one place that wires sources, normalisation, dedup, tagging and sinks."""

from __future__ import annotations

from typing import Optional

import apache_beam as beam

from pipeline.dedup import DeduplicateArticles
from pipeline.normalize import NormalizeArticles
from pipeline.normalize.fields import parse_field_map
from pipeline.options import NewsbeamOptions
from pipeline.sinks import WriteArticles
from pipeline.sources import ReadArticleFiles
from pipeline.sources.live import AddNewArticleCounts, ReadFeeds
from pipeline.tagging import TagArticles


def build_pipeline(pipeline: beam.Pipeline, options: NewsbeamOptions, run_id: Optional[str] = None):
    """Apply the newsbeam job to ``pipeline``; returns the PCollection of published files."""
    records, rejects = [], []
    if options.input:
        read = pipeline | "ReadArticleFiles" >> ReadArticleFiles(options.input, options.input_format)
        records.append(read["records"])
        rejects.append(read["rejected"])
    health = None
    if options.feeds:
        live = pipeline | "ReadFeeds" >> ReadFeeds(
            options.feeds, options.output, options.fetch_config(), options.fetch_concurrency
        )
        records.append(live["records"])
        rejects.append(live["rejected"])
        health = live["health"]
    if len(records) > 1:
        records = [tuple(records) | "CollectRecords" >> beam.Flatten()]
    normalized = records[0] | "NormalizeArticles" >> NormalizeArticles(parse_field_map(options.field_map))
    deduplicated = normalized["articles"] | "DeduplicateArticles" >> DeduplicateArticles(
        options.output, None if options.no_near_dedup else options.minhash_config()
    )
    articles = deduplicated["articles"]
    datasets = {}
    if health is not None:
        datasets["feeds"] = {"health": health, "articles": articles} | "AddNewArticleCounts" >> AddNewArticleCounts()
    if not options.no_tagging:
        articles = articles | "TagArticles" >> TagArticles(options.taxonomy, options.ner_model)
    rejected = (*rejects, normalized["rejected"]) | "CollectRejected" >> beam.Flatten()
    return {
        "articles": articles,
        "duplicates": deduplicated["duplicates"],
        "rejected": rejected,
        "index": deduplicated["index"],
        **datasets,
    } | "WriteArticles" >> WriteArticles(
        options.output, options.rows_per_file, options.max_payload_bytes, run_id=run_id
    )
