"""Checks on a built (not run) pipeline graph."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.pipeline import PipelineVisitor


def _inside(applied, kind) -> bool:
    while applied is not None:
        if isinstance(applied.transform, kind):
            return True
        applied = applied.parent
    return False


def _inside_create(applied) -> bool:
    return _inside(applied, beam.Create)


def _constant(pcoll) -> bool:
    """Whether ``pcoll`` is made inside a ``Create`` composite: values fixed when the pipeline
    is built (options, a taxonomy).  Anything computed at run time (from files, feeds,
    earlier steps: listing, parsing, grouping, counting) is data."""
    producer = pcoll.producer
    return producer is not None and _inside_create(producer)


def data_derived_side_inputs(pipeline: beam.Pipeline) -> list[str]:
    """Every side input of ``pipeline`` whose producer chain starts at data rather than at a
    constant ``Create``, as ``"consumer step <- producer step"``.  A singleton (one value: a
    count, a threshold, Beam's own default of a global combine) is of fixed size whatever the
    data, and is not listed; a dict, list, iterable or multimap view of data is."""
    found: list[str] = []

    class _Visitor(PipelineVisitor):
        def visit_transform(self, applied) -> None:
            for side in applied.side_inputs:
                if isinstance(side, beam.pvalue.AsSingleton) or (
                        side.pvalue.producer is not None and _inside(side.pvalue.producer, beam.CombineGlobally)):
                    continue  # one value (a global combine's result or its default)
                if not _constant(side.pvalue):
                    found.append(f"{applied.full_label} <- {side.pvalue.producer.full_label}")

    pipeline.visit(_Visitor())
    return sorted(found)
