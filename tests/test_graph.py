"""The batch graph, built and not run: no side input derived from the data (on Dataflow
every SDK process holds a side input whole)."""

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
    for flags in ([], ["--no-near-dedup"], ["--no-tagging"]):
        options, nb = parse_options(["--input", str(tmp_path / "in" / "*.txt"), "--output", str(tmp_path / "out"), *flags])
        pipeline = beam.Pipeline(options=options)
        build_pipeline(pipeline, nb, run_id="graph-check")
        assert data_derived_side_inputs(pipeline) == [], flags
