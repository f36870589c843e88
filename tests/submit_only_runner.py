"""A runner that accepts a job and returns at once, as Dataflow does with --no-wait or a template
launcher: the job is "running elsewhere".  It records what it was asked and never runs anything."""

from __future__ import annotations

from apache_beam.runners.runner import PipelineResult, PipelineRunner, PipelineState

SUBMITTED: list = []


class SubmittedResult(PipelineResult):
    def __init__(self) -> None:
        super().__init__(PipelineState.RUNNING)

    def job_id(self) -> str:
        return "2026-12-01_10_00_00-1234567890"

    def wait_until_finish(self, duration=None):
        raise AssertionError("newsbeam waited for a job it was told not to wait for")


class SubmitOnlyRunner(PipelineRunner):
    def run_pipeline(self, pipeline, options):
        SUBMITTED.append(len(pipeline.to_runner_api().components.transforms))
        return SubmittedResult()


class LauncherResult(SubmittedResult):
    """A launcher that returns before the job ends even when waited for (a template launcher)."""

    def wait_until_finish(self, duration=None):
        return PipelineState.PENDING

    @property
    def state(self):
        return PipelineState.PENDING


class LauncherRunner(PipelineRunner):
    def run_pipeline(self, pipeline, options):
        return LauncherResult()


class FailedResult(SubmittedResult):
    @property
    def state(self):
        return PipelineState.FAILED


class FailsAtOnceRunner(PipelineRunner):
    """The runner rejects the job at submission (e.g. a bad worker image)."""

    def run_pipeline(self, pipeline, options):
        return FailedResult()
