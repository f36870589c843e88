"""Fixes for the local runner of Beam 2.77 (``apache-beam>=2.77,<2.78`` in pyproject.toml),
applied by ``newsbeam run`` before a pipeline runs.  This is the one module that knows the local
runner's internals; nothing here changes a pipeline's graph or what a managed runner does.

Metrics (``fix_local_runner_metrics``).  The FnApiRunner (what the DirectRunner falls back to
here) merges each bundle's metrics into the
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


_TIMERS_APPLIED = "_newsbeam_event_timers_fixed"
_HELD = "_newsbeam_held_timers"
_STREAMING = "_newsbeam_streaming_run"


def _mark_streaming_runs() -> None:
    """The streaming fixes below act only inside ``run_pipeline`` of a pipeline whose options say
    ``--streaming``: a batch job in the same process (tests) runs the unpatched logic."""
    from apache_beam.options.pipeline_options import StandardOptions
    from apache_beam.runners.portability.fn_api_runner import fn_runner

    runner = fn_runner.FnApiRunner
    if getattr(runner, "_newsbeam_marks_streaming", False):
        return
    run_pipeline = runner.run_pipeline

    def run_pipeline_marked(self, pipeline, options):
        setattr(self, _STREAMING, bool(options.view_as(StandardOptions).streaming))
        return run_pipeline(self, pipeline, options)

    runner.run_pipeline = run_pipeline_marked
    runner._newsbeam_marks_streaming = True


def _streaming(runner) -> bool:
    return getattr(runner, _STREAMING, False)


def fix_local_runner_event_timers() -> None:
    """Event-time timers that wait for the wall clock on Beam 2.77's FnApiRunner.

    The FnApiRunner runs an unbounded pipeline (a ``PeriodicImpulse``) as a loop of bundles but
    does not propagate the splittable DoFn's watermark: every stage downstream of it sees an
    input watermark of +infinity, so an event-time timer fires right after the bundle that set
    it (a dedup entry with a 7-day horizon was cleared within milliseconds; see
    ``tests/test_streaming_state.py::test_local_runner_event_timers_wait_for_the_clock``).  Elements of
    a polled stream are stamped with the wall clock, so the wall clock is an upper bound of their
    true watermark.  The patch holds every event-time timer whose firing time is still ahead of
    the runner's clock and releases it once the clock reaches it, or when nothing else is left to
    run (the input has ended: the true watermark is +infinity, so every timer is due).  Held
    timers do not hold the stage's watermark (it was +infinity anyway).  Each timer is held on
    its own (a bundle's timers are split by firing time).  Only streaming runs are affected; nothing
    changes for batch runs, other runners,
    for processing-time timers, or for timers already due; idempotent.
    """
    import heapq
    import itertools

    from apache_beam.coders.coder_impl import create_OutputStream
    from apache_beam.portability.api import beam_runner_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.fn_api_runner.execution import ListBuffer
    from apache_beam.runners.portability.fn_api_runner.fn_runner import DataInput
    from apache_beam.utils import timestamp

    _mark_streaming_runs()
    runner = fn_runner.FnApiRunner
    if getattr(runner, _TIMERS_APPLIED, False):
        return
    order = itertools.count()  # ties between timers due at the same time: first held, first released
    run_bundle = runner._run_bundle
    execute_bundle = runner._execute_bundle
    schedule_ready_bundles = runner._schedule_ready_bundles

    def held_timers(context) -> list:
        if not hasattr(context, _HELD):
            setattr(context, _HELD, [])
        return getattr(context, _HELD)

    def run_and_hold_early_event_timers(self, context, bundle_context_manager, bundle_input, *args, **kwargs):
        result, deferred, newly_set_timers, watermark_updates = run_bundle(
            self, context, bundle_context_manager, bundle_input, *args, **kwargs)
        if not _streaming(self):
            return result, deferred, newly_set_timers, watermark_updates
        now = timestamp.Timestamp.of(context.clock.time())
        due = {}
        for family, (timer_data, target) in newly_set_timers.items():
            _, time_domain = bundle_context_manager.stage_timer_outputs[family]
            if time_domain != beam_runner_api_pb2.TimeDomain.EVENT_TIME:
                due[family] = (timer_data, target)
                continue
            coder = bundle_context_manager.get_timer_coder_impl(*family)
            ready, ready_at = create_OutputStream(), None
            by_time: dict = {}
            for encoded in timer_data:
                for timer in coder.decode_all(encoded):
                    by_time.setdefault(timer.fire_timestamp, []).append(timer)
            for fire_at, timers in sorted(by_time.items()):
                out = ready if fire_at <= now else create_OutputStream()
                for timer in timers:
                    coder.encode_to_stream(timer, out, True)
                if fire_at <= now:
                    ready_at = fire_at if ready_at is None else ready_at
                    continue
                buffer = ListBuffer(coder_impl=coder)
                buffer.append(out.get())
                held = held_timers(context)
                heapq.heappush(held, (fire_at, next(order), bundle_context_manager.stage.name, family, buffer,
                                      list(bundle_input.data.keys())))
            if ready_at is not None:
                buffer = ListBuffer(coder_impl=coder)
                buffer.append(ready.get())
                due[family] = (buffer, ready_at)
            else:  # the held timers must not hold the stage's watermark (downstream would stall)
                watermark_updates[family] = timestamp.MAX_TIMESTAMP
        return result, deferred, due, watermark_updates

    def release(context, input_ended: bool) -> None:
        held = held_timers(context)
        if not held:
            return
        now = timestamp.Timestamp.of(context.clock.time())
        while held and (input_ended or held[0][0] <= now):  # a heap: the earliest timer first
            _fire_at, _order, stage_name, family, buffer, inputs = heapq.heappop(held)
            empty = {name: ListBuffer(None) for name in inputs}
            context.queues.ready_inputs.enque((stage_name, DataInput(empty, {family: buffer})))

    def execute_then_release_due(self, context, *args, **kwargs):
        result = execute_bundle(self, context, *args, **kwargs)
        release(context, input_ended=False)  # the loop keeps running bundles while the source is alive
        return result

    def schedule_then_release_at_end(self, context):
        schedule_ready_bundles(self, context)
        queues = context.queues
        release(context, input_ended=not (len(queues.ready_inputs) or len(queues.time_pending_inputs)
                                          or len(queues.watermark_pending_inputs)))

    runner._run_bundle = run_and_hold_early_event_timers
    runner._execute_bundle = execute_then_release_due
    runner._schedule_ready_bundles = schedule_then_release_at_end
    setattr(runner, _TIMERS_APPLIED, True)


_FLOW_APPLIED = "_newsbeam_streaming_flow_fixed"


def fix_local_runner_flatten_flow() -> None:
    """Let elements cross a stage boundary while a splittable source is still running.

    The FnApiRunner fuses a ``PeriodicImpulse`` with every ParDo after it into one stage, which
    is why a linear streaming pipeline writes files while it runs.  A ``Flatten`` (or any input
    with several producers) ends the fusion, and the runner schedules the next stage's input
    only when the input watermark reaches +infinity: behind the splittable DoFn that is when
    the source ends, so a job with a Flatten after its source wrote nothing until ``--duration``
    was over (and nothing at all when stopped with Ctrl-C); moreover the runner looks at pending
    inputs only when no bundle is ready, and a running source always is.  After every bundle, the
    patch schedules such pending data at once when it is plain elements (no ``GroupByKey`` buffer, no timers) for a stage
    without side inputs: ParDos need no watermark to process elements.  Grouped data and stages
    with side inputs still wait as before; idempotent; only the local runner's module.
    """
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.fn_api_runner.execution import GroupingBuffer, WindowGroupingBuffer

    _mark_streaming_runs()
    runner = fn_runner.FnApiRunner
    if getattr(runner, _FLOW_APPLIED, False):
        return
    execute_bundle = runner._execute_bundle

    def plain(context, stage_name: str, data_input) -> bool:
        if data_input.timers or context.watermark_manager.get_stage_node(stage_name).side_inputs:
            return False
        return not any(isinstance(b, (GroupingBuffer, WindowGroupingBuffer)) for b in data_input.data.values())

    def execute_then_schedule_plain_data(self, context, *args, **kwargs):
        result = execute_bundle(self, context, *args, **kwargs)
        if not _streaming(self):
            return result
        # the loop schedules pending inputs only when nothing is ready, which never happens while a
        # splittable source keeps re-queueing itself: move plain data on after every bundle
        pending = context.queues.watermark_pending_inputs
        waiting = []
        while len(pending) > 0:
            (stage_name, watermark), data_input = pending.deque()
            if plain(context, stage_name, data_input):
                context.queues.ready_inputs.enque((stage_name, data_input))
            else:
                waiting.append(((stage_name, watermark), data_input))
        for entry in waiting:
            pending.enque(entry)
        return result

    runner._execute_bundle = execute_then_schedule_plain_data
    setattr(runner, _FLOW_APPLIED, True)


_MEMORY_APPLIED = "_newsbeam_memory_fixed"
# A stage's input goes to the worker in pieces of about this size (the runner's own flush size is 10 MB).
INPUT_CHUNK_BYTES = 8 << 20


def fix_local_runner_memory() -> None:
    """Keep the local runner's memory at a few copies of a chunk, not of a stage's whole input.

    The FnApiRunner keeps every PCollection between stages in memory; that is how it works and
    this fix leaves it so.  What it adds on top, measured with memray on BBC x50 (111,250
    articles, one worker), is several *more* copies of each stage's whole input:

    1. ``BundleManager._send_input_to_worker`` writes all of a stage's input into one output
       stream without flushing, so the stream, the bytes it returns and the protobuf message made
       from them each hold the whole input (3 x 510 MB for the stage after the read).  Fixed: the
       stream is flushed after each chunk, so the worker gets messages of ~10 MB.
    2. ``GroupingBuffer.partition`` encodes all groups of a ``GroupByKey`` into one bytes object
       while its table still holds them.  Fixed (default windowing only, the batch case): groups
       are encoded in chunks of ``INPUT_CHUNK_BYTES`` and dropped from the table as they go, in
       the same order.
    3. ``InMemoryDataChannel.input_elements`` keeps every message of a bundle until the last one
       is read.  Fixed: each is released once consumed.
    4. A cached ``DataOutputOperation`` keeps its last output stream (a buffer of up to 16 MB
       that never shrinks) until the stage runs again: ~200 MB over the ~40 stages of a batch
       job.  Fixed: the reference is dropped when the bundle finishes (the stream is closed then).
       This one is in the SDK worker: in-memory workers share the runner's process, and with
       ``--direct_running_mode multi_processing`` each worker subprocess starts as
       ``python -m pipeline.beam_fixes``, which applies it and then runs Beam's own
       ``sdk_worker_main`` (measured at x10: ~160 MB less per worker process).
    5. With ``multi_processing`` the runner's gRPC threads each get a glibc malloc arena, and
       freed chunks in one arena are not reused by the others (measured at x50 with 2 workers: the
       runner process peaked at 2,152 MB; 1,731 MB with this limit).  Fixed: the
       runner and each worker process limit themselves to 2 arenas (``mallopt``; glibc only,
       nothing elsewhere).

    Effect (``benchmarks/bench_pipeline.py --roots PREV .``, one worker; README "Performance"):
    peak RSS of a batch run, BBC x10 in 5 JSONL files, 919 -> 650 MB; BBC x50 2,750 -> 1,522 MB;
    no slower.  Elements, their order and every output are the same; idempotent; only the local
    runner's classes.
    """
    from apache_beam.coders.coder_impl import create_OutputStream
    from apache_beam.portability.api import beam_fn_api_pb2
    from apache_beam.runners.portability.fn_api_runner import execution, fn_runner, worker_handlers
    from apache_beam.runners.worker import data_plane
    from apache_beam.transforms.window import GlobalWindow, GlobalWindows
    from apache_beam.utils import windowed_value

    if getattr(fn_runner.BundleManager, _MEMORY_APPLIED, False):
        return

    def send_input_in_chunks(self, process_bundle_id, read_transform_id, byte_streams) -> None:
        data_out = self._worker_handler.data_conn.output_stream(process_bundle_id, read_transform_id)
        for byte_stream in byte_streams or []:
            data_out.write(byte_stream)  # whole encoded elements: a flush never splits one
            data_out.maybe_flush()
        data_out.close()

    partition = execution.GroupingBuffer.partition

    def partition_in_chunks(self, n: int):
        if self._grouped_output or not self._windowing.is_default():
            return partition(self, n)
        in_global_window = GlobalWindows.windowed_value(
            None, timestamp=GlobalWindow().max_timestamp(),
            pane_info=windowed_value.PaneInfo(is_first=True, is_last=True, timing=windowed_value.PaneInfoTiming.ON_TIME,
                                              index=0, nonspeculative_index=0)).with_value
        coder_impl = self._post_grouped_coder.get_impl()
        key_coder_impl = self._key_coder.get_impl()
        grouped: list = [[] for _ in range(n)]
        streams = [create_OutputStream() for _ in range(n)]
        table = self._table
        for idx, encoded_key in enumerate(list(table)):
            values = table.pop(encoded_key)
            out = streams[idx % n]
            coder_impl.encode_to_stream(in_global_window((key_coder_impl.decode(encoded_key), values)), out, True)
            if out.size() >= INPUT_CHUNK_BYTES:
                grouped[idx % n].append(out.get())
                streams[idx % n] = create_OutputStream()
        for ix, out in enumerate(streams):
            grouped[ix].append(out.get())
        self._grouped_output = grouped
        return grouped

    def input_elements_released(self, instruction_id, unused_expected_inputs, abort_callback=None):
        pending, other = self._inputs, []
        for i in range(len(pending)):
            element, pending[i] = pending[i], None
            if element.instruction_id == instruction_id:
                if isinstance(element, beam_fn_api_pb2.Elements.Timers):
                    if not element.is_last:
                        yield element
                if isinstance(element, beam_fn_api_pb2.Elements.Data):
                    if element.data or element.is_last:
                        yield element
            else:
                other.append(element)
            del element
        self._inputs = other

    init_subprocess_worker = worker_handlers.SubprocessSdkWorkerHandler.__init__

    def init_with_fixed_worker(self, worker_command_line, *args, **kwargs):
        line = worker_command_line.decode("utf-8") if isinstance(worker_command_line, bytes) else worker_command_line
        line = line.replace(f"-m {_BEAM_WORKER}", f"-m {_FIXED_WORKER}")
        init_subprocess_worker(self, line.encode("utf-8"), *args, **kwargs)

    fn_runner.BundleManager._send_input_to_worker = send_input_in_chunks
    execution.GroupingBuffer.partition = partition_in_chunks
    data_plane.InMemoryDataChannel.input_elements = input_elements_released
    worker_handlers.SubprocessSdkWorkerHandler.__init__ = init_with_fixed_worker
    fix_worker_memory()
    _limit_malloc_arenas()
    setattr(fn_runner.BundleManager, _MEMORY_APPLIED, True)


_M_ARENA_MAX = -8  # glibc malloc.h


def fix_local_runner_state_cache(size_mb: "int | None") -> None:
    """The in-process worker's user-state cache honours ``--max_cache_memory_usage_mb`` when given.

    Beam's SDK harness (what Dataflow and portable runners start) sizes its cache of user state
    and side inputs from ``--max_cache_memory_usage_mb`` (default 0: no cache); the FnApiRunner's
    in-process worker ignores the option and always caches 100 MB.  The cache is an LRU weighted
    by size, so a long local streaming run grows by it until it is full (full text on: about
    2 MB a minute, the keys of the horizon and entries of expired keys until they are evicted).
    Given on the command line, the option now sets the in-process cache too (``0`` turns it
    off: memory then stays flat); not given, the local runner keeps its 100 MB, which batch
    jobs here run about 4% faster with.  Set on every run, so a later run in the same process
    gets its own value.  ``size_mb``: the option's value, ``None`` when it was not given."""
    from apache_beam.runners.portability.fn_api_runner import worker_handlers

    worker_handlers.STATE_CACHE_SIZE_MB = LOCAL_STATE_CACHE_MB if size_mb is None else int(size_mb)


LOCAL_STATE_CACHE_MB = 100  # the FnApiRunner's own size (worker_handlers.STATE_CACHE_SIZE_MB in Beam 2.77)


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """Point 5 of ``fix_local_runner_memory``: at most ``arenas`` glibc malloc arenas in this
    process (arenas already made stay; call it before threads start).  No-op without glibc."""
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        if hasattr(libc, "gnu_get_libc_version"):
            libc.mallopt(_M_ARENA_MAX, arenas)
    except (OSError, AttributeError):
        pass


_BEAM_WORKER = "apache_beam.runners.worker.sdk_worker_main"
_FIXED_WORKER = "pipeline.beam_fixes"  # this module, run as a worker: see the __main__ block at the end
_WORKER_APPLIED = "_newsbeam_worker_memory_fixed"


def fix_worker_memory() -> None:
    """Point 4 of ``fix_local_runner_memory``, in the process that runs the SDK worker."""
    from apache_beam.runners.worker import bundle_processor

    operation = bundle_processor.DataOutputOperation
    if getattr(operation, _WORKER_APPLIED, False):
        return
    finish = operation.finish

    def finish_and_drop_stream(self) -> None:
        finish(self)
        self.output_stream = None  # closed: nothing writes to it before the next set_output_stream

    operation.finish = finish_and_drop_stream
    setattr(operation, _WORKER_APPLIED, True)


def fix_local_runner_streaming() -> None:
    """Both fixes a streaming job needs on the local runner (``build_streaming_pipeline``)."""
    fix_local_runner_event_timers()
    fix_local_runner_flatten_flow()


if __name__ == "__main__":  # a local multi_processing worker (fix_local_runner_memory): Beam's, fixed
    import sys

    from apache_beam.runners.worker import sdk_worker_main

    _limit_malloc_arenas()
    fix_worker_memory()
    sdk_worker_main.main(sys.argv)
