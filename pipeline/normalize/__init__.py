"""Normalisation: ``RawRecord`` -> ``Article`` dicts, with a dead-letter output."""

from __future__ import annotations

import traceback
from datetime import datetime, timezone
from typing import Mapping, Optional

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline import metrics, reasons
from pipeline.coders import Row
from pipeline.errors import RejectError, Rejection
from pipeline.normalize.article import Normalizer, normalize_article
from pipeline.records import RawRecord

REJECTED = "rejected"

__all__ = ["NormalizeArticleFn", "NormalizeArticles", "Normalizer", "normalize_article"]


class NormalizeArticleFn(beam.DoFn):
    """Wraps ``Normalizer.normalize``; every failure becomes a ``Rejection``."""

    def __init__(self, field_map: Optional[Mapping[str, tuple[str, ...]]] = None):
        self._field_map = dict(field_map or {})

    def setup(self) -> None:
        self._normalizer = Normalizer(self._field_map)
        self._internal_errors = Metrics.counter(metrics.NAMESPACE, "normalize_internal_errors")

    def process(self, raw: RawRecord):
        try:
            yield self._normalizer.normalize(raw, datetime.now(timezone.utc))
        except RejectError as exc:
            yield beam.pvalue.TaggedOutput(REJECTED, _rejection(raw, exc.stage, exc.reason, exc.message))
        except Exception as exc:  # noqa: BLE001 - a bug must not lose the record or stop the run
            self._internal_errors.inc()
            where = traceback.extract_tb(exc.__traceback__)[-1]
            message = f"{type(exc).__name__}: {exc} (at {where.filename.rsplit('/', 1)[-1]}:{where.lineno})"
            yield beam.pvalue.TaggedOutput(REJECTED, _rejection(raw, *reasons.NORMALIZE_INTERNAL_ERROR, message))


def _rejection(raw: RawRecord, stage: str, reason: str, message: str) -> Rejection:
    return Rejection(
        input_uri=raw.input_uri,
        stage=stage,
        reason=reason,
        message=message,
        payload=raw.raw if raw.raw is not None else (raw.payload if isinstance(raw.payload, bytes) else None),
        position=raw.position,
        input_format=raw.input_format,
    )


class NormalizeArticles(beam.PTransform):
    """``RawRecord`` -> ``{"articles": dict, "rejected": Rejection}``."""

    def __init__(self, field_map: Optional[Mapping[str, tuple[str, ...]]] = None):
        super().__init__()
        self._field_map = field_map

    def expand(self, records):
        out = records | "Normalize" >> beam.ParDo(NormalizeArticleFn(self._field_map)).with_output_types(Row).with_outputs(
            REJECTED, main="articles"
        )
        return {"articles": out.articles, "rejected": out[REJECTED]}
