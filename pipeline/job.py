"""Run the job: options -> pipeline -> result -> summary and run manifest."""

from __future__ import annotations

import json
import logging
import platform
import signal
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from typing import Optional, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions, TestOptions

from pipeline import metrics
from pipeline.beam_fixes import fix_local_runner_memory, fix_local_runner_metrics, fix_local_runner_state_cache
from pipeline.factory import build_pipeline
from pipeline.options import NewsbeamOptions
from pipeline.sinks.commit import recover, write_owner
from schemas.models import SCHEMA_VERSION


class UsageError(ValueError):
    """Bad command-line options (reported without a traceback)."""


@dataclass
class RunSummary:
    run_id: str
    output: str
    runner: str
    state: str
    started_at: str
    wall_seconds: float
    counters: dict[str, int] = field(default_factory=dict)
    manifest: Optional[str] = None
    recovery: dict = field(default_factory=dict)  # what this run did to earlier interrupted runs (commit.Recovery)
    plan: dict = field(default_factory=dict)  # a dry run: job type and top-level steps (nothing was run or written)
    job_id: Optional[str] = None  # a submitted job: the runner's id of it

    @property
    def records_read(self) -> int:
        return self.counters.get(metrics.RECORDS_READ, 0)

    def written(self, dataset: str) -> int:
        return self.counters.get(metrics.WRITTEN.format(dataset=dataset), 0)

    def by_prefix(self, prefix: str) -> dict[str, int]:
        return {k[len(prefix):]: v for k, v in sorted(self.counters.items()) if k.startswith(prefix)}

    @property
    def already_written(self) -> int:
        return self.counters.get(metrics.ALREADY_WRITTEN, 0)

    @property
    def balanced(self) -> bool:
        return self.records_read == (
            self.written("articles") + self.written("duplicates") + self.written("rejected") + self.already_written
        )

    def render(self) -> str:
        if self.state == "DRY_RUN":
            steps = self.plan.get("steps", [])
            return "\n".join([
                f"newsbeam run {self.run_id}: dry run on {self.runner}: nothing was run, nothing was written",
                f"  job type           {self.plan.get('job_type', 'unknown')}",
                f"  output             {self.output}",
                f"  steps ({len(steps)})" + "".join(f"\n    {name}" for name in steps),
                "  options            " + " ".join(f"--{k}={v}" for k, v in sorted(self.plan.get("options", {}).items())),
            ])
        if self.state == "SUBMITTED":
            return "\n".join([
                f"newsbeam run {self.run_id}: submitted to {self.runner}; the job runs there, this process has ended its part",
                f"  job id             {self.job_id or '(the runner gave none)'}",
                f"  runner state       {self.plan.get('runner_state', 'unknown')}",
                f"  output             {self.output}",
                "  counts             none yet: the job's counters are in the runner's monitoring "
                "(for Dataflow: gcloud dataflow jobs show JOB_ID, or the console); its rows count once it commits",
            ])
        a, d, r = self.written("articles"), self.written("duplicates"), self.written("rejected")
        rate = self.records_read / self.wall_seconds if self.wall_seconds else 0.0
        lines = [
            f"newsbeam run {self.run_id}: {self.state} in {self.wall_seconds:.1f} s on {self.runner}",
            f"  records read       {self.records_read:>9,}   ({rate:,.0f} records/s)",
            f"  articles written   {a:>9,}",
            f"  duplicates         {d:>9,}" + "".join(f"   {k}: {v:,}" for k, v in self.by_prefix("duplicates/").items()),
            f"  already in output  {self.already_written:>9,}   (read before by an earlier run: no new row)",
            f"  rejected           {r:>9,}",
        ]
        if self.recovery:
            from pipeline.sinks.commit import Recovery

            lines[1:1] = Recovery(**self.recovery).render()
        for reason, count in self.by_prefix("rejected/").items():
            lines.append(f"    {reason:<28} {count:>6,}")
        fetched = self.counters.get(metrics.FEEDS_FETCHED, 0)
        if fetched:
            unchanged = self.counters.get(metrics.FEEDS_NOT_MODIFIED, 0)
            failed = self.counters.get(metrics.FEEDS_FAILED, 0)
            lines.append(
                f"  feeds fetched      {fetched:>9,}   ok: {fetched - unchanged - failed:,}   not modified (304): {unchanged:,}"
                f"   failed: {failed:,}   (one row each in feeds/)"
            )
            backed_off = self.counters.get(metrics.FEEDS_BACKED_OFF, 0)
            if backed_off:
                lines.append(f"  polls skipped      {backed_off:>9,}   (failing feeds backing off)")
        pages = self.counters.get(metrics.PAGES_FETCHED, 0)
        skipped = self.counters.get(metrics.PAGES_SKIPPED, 0) + self.counters.get(metrics.PAGES_CAPPED, 0)
        if pages or skipped:
            by_status = "   ".join(f"{k}: {v:,}" for k, v in self.by_prefix("pages/").items())
            lines.append(
                f"  pages (full text)  {pages:>9,}   used: {self.counters.get(metrics.PAGES_USED, 0):,}"
                f"   not fetched (already in output / duplicate / over --max-pages): {skipped:,}   (one row each in pages/)"
            )
            if by_status:
                lines.append(f"    {by_status}")
        if self.state == "INTERRUPTED":
            lines.append("  stopped by Ctrl-C: rows above are those in the files published so far (all complete)")
            lines.append(f"  output: {self.output}")
            return "\n".join(lines)
        mark = "ok" if self.balanced else "MISMATCH"
        lines.append(
            f"  check: {self.records_read:,} read = {a:,} articles + {d:,} duplicates + {r:,} rejected"
            f" + {self.already_written:,} already in output  [{mark}]"
        )
        lines.append(f"  output: {self.output}")
        if self.manifest:
            lines.append(f"  manifest: {self.manifest}")
        return "\n".join(lines)


def parse_options(argv: Sequence[str]) -> tuple[PipelineOptions, NewsbeamOptions]:
    options = PipelineOptions(list(argv))
    nb = options.view_as(NewsbeamOptions)
    if not nb.output:
        raise UsageError("--output is required")
    streaming = options.view_as(StandardOptions).streaming
    if streaming:
        if nb.input:
            raise UsageError("--streaming reads --feeds and/or --input-topic/--input-subscription, not --input files")
        if not (nb.feeds or nb.input_topic or nb.input_subscription):
            raise UsageError("--streaming needs --feeds and/or --input-topic/--input-subscription")
        if nb.poll_interval <= 0:
            raise UsageError("--poll-interval must be positive")
        try:
            from pipeline.dedup.streaming import parse_horizon

            parse_horizon(nb.dedup_horizon)
        except ValueError as exc:
            raise UsageError(f"--dedup-horizon: {exc}") from exc
    elif not nb.input and not nb.feeds:
        raise UsageError("give at least one --input glob or a --feeds list")
    if nb.rows_per_file < 1:
        raise UsageError("--rows-per-file must be positive")
    if not nb.no_tagging:
        _check_tagging_options(nb)
    return options, nb


def _check_tagging_options(nb: NewsbeamOptions) -> None:
    """Fail before the pipeline starts, not in a worker's setup()."""
    if nb.taxonomy:
        from pipeline.tagging.topics import Taxonomy

        try:
            Taxonomy(nb.taxonomy)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UsageError(f"--taxonomy {nb.taxonomy}: not a usable taxonomy file ({exc})") from exc
    if nb.ner_model:
        import importlib.util
        import os

        if importlib.util.find_spec("spacy") is None:
            raise UsageError("--ner-model needs spaCy: pip install -e '.[ner]'")
        import spacy.util

        if not (spacy.util.is_package(nb.ner_model) or os.path.isdir(nb.ner_model)):
            raise UsageError(
                f"--ner-model {nb.ner_model}: no such spaCy pipeline installed "
                f"(python -m spacy download {nb.ner_model})"
            )


def _counters(result) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        queried = result.metrics().query(MetricsFilter().with_namespace(metrics.NAMESPACE))
    except Exception:  # noqa: BLE001 - some runners do not report metrics
        return out
    for counter in queried["counters"]:
        value = counter.committed if counter.committed is not None else counter.attempted
        name = counter.key.metric.name
        out[name] = out.get(name, 0) + int(value or 0)
    return out


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "schema_version": SCHEMA_VERSION}
    for dist in ("newsbeam", "apache-beam", "pyarrow", "pydantic", "duckdb", "feedparser", "trafilatura"):
        try:
            versions[dist] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            pass
    return versions


def write_manifest(summary: RunSummary, options: PipelineOptions, finished_at: str) -> str:
    """A small JSON record of the run beside the data: counts, options, versions, timings."""
    folder = FileSystems.join(summary.output, "_manifests")
    try:
        FileSystems.mkdirs(folder)
    except IOError:
        pass
    path = FileSystems.join(folder, f"run-{summary.run_id}.json")
    document = {
        **{k: v for k, v in asdict(summary).items() if k != "manifest"},
        "finished_at": finished_at,
        "options": {k: v for k, v in options.get_all_options(drop_default=True).items() if v is not None},
        "versions": _versions(),
    }
    with FileSystems.create(path) as handle:
        handle.write(json.dumps(document, indent=2, sort_keys=True, default=str).encode("utf-8"))
    return path


def _catch_sigint(flag: threading.Event):
    """Note Ctrl-C before Beam sees it (its runner may re-raise it as another exception)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def on_sigint(signum, frame):
        flag.set()
        raise KeyboardInterrupt

    return signal.signal(signal.SIGINT, on_sigint)


def _finish_streaming(output: str, run_id: str) -> None:
    """A stopped streaming run: a bundle it had committed but not wholly renamed is rolled forward
    (it counts), then its staging folder goes (what is left there never counted)."""
    from pipeline.sinks.commit import recover, remove_staging

    recover(output, current_run=run_id)
    remove_staging(output, run_id)


def _counters_from_files(output: str, since: datetime) -> dict[str, int]:
    """Rows per dataset in the files published since ``since`` (when metrics are gone)."""
    from pathlib import Path

    import pyarrow.parquet as pq

    counts: dict[str, int] = {}
    if "://" in output:
        return counts
    for dataset in ("articles", "duplicates", "rejected", "feeds"):
        for path in Path(output, dataset).glob("**/*.parquet"):
            if path.stat().st_mtime >= since.timestamp():
                key = metrics.WRITTEN.format(dataset=dataset)
                counts[key] = counts.get(key, 0) + pq.ParquetFile(path).metadata.num_rows
    return counts


def _new_pipeline(options: PipelineOptions) -> beam.Pipeline:
    try:
        return beam.Pipeline(options=options)
    except ValueError as exc:  # the runner's own option checks (e.g. Dataflow's project id)
        raise UsageError(str(exc).strip()) from exc


def _dry_run(options: PipelineOptions, nb: NewsbeamOptions, run_id: str, runner: str, started: datetime,
             clock: float) -> RunSummary:
    """Translate the job, print what would run, touch nothing (no recovery, no owner, no manifest)."""
    pipeline = _new_pipeline(options)
    build_pipeline(pipeline, nb, run_id=run_id)
    result = pipeline.run()  # the DataflowRunner builds the job request and returns without sending it
    job = getattr(result, "job", None)
    job_type = job.proto.type.name if job is not None else ("streaming" if options.view_as(StandardOptions).streaming else "batch")
    proto = pipeline.to_runner_api()
    roots = [proto.components.transforms[t] for t in proto.root_transform_ids]
    steps = [proto.components.transforms[s].unique_name for root in roots for s in root.subtransforms] or [
        r.unique_name for r in roots]
    shown = {k: v for k, v in options.get_all_options(drop_default=True).items() if v is not None and k != "dry_run"}
    return RunSummary(run_id=run_id, output=nb.output, runner=runner, state="DRY_RUN", started_at=started.isoformat(),
                      wall_seconds=round(time.perf_counter() - clock, 3),
                      plan={"job_type": job_type, "steps": steps, "options": shown})


LOCAL_RUNNERS = ("DirectRunner", "BundleBasedDirectRunner", "SwitchingDirectRunner", "FnApiRunner", "PrismRunner")
TERMINAL_STATES = ("DONE", "FAILED", "CANCELLED", "DRAINED", "UPDATED", "STOPPED")


def _is_local(runner: str) -> bool:
    return runner.rsplit(".", 1)[-1] in LOCAL_RUNNERS


def job_id_of(result) -> Optional[str]:
    """The runner's id of a submitted job (Dataflow: ``job_id()``; portable runners: ``_job_id``)."""
    for name in ("job_id", "_job_id"):
        value = getattr(result, name, None)
        if callable(value):
            try:
                value = value()
            except Exception as exc:  # noqa: BLE001 - the job was accepted: the summary says it has no id, and why is logged
                logging.getLogger(__name__).warning("the runner gave no job id: %s", exc)
                value = None
        if value:
            return str(value)
    return None


def _state_name(state) -> str:
    return str(state).rsplit(".", 1)[-1]


def _start_progress(options: PipelineOptions, nb: NewsbeamOptions, runner: str):
    """Live progress for a local run (``progress.py``): a tally folder the workers write to,
    named to them by an environment variable, and the thread that prints it.  ``None`` under
    ``--quiet`` or on a remote runner (it has its own monitoring)."""
    import os
    import tempfile
    from pathlib import Path

    from pipeline import progress

    if nb.quiet or runner.split(".")[-1] not in LOCAL_RUNNERS:
        return None
    folder = Path(tempfile.mkdtemp(prefix="newsbeam-progress-"))
    os.environ[progress.ENV] = str(folder)
    total = 0
    for pattern in nb.input or []:
        try:
            total += sum(m.size_in_bytes for r in FileSystems.match([pattern]) for m in r.metadata_list)
        except Exception:  # noqa: BLE001 - the job itself reports a bad pattern as a rejected row
            pass
    return progress.ProgressReporter(folder, total or None).start(), folder


def _stop_progress(started) -> None:
    import os
    import shutil

    from pipeline import progress

    if started is None:
        return
    reporter, folder = started
    reporter.stop()
    os.environ.pop(progress.ENV, None)
    shutil.rmtree(folder, ignore_errors=True)


def _state_cache_mb(argv: Sequence[str], options: PipelineOptions) -> Optional[int]:
    """``--max_cache_memory_usage_mb`` when the command line gives it, else ``None``."""
    from apache_beam.options.pipeline_options import WorkerOptions

    if any(a.split("=", 1)[0] == "--max_cache_memory_usage_mb" for a in argv):
        return options.view_as(WorkerOptions).max_cache_memory_usage_mb
    return None


def run_job(argv: Sequence[str]) -> RunSummary:
    """Build and run the pipeline; blocks until it finishes (batch)."""
    options, nb = parse_options(argv)
    fix_local_runner_metrics()
    fix_local_runner_memory()  # a stage's input in chunks, not copied whole (beam_fixes.py)
    fix_local_runner_state_cache(_state_cache_mb(argv, options))  # --max_cache_memory_usage_mb, as on managed workers
    started = datetime.now(timezone.utc)
    run_id = started.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
    clock = time.perf_counter()
    counters: dict[str, int] = {}
    interrupted = threading.Event()
    runner = options.view_as(StandardOptions).runner or "DirectRunner"
    if options.view_as(TestOptions).dry_run:
        return _dry_run(options, nb, run_id, runner, started, clock)
    # Before anything reads the output: finish or clean what interrupted runs left.
    recovery = recover(nb.output, current_run=run_id)
    write_owner(nb.output, run_id, runner)
    live = _start_progress(options, nb, runner)
    previous = _catch_sigint(interrupted)
    submitted = False
    pipeline = _new_pipeline(options)
    try:
        build_pipeline(pipeline, nb, run_id=run_id)
        result = pipeline.run()
        launched_only = nb.no_wait and not _is_local(runner)
        if launched_only:
            state = _state_name(result.state)
            if state in ("FAILED", "CANCELLED"):
                raise RuntimeError(f"{runner} reports job {job_id_of(result) or '(no id)'} {state} right after "
                                   "submission; nothing was counted and the output was left alone")
        else:
            state = _state_name(result.wait_until_finish() or result.state)
        if launched_only or state not in TERMINAL_STATES:
            # --no-wait, or a runner that returns before the job ends (a template launcher): the job
            # runs elsewhere, nothing is counted here and this process must not touch its output.
            submitted = True
            return RunSummary(run_id=run_id, output=nb.output, runner=runner, state="SUBMITTED",
                              started_at=started.isoformat(), wall_seconds=round(time.perf_counter() - clock, 3),
                              recovery={} if recovery.empty else recovery.as_dict(), job_id=job_id_of(result),
                              plan={"runner_state": state})
        counters = _counters(result)
    except BaseException as exc:
        # Ctrl-C (however the runner re-raised it): every published file is complete (files are
        # renamed into place whole); what a bundle had in flight is dropped with its temporary files.
        if not (isinstance(exc, KeyboardInterrupt) or interrupted.is_set()):
            raise
        state = "INTERRUPTED"
        counters = _counters_from_files(nb.output, started)
    finally:
        _stop_progress(live)
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        if options.view_as(StandardOptions).streaming and not submitted:
            _finish_streaming(nb.output, run_id)
    summary = RunSummary(
        run_id=run_id,
        output=nb.output,
        runner=runner,
        state=state,
        started_at=started.isoformat(),
        wall_seconds=round(time.perf_counter() - clock, 3),
        counters=counters,
        recovery={} if recovery.empty else recovery.as_dict(),
    )
    summary.manifest = write_manifest(summary, options, datetime.now(timezone.utc).isoformat())
    return summary
