"""Dead letters -> ``rejected`` rows (capped payload), counted per stage and reason."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline import metrics
from pipeline.errors import rejected_row


class RejectionToRowFn(beam.DoFn):
    def __init__(self, max_payload_bytes: int):
        self._max = max_payload_bytes

    def process(self, rejection):
        yield rejected_row(rejection, self._max)


class CountRejectionsFn(beam.DoFn):
    """Per-reason counters for the summary (``rejected/<stage>/<reason>``)."""

    def process(self, row: dict):
        Metrics.counter(metrics.NAMESPACE, metrics.REJECTED_BY_REASON.format(stage=row["stage"], reason=row["reason"])).inc()
        yield row


def rejected_to_rows(rejections, max_payload: int):
    """``Rejection``s -> capped ``RejectedRecord`` rows, counted per stage and reason."""
    return (
        rejections
        | "RejectedRows" >> beam.ParDo(RejectionToRowFn(max_payload))
        | "CountRejections" >> beam.ParDo(CountRejectionsFn())
    )
