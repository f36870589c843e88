"""The one place that wires sources, normalisation, dedup, tagging and sinks."""

from __future__ import annotations

import time
from typing import Optional

import apache_beam as beam
from apache_beam.options.pipeline_options import StandardOptions
from apache_beam.transforms.periodicsequence import PeriodicImpulse
from apache_beam.utils.timestamp import MAX_TIMESTAMP

from pipeline.beam_fixes import fix_local_runner_streaming
from pipeline.dedup import DeduplicateArticles
from pipeline.dedup.streaming import DeduplicateStream
from pipeline.normalize import NormalizeArticles
from pipeline.normalize.fields import parse_field_map
from pipeline.options import NewsbeamOptions
from pipeline.sinks import WriteArticles, WriteStream
from pipeline.sources import ReadArticleFiles
from pipeline.sources.live import AddNewArticleCounts, ReadFeeds
from pipeline.sources.pages import FetchArticlePages, FetchArticlePagesStream
from pipeline.sources.streaming import ParseMessages, PollFeeds, read_pubsub
from pipeline.tagging import TagArticles


def build_streaming_pipeline(pipeline: beam.Pipeline, options: NewsbeamOptions, run_id: Optional[str] = None,
                             messages=None, ticks=None):
    """The unbounded job: polled feeds and/or Pub/Sub messages -> the same normalise, dedup and
    tag steps -> Parquet files published per bundle.  ``messages``/``ticks`` replace the
    sources (tests feed them from a TestStream)."""
    fix_local_runner_streaming()  # event-time timers and data behind a Flatten on the local runner (beam_fixes.py)
    records, rejects, health = [], [], None
    if options.feeds:
        if ticks is None:
            start = time.time()
            stop = start + options.duration if options.duration else MAX_TIMESTAMP
            ticks = pipeline | "PollTicks" >> PeriodicImpulse(
                start_timestamp=start, stop_timestamp=stop, fire_interval=options.poll_interval)
        polled = ticks | "PollFeeds" >> PollFeeds(
            options.feeds, options.fetch_config(), options.poll_interval, options.max_backoff, options.output)
        records.append(polled["records"])
        rejects.append(polled["rejected"])
        health = polled["health"]
    if options.input_topic or options.input_subscription or messages is not None:
        source = options.input_subscription or options.input_topic or "messages"
        if messages is None:
            messages = read_pubsub(pipeline, options.input_topic, options.input_subscription)
        parsed = messages | "ParseMessages" >> ParseMessages(source)
        records.append(parsed["records"])
        rejects.append(parsed["rejected"])
    if len(records) > 1:
        records = [tuple(records) | "CollectRecords" >> beam.Flatten()]
    normalized = records[0] | "NormalizeArticles" >> NormalizeArticles(parse_field_map(options.field_map))
    completed = normalized["articles"] | "FetchArticlePages" >> FetchArticlePagesStream(
        options.output, options.full_text, options.page_policy(), options.page_config(), options.full_text_min_words,
        options.dedup_horizon)
    deduplicated = completed["articles"] | "DeduplicateStream" >> DeduplicateStream(
        options.output, None if options.no_near_dedup else options.minhash_config(), options.dedup_horizon
    )
    articles = deduplicated["articles"]
    if not options.no_tagging:
        articles = articles | "TagArticles" >> TagArticles(options.taxonomy, options.ner_model, topics=options.topics)
    datasets = {
        "articles": articles,
        "duplicates": deduplicated["duplicates"],
        "rejected": (*rejects, normalized["rejected"]) | "CollectRejected" >> beam.Flatten(),
    }
    if health is not None:
        datasets["feeds"] = health
    if options.full_text != "never":
        datasets["pages"] = completed["pages"]
    return datasets | "WriteStream" >> WriteStream(options.output, options.max_payload_bytes, run_id=run_id)


def build_pipeline(pipeline: beam.Pipeline, options: NewsbeamOptions, run_id: Optional[str] = None):
    """Apply the newsbeam job to ``pipeline``; returns the PCollection of published files."""
    if options.view_as(StandardOptions).streaming:
        return build_streaming_pipeline(pipeline, options, run_id)
    records, rejects = [], []
    if options.input:
        read = pipeline | "ReadArticleFiles" >> ReadArticleFiles(
            options.input, options.input_format, options.max_decompressed_bytes, options.split_bytes)
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
    completed = normalized["articles"] | "FetchArticlePages" >> FetchArticlePages(
        options.output, options.full_text, options.page_policy(), options.page_config(), options.full_text_min_words,
        options.fetch_concurrency)
    deduplicated = completed["articles"] | "DeduplicateArticles" >> DeduplicateArticles(
        options.output, None if options.no_near_dedup else options.minhash_config()
    )
    articles = deduplicated["articles"]
    datasets = {"pages": completed["pages"]}
    if health is not None:
        datasets["feeds"] = {"health": health, "articles": articles} | "AddNewArticleCounts" >> AddNewArticleCounts()
    if not options.no_tagging:
        articles = articles | "TagArticles" >> TagArticles(options.taxonomy, options.ner_model, topics=options.topics)
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
