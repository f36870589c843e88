"""Offline translation with the DataflowRunner (dry run): catches unpicklable DoFns and
constructs Dataflow cannot run, for the batch and the streaming job.  Needs the gcp extra
(`make test` installs it); skipped with a message otherwise."""

from __future__ import annotations

import pytest

pytest.importorskip("apache_beam.runners.dataflow.internal.apiclient", reason="the gcp extra is not installed")
pytest.importorskip("google.cloud.pubsub", reason="the gcp extra is not installed")

import apache_beam as beam  # noqa: E402

from pipeline.factory import build_pipeline  # noqa: E402
from pipeline.job import parse_options  # noqa: E402

DRY_RUN = ["--runner", "DataflowRunner", "--dry_run=True", "--no_auth", "--project=test-project",
           "--region=us-central1", "--temp_location=gs://newsbeam-test/tmp",
           "--staging_location=gs://newsbeam-test/staging", "--sdk_location=container",
           "--output", "gs://newsbeam-test/out"]


def _translate(args):
    options, nb = parse_options(args + DRY_RUN)
    pipeline = beam.Pipeline(options=options)
    build_pipeline(pipeline, nb, run_id="dry-run")
    result = pipeline.run()
    job = result.job
    names = {t.unique_name for t in job.proto_pipeline.components.transforms.values()}
    return job.proto.type.name, names


def test_batch_job_translates():
    job_type, names = _translate(["--input", "gs://newsbeam-test/in/*.jsonl", "--feeds", "gs://newsbeam-test/feeds.txt"])
    assert job_type == "JOB_TYPE_BATCH"
    assert {"ReadArticleFiles", "ReadFeeds", "NormalizeArticles", "DeduplicateArticles", "TagArticles",
            "WriteArticles", "AddNewArticleCounts"} <= names


def test_streaming_job_translates():
    job_type, names = _translate(["--streaming", "--input-subscription", "projects/test-project/subscriptions/news",
                                  "--feeds", "gs://newsbeam-test/feeds.txt"])
    assert job_type == "JOB_TYPE_STREAMING"
    assert {"PollTicks", "PollFeeds", "ReadFromPubSub", "ParseMessages", "NormalizeArticles", "DeduplicateStream",
            "TagArticles", "WriteStream"} <= names
    assert {"DeduplicateStream/SeenText", "DeduplicateStream/NearBands", "PollFeeds/PollFeed"} <= names


def test_a_dry_run_prints_the_plan_writes_nothing_and_exits_0(tmp_path, capsys):
    from conftest import SEEDS
    from pipeline.cli import main

    out = tmp_path / "out"
    args = [a if a != "gs://newsbeam-test/out" else str(out) for a in DRY_RUN]
    code = main(["run", "--input", str(SEEDS / "*"), *args])
    printed = capsys.readouterr().out
    assert code == 0
    assert "dry run on DataflowRunner: nothing was run, nothing was written" in printed
    assert "JOB_TYPE_BATCH" in printed and "DeduplicateArticles" in printed and "WriteArticles" in printed
    assert not out.exists()  # no recovery, no owner file, no manifest


def test_runner_option_errors_are_usage_errors(capsys):
    from pipeline.cli import main

    args = [a if a != "--project=test-project" else "--project=p" for a in DRY_RUN]
    assert main(["run", "--input", "seeds/*", *args]) == 2
    assert "Invalid Project ID" in capsys.readouterr().err


@pytest.mark.parametrize("runner, flags", [("submit_only_runner.SubmitOnlyRunner", ["--no-wait"]),
                                           ("submit_only_runner.LauncherRunner", [])])
def test_a_job_that_runs_elsewhere_is_reported_submitted_with_its_id_and_no_counts(runner, flags, tmp_path, capsys):
    """--no-wait, or a runner that returns before the job ends: 'submitted', the job id, no fake
    count, exit 0; and this process leaves the output alone (no manifest, nothing finished)."""
    import submit_only_runner
    from conftest import SEEDS
    from pipeline.cli import main

    out = tmp_path / "out"
    before = len(submit_only_runner.SUBMITTED)
    code = main(["run", "--input", str(SEEDS / "*"), "--output", str(out), "--runner", runner, *flags])
    printed = capsys.readouterr().out
    assert code == 0
    assert f"submitted to {runner}" in printed and "2026-12-01_10_00_00-1234567890" in printed
    assert "articles written" not in printed and "check:" not in printed and "records/s" not in printed
    assert not (out / "_manifests").exists()
    if flags:
        assert len(submit_only_runner.SUBMITTED) == before + 1  # the job was handed over, not run here


def test_a_job_that_fails_at_submission_fails_the_launch_and_leaves_the_output_alone(tmp_path):
    from conftest import SEEDS
    from pipeline.job import run_job

    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="FAILED right after submission"):
        run_job(["--input", str(SEEDS / "*"), "--output", str(out), "--runner",
                 "submit_only_runner.FailsAtOnceRunner", "--no-wait"])
    assert not (out / "_manifests").exists()
