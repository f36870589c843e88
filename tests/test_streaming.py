"""Streaming: keyed dedup state with a horizon (TestStream), Pub/Sub messages (TestStream), and a
bounded --streaming run against a changing loopback feed."""

from __future__ import annotations

import json
import threading
import time

import apache_beam as beam
import duckdb
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to

from feedserver import FeedServer, body
from pipeline.dedup.streaming import DeduplicateStream, parse_horizon
from pipeline.factory import build_streaming_pipeline
from pipeline.job import parse_options, run_job
from pipeline.sources.streaming import next_wait

HOUR = 3600.0


def _article(name: str, text: str, guid: str | None = None, url: str | None = None) -> dict:
    import hashlib

    chash = hashlib.blake2b(" ".join(text.lower().split()).encode(), digest_size=8).hexdigest()
    return {
        "schema_version": "2", "article_id": hashlib.blake2b(f"{guid or url or name}|{chash}".encode(), digest_size=8).hexdigest(),
        "title": name, "text": text, "guid": guid, "url": url, "canonical_url": url, "published_at": None,
        "input_uri": f"http://feeds.example/{name}", "input_format": "feed", "position": 1, "content_hash": chash,
    }


def _stream_options() -> PipelineOptions:
    options = PipelineOptions([])
    options.view_as(StandardOptions).streaming = True
    return options


def check(events, kept, duplicates, horizon="1h"):
    stream = TestStream()
    for ts, item in events:
        if item == "watermark":
            stream = stream.advance_watermark_to(ts)
        else:
            stream = stream.add_elements([beam.window.TimestampedValue(item, ts)])
    stream = stream.advance_watermark_to_infinity()
    with TestPipeline(options=_stream_options()) as p:
        out = p | stream | DeduplicateStream(None, horizon=horizon)
        assert_that(out["articles"] | "KeptNames" >> beam.Map(lambda a: a["title"]), equal_to(kept), label="kept")
        assert_that(out["duplicates"] | "DupNames" >> beam.Map(lambda d: (d["title"], d["kind"], d["matched_on"])),
                    equal_to(duplicates), label="duplicates")


TEXT_A = body("streamA", 120)
TEXT_B = body("streamB", 120)


def test_dedup_across_polls_same_entry_again_writes_nothing_and_copies_are_duplicates():
    a = _article("A", TEXT_A, guid="g-a")
    events = [
        (10, a), (20, "watermark"),
        (70, a),  # the same entry, polled again
        (80, _article("A copy elsewhere", TEXT_A, guid="other-feed-1")),  # same text, other feed
        (90, _article("A moved", body("streamA2", 120), guid="g-a")),  # same guid, new text
        (100, _article("A near", TEXT_A + " One sentence was added.", guid="near-1")),
        (110, _article("B", TEXT_B, guid="g-b")),
    ]
    check(events, kept=["A", "B"], duplicates=[
        ("A copy elsewhere", "exact", "text"), ("A moved", "exact", "guid"), ("A near", "near", "minhash")])


def test_state_expires_at_the_horizon():
    a = _article("A", TEXT_A, guid="g-a")
    later = _article("A later", TEXT_A, guid="g-a2")
    events = [(0, a), (1800, later), (1801, "watermark"),
              (1800 + HOUR + 1, _article("A much later", TEXT_A, guid="g-a3"))]
    # within the horizon: a duplicate; more than one horizon after the owner's first sighting: new again
    check(events, kept=["A", "A much later"], duplicates=[("A later", "exact", "text")])


def test_late_data_is_deduplicated_not_dropped():
    a = _article("A", TEXT_A, guid="g-a")
    events = [(500, a), (1000, "watermark"),
              (100, _article("A late copy", TEXT_A, guid="late-1")),  # behind the watermark
              (200, _article("B late", TEXT_B, guid="late-2"))]
    check(events, kept=["A", "B late"], duplicates=[("A late copy", "exact", "text")])


def test_articles_in_different_windows_share_the_dedup_state():
    """Dedup spans windows: fixed 60 s windows applied upstream do not reset the state."""
    a = _article("A", TEXT_A, guid="g-a")
    stream = (TestStream()
              .add_elements([beam.window.TimestampedValue(a, 10)])
              .advance_watermark_to(200)
              .add_elements([beam.window.TimestampedValue(_article("A copy", TEXT_A, guid="x"), 250)])
              .advance_watermark_to_infinity())
    with TestPipeline(options=_stream_options()) as p:
        windowed = p | stream | beam.WindowInto(beam.window.FixedWindows(60))
        out = windowed | DeduplicateStream(None, horizon="1h")
        assert_that(out["duplicates"] | beam.Map(lambda d: d["title"]), equal_to(["A copy"]))


def test_horizon_and_backoff_rules():
    assert parse_horizon("7d") == 7 * 86400 and parse_horizon("90m") == 5400 and parse_horizon("30") == 30
    with pytest.raises(ValueError):
        parse_horizon("soon")
    assert [next_wait(n, 5, 60) for n in range(5)] == [0, 10, 20, 40, 60]


def test_pubsub_messages_through_the_whole_streaming_path(tmp_path):
    messages = [
        json.dumps({"title": "Kabul airlift", "text": body("msg1", 80), "url": "https://wire.example/1",
                    "published": "2021-08-30T10:00:00Z"}).encode(),
        json.dumps({"title": "Kabul airlift (copy)", "text": body("msg1", 80), "url": "https://mirror.example/1",
                    "published": "2021-08-30T11:00:00Z"}).encode(),
        b"not json at all",
        json.dumps({"title": "Second story", "text": body("msg2", 80), "url": "https://wire.example/2"}).encode(),
    ]
    out = tmp_path / "out"
    options, nb = parse_options(["--streaming", "--input-topic", "projects/p/topics/news", "--output", str(out)])
    stream = TestStream()
    for i, message in enumerate(messages):
        stream = stream.add_elements([beam.window.TimestampedValue(message, 100 + i)])
    stream = stream.advance_watermark_to_infinity()
    with TestPipeline(options=options) as p:
        build_streaming_pipeline(p, nb, run_id="test", messages=p | stream)
    con = duckdb.connect()
    articles = con.execute(f"SELECT title, input_uri FROM read_parquet('{out}/articles/**/*.parquet') ORDER BY 1").fetchall()
    assert [a[0] for a in articles] == ["Kabul airlift", "Second story"]
    assert articles[0][1] == "projects/p/topics/news"
    dup = con.execute(f"SELECT title, kind FROM read_parquet('{out}/duplicates/**/*.parquet')").fetchall()
    assert dup == [("Kabul airlift (copy)", "exact")]
    rejected = con.execute(f"SELECT stage, reason, decode(payload) FROM read_parquet('{out}/rejected/*.parquet')").fetchall()
    assert rejected == [("parse", "malformed_json", "not json at all")]


def test_bounded_streaming_run_against_a_changing_feed(tmp_path):
    out = tmp_path / "out"
    feeds = tmp_path / "feeds.txt"
    seen_files: list[dict] = []  # the feed server's hit counts when the first article file appeared
    with FeedServer() as server:
        feeds.write_text(f"{server.url('/live')}\n{server.url('/recovering')}\n")
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                if list((out / "articles").glob("**/*.parquet")):
                    seen_files.append(dict(server.hits))
                    return
                time.sleep(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        summary = run_job(["--streaming", "--feeds", str(feeds), "--poll-interval", "1", "--duration", "6",
                           "--output", str(out), "--fetch-retries", "0", "--max-backoff", "2", "--no-tagging"])
        done.set()
        hits = dict(server.hits)
    assert summary.state == "DONE" and summary.balanced
    # files appeared while the job was running: the feed was polled again after the first one
    assert seen_files and seen_files[0].get("/live", 0) < hits["/live"]
    con = duckdb.connect()
    titles = sorted(r[0] for r in con.execute(f"SELECT title FROM read_parquet('{out}/articles/**/*.parquet')").fetchall())
    assert titles == ["Story A", "Story B", "Story C", "Story R"]  # each new item exactly once
    dups = con.execute(f"SELECT title, kind FROM read_parquet('{out}/duplicates/**/*.parquet')").fetchall()
    assert dups == [("Story D", "near")]
    # the failing feed backed off: fewer requests than ticks, and it recovered
    assert hits["/live"] >= 5 and 3 <= hits["/recovering"] < hits["/live"]
    health = con.execute(f"SELECT outcome, count(*) FROM read_parquet('{out}/feeds/**/*.parquet') "
                         f"WHERE feed_url LIKE '%/recovering' GROUP BY 1").fetchall()
    assert dict(health)["error"] == 2 and dict(health)["ok"] >= 1
    assert not (out / "_temporary").exists()


def test_ctrl_c_keeps_published_files_and_prints_a_summary(tmp_path):
    import signal
    import subprocess
    import sys

    out = tmp_path / "out"
    feeds = tmp_path / "feeds.txt"
    log_path = tmp_path / "stderr.txt"
    with FeedServer() as server, log_path.open("w") as log:
        feeds.write_text(f"{server.url('/rss')}\n{server.url('/atom')}\n")
        child = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "run", "--streaming", "--feeds", str(feeds), "--poll-interval", "1",
             "--output", str(out), "--no-tagging"],
            stdout=subprocess.PIPE, stderr=log, text=True)
        deadline = time.monotonic() + 60
        while not list((out / "articles").glob("**/*.parquet")) and time.monotonic() < deadline:
            assert child.poll() is None, f"the job ended on its own: {log_path.read_text()[-3000:]}"
            time.sleep(0.1)
        child.send_signal(signal.SIGINT)
        printed, _ = child.communicate(timeout=60)
    assert child.returncode == 130
    assert "INTERRUPTED" in printed and "articles written" in printed
    assert not (out / "_temporary").exists() and not list(out.rglob("*.inprogress"))
    count = duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{out}/articles/**/*.parquet')").fetchone()[0]
    import re

    reported = int(re.search(r"articles written\s+(\d+)", printed).group(1))
    assert count == reported >= 1  # every published file is complete, readable and counted
