"""A fix for the local runner of Beam 2.77, applied by ``newsbeam run`` before a pipeline runs.

The FnApiRunner (what the DirectRunner falls back to here) merges each bundle's metrics into the
running total with ``monitoring_infos.consolidate``, a *generator*, and stores the generator:
after *n* bundles the total is a chain of *n* nested generators that keeps every bundle's
``MonitoringInfo`` protos alive.  Memory grows with the number of bundles (~8 MB/s for an idle
``PeriodicImpulse`` pipeline, whose splittable DoFn runs bundles continuously) and reading the
metrics at the end fails with ``RecursionError`` (so a long streaming run reported zero counters).
Materialising the merged metrics as a list keeps memory flat and the metrics readable.  The
patch changes nothing else; it is idempotent and only touches the local runner's module.
"""

from __future__ import annotations

_APPLIED = "_newsbeam_consolidate_fixed"


def fix_local_runner_metrics() -> None:
    from apache_beam.runners.portability.fn_api_runner import fn_runner

    if getattr(fn_runner, _APPLIED, False):
        return
    original = fn_runner.consolidate_monitoring_infos

    def consolidate_to_list(infos, *args, **kwargs):
        return list(original(infos, *args, **kwargs))

    fn_runner.consolidate_monitoring_infos = consolidate_to_list
    setattr(fn_runner, _APPLIED, True)
