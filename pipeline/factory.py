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
from pipeline.tagging import TagArticles


def build_pipeline(pipeline: beam.Pipeline, options: NewsbeamOptions, run_id: Optional[str] = None):
    """Apply the newsbeam job to ``pipeline``; returns the PCollection of published files."""
    read = pipeline | "ReadArticleFiles" >> ReadArticleFiles(options.input or [], options.input_format)
    normalized = read["records"] | "NormalizeArticles" >> NormalizeArticles(parse_field_map(options.field_map))
    deduplicated = normalized["articles"] | "DeduplicateArticles" >> DeduplicateArticles(
        options.output, None if options.no_near_dedup else options.minhash_config()
    )
    articles = deduplicated["articles"]
    if not options.no_tagging:
        articles = articles | "TagArticles" >> TagArticles(options.taxonomy, options.ner_model)
    rejected = (read["rejected"], normalized["rejected"]) | "CollectRejected" >> beam.Flatten()
    return {
        "articles": articles,
        "duplicates": deduplicated["duplicates"],
        "rejected": rejected,
        "index": deduplicated["index"],
    } | "WriteArticles" >> WriteArticles(
        options.output, options.rows_per_file, options.max_payload_bytes, run_id=run_id
    )
