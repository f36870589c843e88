"""Streaming dedup state: cleared by timers at the horizon, keyless probes bypass the keyed
stages, earlier runs enter by key, no data-derived side input in the streaming graph, and the
local runner's event-time timers wait for the clock."""

from __future__ import annotations

import json
import time

import apache_beam as beam
import duckdb
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to

from feedserver import body
from pipeline import metrics
from pipeline.dedup.minhash import MinHashConfig
from pipeline.dedup.streaming import DeduplicateStream, make_probe, stage_key
from pipeline.normalize.article import content_hash
from test_streaming import HOUR, TEXT_A, TEXT_B, _article, _stream_options


def _run(events, output=None, near=MinHashConfig(), horizon="1h"):
    """Run DeduplicateStream over TestStream ``events``; returns (kept titles, duplicate rows, counters)."""
    stream = TestStream()
    for ts, item in events:
        stream = (stream.advance_watermark_to(ts) if item == "watermark"
                  else stream.add_elements([beam.window.TimestampedValue(item, ts)]))
    stream = stream.advance_watermark_to_infinity()
    kept, dups = [], []
    p = TestPipeline(options=_stream_options())
    out = p | stream | DeduplicateStream(output, near=near, horizon=horizon)
    out["articles"] | "CollectKept" >> beam.ParDo(_Collect(kept, "title"))
    out["duplicates"] | "CollectDups" >> beam.ParDo(_Collect(dups, None))
    result = p.run()
    result.wait_until_finish()
    queried = result.metrics().query(MetricsFilter().with_namespace(metrics.NAMESPACE))["counters"]
    counters: dict[str, int] = {}
    for counter in queried:
        counters[counter.key.metric.name] = counters.get(counter.key.metric.name, 0) + counter.committed
    return sorted(kept), dups, counters


def _run_counted(events, near=MinHashConfig(), horizon="1h") -> dict[str, int]:
    """The same articles through DeduplicateStream on the FnApiRunner (bounded input: every
    timer fires when the input ends); returns the counters."""
    from apache_beam.runners.portability.fn_api_runner import fn_runner

    p = beam.Pipeline(runner=fn_runner.FnApiRunner())
    (p | beam.Create(events) | beam.ParDo(_StampFn()) | DeduplicateStream(None, near=near, horizon=horizon))
    result = p.run()
    result.wait_until_finish()
    counters: dict[str, int] = {}
    for counter in result.metrics().query(MetricsFilter().with_namespace(metrics.NAMESPACE))["counters"]:
        counters[counter.key.metric.name] = counters.get(counter.key.metric.name, 0) + counter.committed
    return counters


class _StampFn(beam.DoFn):
    def process(self, event):
        yield beam.window.TimestampedValue(event[1], event[0])


_SINK: dict[int, list] = {}  # test-only collector (the BundleBasedDirectRunner runs in this process)


class _Collect(beam.DoFn):
    def __init__(self, target: list, field):
        self._id = id(target)
        _SINK[self._id] = target
        self._field = field

    def process(self, row):
        if self._field:
            row = row[self._field]
        elif isinstance(row, dict):
            row = {k: v for k, v in row.items() if k != "_index_row"}
        _SINK[self._id].append(row)


def test_state_is_cleared_by_its_timer_when_the_horizon_passes_without_traffic():
    """A (text, guid, 16 bands) at t=0; the watermark passes t=0 + horizon with no traffic on
    its keys; then two *late* records stamped t=1800 arrive: an exact copy and a near copy.
    By their own timestamps they are inside A's horizon, so an on-access check alone would still
    find A's entries: they are kept only because the timers cleared them."""
    a = _article("A", TEXT_A, guid="g-a")
    events = [(0, a), (2 * HOUR, "watermark"),
              (1800, _article("A late copy", TEXT_A, guid="g-late")),
              (1800, _article("A late near", TEXT_A + " One sentence was added.", guid="g-near"))]
    kept, dups, _ = _run(events)
    assert kept == ["A", "A late copy", "A late near"] and dups == []


def test_every_entry_written_is_cleared_by_a_timer():
    """Counted on the FnApiRunner (the TestStream runner drops the counters of steps after a
    stateful step): each article writes its text key, its guid key and one member per band,
    and once the input ends every one of them has been cleared by its timer, none left over."""
    articles = [(0, _article("A", TEXT_A, guid="g-a")), (10, _article("B", TEXT_B, guid="g-b")),
                (20, _article("A again", TEXT_A, guid="g-c"))]  # a duplicate: it claims no key
    counters = _run_counted(articles)
    entries_per_article = 2 + MinHashConfig().band_key_count
    assert counters[metrics.DEDUP_STATE_WRITTEN] == 2 * entries_per_article
    assert counters[metrics.DEDUP_STATE_EXPIRED] == counters[metrics.DEDUP_STATE_WRITTEN]


def test_state_still_there_inside_the_horizon_is_used():
    """The counterpart: the same late copies while A's horizon is not over are duplicates."""
    a = _article("A", TEXT_A, guid="g-a")
    events = [(0, a), (HOUR / 2, "watermark"),
              (1800, _article("A late copy", TEXT_A, guid="g-late")),
              (1800, _article("A late near", TEXT_A + " One sentence was added.", guid="g-near"))]
    kept, dups, _ = _run(events)
    assert kept == ["A"]
    assert sorted((d["title"], d["kind"], d["matched_on"]) for d in dups) == [
        ("A late copy", "exact", "text"), ("A late near", "near", "minhash")]


def test_keyless_records_bypass_the_keyed_stages():
    short = ["Short note one about the weather.", "Another short note on trains.", "A third short note."]
    events = [(10 + i, _article(f"K{i}", text)) for i, text in enumerate(short)]
    events.append((20, _article("K0 again elsewhere", short[0])))  # no URL, no guid either
    kept, dups, _ = _run(events)
    assert kept == ["K0", "K1", "K2"]
    assert [(d["title"], d["matched_on"]) for d in dups] == [("K0 again elsewhere", "text")]
    counters = _run_counted(events)
    for stage in ("url", "guid"):
        assert counters.get(metrics.DEDUP_KEYED.format(stage=stage), 0) == 0
        assert counters[metrics.DEDUP_BYPASSED.format(stage=stage)] == len(events)
    assert counters[metrics.DEDUP_KEYED.format(stage="text")] == len(events)
    # too short for a signature: no band entry was written (only the three text keys)
    assert counters[metrics.DEDUP_STATE_WRITTEN] == 3


def test_stage_keys_of_a_probe():
    probe = make_probe(_article("A", "a few words", guid="g-1"), "j", None)
    assert stage_key(probe, "t").startswith("t:") and stage_key(probe, "g") == "g:g-1"
    assert stage_key(probe, "u") is None  # no URL: no key, never ""
    assert stage_key({**probe, "dup": ("exact", "text", None, 1.0)}, "g") is None  # decided: bypass


def test_history_enters_by_key(tmp_path):
    """An earlier (batch) run wrote one article; in a streaming job a copy of its text is an
    exact duplicate of it, a near copy a near duplicate, and the very same record read again
    is already in output."""
    from pipeline.job import run_job

    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    text = body("history", 120)
    (inputs / "wire.jsonl").write_text(json.dumps({"title": "Earlier", "text": text, "url": "https://wire.example/h1"}) + "\n")
    summary = run_job(["--input", str(inputs / "*.jsonl"), "--output", str(out), "--no-tagging"])
    assert summary.state == "DONE"
    row = duckdb.connect().execute(
        f"SELECT article_id, title, text, guid, url, canonical_url, published_at, input_uri, input_format, position, "
        f"content_hash, schema_version FROM read_parquet('{out}/articles/**/*.parquet')").fetchone()
    cols = ["article_id", "title", "text", "guid", "url", "canonical_url", "published_at", "input_uri", "input_format",
            "position", "content_hash", "schema_version"]
    earlier = dict(zip(cols, row))
    near_text = text + " One sentence was added."
    copy = {**_article("Copy", text, url="https://mirror.example/c"), "content_hash": earlier["content_hash"]}
    near = {**_article("Near copy", near_text, url="https://mirror.example/n"), "content_hash": content_hash(near_text)}
    events = [(100, earlier), (110, copy), (120, near), (130, _article("Unrelated", TEXT_B, guid="u-1"))]
    kept, dups, _ = _run(events, output=str(out))
    # the earlier record read again is neither kept nor a duplicate: "already in output"
    assert kept == ["Unrelated"]
    assert sorted((d["title"], d["kind"], d["matched_on"], d["duplicate_of"]) for d in dups) == [
        ("Copy", "exact", "text", earlier["article_id"]), ("Near copy", "near", "minhash", earlier["article_id"])]


# --- the streaming graph: no side input derived from data ----------------------------------------

# --- the local runner -------------------------------------------------------------------------


class _FirstSeenFn(beam.DoFn):
    from apache_beam.coders import PickleCoder
    from apache_beam.transforms.timeutil import TimeDomain
    from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec

    SEEN = ReadModifyWriteStateSpec("seen", PickleCoder())
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def process(self, element, ts=beam.DoFn.TimestampParam, seen=beam.DoFn.StateParam(SEEN),
                expiry=beam.DoFn.TimerParam(EXPIRY)):
        yield "state" if seen.read() is not None else "empty"
        if seen.read() is None:
            seen.write(float(ts))
            expiry.set(float(ts) + HOUR)

    from apache_beam.transforms.userstate import on_timer

    @on_timer(EXPIRY)
    def expire(self, seen=beam.DoFn.StateParam(SEEN)):
        seen.clear()
        yield "expired"


class _KeyFn(beam.DoFn):
    def process(self, element):
        yield "one key", element


def test_local_runner_event_timers_wait_for_the_clock():
    """On the FnApiRunner a timer one hour ahead fired right after the bundle that set it, so
    each tick found the state gone.  With the fix it is held: every later tick sees the state,
    and the timer fires once, when the input ends."""
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.transforms.periodicsequence import PeriodicImpulse

    from pipeline.beam_fixes import fix_local_runner_streaming

    fix_local_runner_streaming()
    options = PipelineOptions([])
    options.view_as(StandardOptions).streaming = True
    seen: list = []
    start = time.time()
    with beam.Pipeline(runner=fn_runner.FnApiRunner(), options=options) as p:
        (p | PeriodicImpulse(start_timestamp=start, stop_timestamp=start + 0.4, fire_interval=0.1)
         | beam.ParDo(_KeyFn()).with_output_types(beam.typehints.Tuple[str, float])
         | beam.ParDo(_FirstSeenFn())
         | beam.ParDo(_Collect(seen, None)))
    ticks = [s for s in seen if s != "expired"]
    assert len(ticks) >= 2
    assert ticks == ["empty"] + ["state"] * (len(ticks) - 1)
    assert seen.count("expired") == 1 and seen[-1] == "expired"
