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


# --- fix_local_runner_memory -------------------------------------------------------------------

import random  # noqa: E402

import apache_beam as beam  # noqa: E402
from apache_beam import coders  # noqa: E402
from apache_beam.coders.coder_impl import create_InputStream  # noqa: E402
from apache_beam.runners.portability.fn_api_runner import execution  # noqa: E402
from apache_beam.testing.test_pipeline import TestPipeline  # noqa: E402
from apache_beam.testing.util import assert_that, equal_to  # noqa: E402
from apache_beam.transforms import core, window  # noqa: E402
from apache_beam.utils.windowed_value import WindowedValue  # noqa: E402

import pipeline.beam_fixes as beam_fixes  # noqa: E402


def _grouping_buffer() -> execution.GroupingBuffer:
    kv = coders.TupleCoder([coders.StrUtf8Coder(), coders.BytesCoder()])
    grouped = coders.TupleCoder([coders.StrUtf8Coder(), coders.IterableCoder(coders.BytesCoder())])
    return execution.GroupingBuffer(_windowed(kv), _windowed(grouped), core.Windowing(window.GlobalWindows()))


def _windowed(coder):
    return coders.WindowedValueCoder(coder, coders.coders.GlobalWindowCoder())


def _fill(buffer, pairs) -> None:
    coder = buffer._pre_grouped_coder.get_impl()
    for key, value in pairs:
        buffer.append(coder.encode_nested(WindowedValue((key, value), 0, [window.GlobalWindow()])))


def _decode(buffer, chunks) -> list:
    coder = buffer._post_grouped_coder.get_impl()
    out = []
    for chunk in chunks:
        stream = create_InputStream(chunk)
        while stream.size() > 0:
            key, values = coder.decode_from_stream(stream, True).value
            out.append((key, list(values)))
    return out


def test_grouped_input_goes_out_in_chunks_with_the_same_groups_in_the_same_order(monkeypatch):
    rng = random.Random(7)
    pairs = [(f"k{rng.randrange(300)}", rng.randbytes(rng.randrange(1, 200))) for _ in range(3000)]
    groups: dict = {}  # what the runner's GroupingBuffer gives: keys in first-seen order, dealt round robin
    for key, value in pairs:
        groups.setdefault(key, []).append(value)
    expected = [list(groups.items())[k::2] for k in range(2)]
    fixed = _grouping_buffer()
    _fill(fixed, pairs)

    beam_fixes.fix_local_runner_memory()
    beam_fixes.fix_local_runner_memory()  # idempotent
    monkeypatch.setattr(beam_fixes, "INPUT_CHUNK_BYTES", 4096)
    parts = fixed.partition(2)
    assert [_decode(fixed, part) for part in parts] == expected
    assert all(len(part) > 10 for part in parts)  # ~300 KB per part in chunks of ~4 KB, not one bytes object
    assert not fixed._table  # groups leave the table as they are encoded
    assert fixed.partition(2) is parts  # read twice: the same chunks, as before


def test_a_job_under_the_memory_fix_groups_and_flattens_as_before(monkeypatch):
    beam_fixes.fix_local_runner_memory()
    monkeypatch.setattr(beam_fixes, "INPUT_CHUNK_BYTES", 1024)
    items = [(f"k{i % 97}", "x" * (i % 50)) for i in range(5000)]
    expected = sorted((key, sum(len(v) for k, v in items if k == key)) for key in {k for k, _ in items})
    with TestPipeline() as p:
        a = p | "A" >> beam.Create(items[:2500])
        b = p | "B" >> beam.Create(items[2500:])
        sums = (
            (a, b)
            | beam.Flatten()
            | beam.GroupByKey()
            | beam.MapTuple(lambda key, values: (key, sum(len(v) for v in values)))
        )
        assert_that(sums, equal_to(expected))


def test_multi_processing_workers_start_as_the_fixed_worker(monkeypatch):
    """A worker subprocess runs ``python -m pipeline.beam_fixes`` (Beam's sdk_worker_main with the
    worker half of the fix); the multi_processing runs in test_incremental.py go through it."""
    from apache_beam.runners.portability.fn_api_runner import worker_handlers

    beam_fixes.fix_local_runner_memory()
    monkeypatch.setattr(worker_handlers.GrpcWorkerHandler, "__init__", lambda self, *args: None)
    handler = worker_handlers.SubprocessSdkWorkerHandler(
        b"/usr/bin/python3 -m apache_beam.runners.worker.sdk_worker_main", None, None, None)
    assert handler._worker_command_line == b"/usr/bin/python3 -m pipeline.beam_fixes"


def test_the_in_process_worker_state_cache_follows_the_beam_option():
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.portability.fn_api_runner import worker_handlers

    from pipeline.beam_fixes import fix_local_runner_state_cache
    from pipeline.job import _state_cache_mb

    def size(*argv: str) -> int:
        fix_local_runner_state_cache(_state_cache_mb(argv, PipelineOptions(list(argv))))
        return worker_handlers.STATE_CACHE_SIZE_MB

    try:
        assert size("--max_cache_memory_usage_mb", "7") == 7
        assert size("--max_cache_memory_usage_mb=0") == 0  # off, as on Dataflow's workers by default
        assert size() == 100  # not given: the local runner's own size again
    finally:
        worker_handlers.STATE_CACHE_SIZE_MB = 100
