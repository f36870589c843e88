"""The batch and streaming graphs, built and not run: no side input derived from the data (on
Dataflow every SDK process holds a side input whole)."""

from __future__ import annotations

import apache_beam as beam

from graph_checks import data_derived_side_inputs
from pipeline.factory import build_pipeline
from pipeline.job import parse_options


def test_the_check_tells_data_from_constants():
    pipeline = beam.Pipeline()
    data = pipeline | "Data" >> beam.Create([("a", 1), ("b", 2)])
    table = data | "Group" >> beam.GroupByKey()
    options = pipeline | "Options" >> beam.Create([("threshold", 0.75)])
    _ = data | "UseTable" >> beam.Map(lambda x, t: x, beam.pvalue.AsDict(table))
    _ = data | "UseOptions" >> beam.Map(lambda x, o: x, beam.pvalue.AsDict(options))
    _ = data | "UseData" >> beam.Map(lambda x, d: x, beam.pvalue.AsList(data | "Keys" >> beam.Keys()))
    assert [found.split(" <- ")[0] for found in data_derived_side_inputs(pipeline)] == ["UseData", "UseTable"]


def test_batch_pipeline_has_no_data_derived_side_input(tmp_path):
    feeds = tmp_path / "feeds.txt"
    for flags in ([], ["--no-near-dedup"], ["--no-tagging"], ["--feeds", str(feeds)]):
        options, nb = parse_options(["--input", str(tmp_path / "in" / "*.txt"), "--output", str(tmp_path / "out"), *flags])
        pipeline = beam.Pipeline(options=options)
        build_pipeline(pipeline, nb, run_id="graph-check")
        assert data_derived_side_inputs(pipeline) == [], flags


# The one side input of the streaming job that is read from the output: each feed's back-off to
# resume (failures in a row, last fetch), one small entry per feed of the feed list, read once at
# start.  It is bounded by the feed list (configuration), not by the articles, and it must be
# there before a feed's first poll, which a join by key could not promise.
STREAMING_ALLOWED = {"PollFeeds/PollFeed/ParDo(PollFeedFn) <- PollFeeds/LoadPollState"}


def test_streaming_pipeline_has_no_data_derived_side_input(tmp_path):
    from apache_beam.testing.test_stream import TestStream

    from pipeline.factory import build_streaming_pipeline

    feeds = tmp_path / "feeds.txt"
    feeds.write_text("http://127.0.0.1:9/feed\n")
    options, nb = parse_options(["--streaming", "--feeds", str(feeds), "--input-topic", "projects/p/topics/t",
                                 "--output", str(tmp_path / "out")])
    pipeline = beam.Pipeline(options=options)
    ticks = pipeline | "Ticks" >> TestStream().add_elements([1.0]).advance_watermark_to_infinity()
    messages = pipeline | "Messages" >> TestStream().add_elements([b"{}"]).advance_watermark_to_infinity()
    build_streaming_pipeline(pipeline, nb, run_id="graph-check", messages=messages, ticks=ticks)
    assert set(data_derived_side_inputs(pipeline)) <= STREAMING_ALLOWED
