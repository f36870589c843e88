"""The local-runner metrics fix (pipeline/beam_fixes.py)."""

from __future__ import annotations

from apache_beam.metrics import monitoring_infos
from apache_beam.runners.portability.fn_api_runner import fn_runner

from pipeline.beam_fixes import fix_local_runner_metrics


def test_merged_metrics_are_materialised_not_nested_generators():
    fix_local_runner_metrics()
    fix_local_runner_metrics()  # idempotent
    counter = monitoring_infos.int64_user_counter("newsbeam", "records_read", 1, ptransform="step")
    total = []
    for _ in range(5000):  # more bundles than Python's recursion limit
        total = fn_runner.consolidate_monitoring_infos(iter([counter, *total]))
    assert isinstance(total, list) and len(total) == 1
    assert monitoring_infos.extract_counter_value(total[0]) == 5000
