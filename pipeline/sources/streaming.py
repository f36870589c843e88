"""Unbounded sources: feeds polled every ``--poll-interval`` seconds, and Pub/Sub messages.

Polling: ``PeriodicImpulse`` ticks; each tick lists the feeds (the list file is re-read, so edits
take effect) and sends ``(feed URL, tick time)`` to ``PollFeedFn``, a stateful DoFn keyed by feed
URL.  Its state holds the feed's validators (ETag, Last-Modified, sent as a conditional GET), its
failure streak and the time before which it is not fetched again: after ``n`` failures in a row a
feed waits ``min(poll interval x 2^n, --max-backoff)`` (doubling up to a cap, one hour by default)
instead of being hammered; one success resets it.  State lives in Beam (per key, on the worker
that owns the key), not in a local file.

Pub/Sub: messages carrying one article as JSON (the JSONL field names) become ``RawRecord``s of
format ``jsonl``; a message that is not a JSON object is a ``parse/malformed_json`` dead letter.
"""

from __future__ import annotations

import json
import typing
from datetime import datetime, timezone
from typing import Optional

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec

from pipeline import metrics, reasons
from pipeline.errors import Rejection
from pipeline.records import RawRecord
from pipeline.sources.feed_state import failure_streak, feed_history
from pipeline.sources.http import FetchConfig, make_session
from pipeline.sources.live import HEALTH, REJECTED, FeedMetrics, fetch_and_parse, parse_feed_list

DEFAULT_MAX_BACKOFF = 3600.0


def next_wait(failures: int, poll_interval: float, max_backoff: float) -> float:
    """Seconds a feed waits after ``failures`` failures in a row (0: fetched every tick)."""
    if failures <= 0:
        return 0.0
    return min(max_backoff, poll_interval * (2 ** failures))


@beam.typehints.with_output_types(typing.Tuple[str, float])  # a deterministic key coder for the state
class ListFeedsFn(beam.DoFn):
    """A tick -> (feed URL, tick time) for every feed in the list (re-read each tick)."""

    def __init__(self, feed_list: str):
        self._feed_list = feed_list

    def setup(self) -> None:
        self._list_errors = Metrics.counter(metrics.NAMESPACE, "feed_list_errors")

    def process(self, tick):
        try:
            with FileSystems.open(self._feed_list) as handle:
                urls = parse_feed_list(handle.read())
        except Exception:  # noqa: BLE001 - a list being edited: try again next tick
            self._list_errors.inc()
            return
        for url in urls:
            yield url, float(tick)


class LoadPollStateFn(beam.DoFn):
    """OUTPUT -> (feed URL, (failures in a row, last fetch time)) from the committed ``feeds``
    rows of earlier runs: a restarted job resumes back-off (not validators: ``feed_state.py``)."""

    def process(self, output: str):
        for url, history in feed_history(output).items():
            yield url, (failure_streak(history), history[-1]["fetched_at"].timestamp())


class PollFeedFn(beam.DoFn):
    """(feed URL, tick) -> entries, dead letters and a health row; validators and back-off in state."""

    VALIDATORS = ReadModifyWriteStateSpec("validators", PickleCoder())  # (etag, last_modified)
    FAILURES = ReadModifyWriteStateSpec("failures", PickleCoder())  # failures in a row
    NOT_BEFORE = ReadModifyWriteStateSpec("not_before", PickleCoder())  # tick time before which we wait
    SEEDED = ReadModifyWriteStateSpec("seeded", PickleCoder())  # back-off taken over from the feeds dataset

    def __init__(self, config: FetchConfig, poll_interval: float, max_backoff: float = DEFAULT_MAX_BACKOFF):
        self._config = config
        self._poll = poll_interval
        self._max_backoff = max_backoff

    def setup(self) -> None:
        self._session = make_session(self._config)
        self._metrics = FeedMetrics()
        self._backed_off = Metrics.counter(metrics.NAMESPACE, metrics.FEEDS_BACKED_OFF)

    def process(self, element, seeds, validators=beam.DoFn.StateParam(VALIDATORS),
                failures=beam.DoFn.StateParam(FAILURES), not_before=beam.DoFn.StateParam(NOT_BEFORE),
                seeded=beam.DoFn.StateParam(SEEDED)):
        url, tick = element
        if not seeded.read():
            seeded.write(True)
            seed = seeds.get(url)
            if seed is not None:
                streak, last_fetch = seed
                if streak:
                    failures.write(streak)
                    not_before.write(last_fetch + next_wait(streak, self._poll, self._max_backoff) - 0.001)
        wait_until = not_before.read()
        if wait_until is not None and tick < wait_until:
            self._backed_off.inc()
            return
        items, health = fetch_and_parse(self._session, url, self._config, validators.read(),
                                        now=datetime.fromtimestamp(tick, tz=timezone.utc))
        if health["outcome"] == "error":
            streak = (failures.read() or 0) + 1
            failures.write(streak)
            not_before.write(tick + next_wait(streak, self._poll, self._max_backoff) - 0.001)
        else:
            failures.clear()
            not_before.clear()
            if health["etag"] or health["last_modified"]:
                validators.write((health["etag"], health["last_modified"]))
        yield from self._metrics.outputs(items, health)

    def teardown(self) -> None:
        session = getattr(self, "_session", None)
        if session is not None:
            session.close()


class PollFeeds(beam.PTransform):
    """Ticks -> ``{"records", "rejected", "health"}`` (the feed list re-read every tick)."""

    def __init__(self, feed_list: str, config: FetchConfig, poll_interval: float,
                 max_backoff: float = DEFAULT_MAX_BACKOFF, output: Optional[str] = None):
        super().__init__()
        self._output = output
        self._feed_list = feed_list
        self._config = config
        self._poll = poll_interval
        self._max_backoff = max_backoff

    def expand(self, ticks):
        roots = [self._output] if self._output else []
        seeds = (
            ticks.pipeline
            | "PollStateRoot" >> beam.Create(roots)
            | "LoadPollState" >> beam.ParDo(LoadPollStateFn())
        )
        polled = (
            ticks
            | "ListFeeds" >> beam.ParDo(ListFeedsFn(self._feed_list))
            | "PollFeed" >> beam.ParDo(PollFeedFn(self._config, self._poll, self._max_backoff), beam.pvalue.AsDict(seeds))
            .with_outputs(REJECTED, HEALTH, main="records")
        )
        return {"records": polled.records, "rejected": polled[REJECTED], "health": polled[HEALTH]}


class ParseMessageFn(beam.DoFn):
    """A Pub/Sub message (bytes, or a PubsubMessage) -> one RawRecord, or a dead letter."""

    def __init__(self, source: str):
        self._source = source

    def setup(self) -> None:
        self._read = Metrics.counter(metrics.NAMESPACE, metrics.RECORDS_READ)

    def process(self, message):
        data = getattr(message, "data", message)
        message_id = getattr(message, "message_id", None)
        self._read.inc()
        try:
            fields = json.loads(bytes(data).decode("utf-8"))
            if not isinstance(fields, dict):
                raise ValueError(f"a JSON {type(fields).__name__}, not an object")
        except (ValueError, UnicodeDecodeError) as exc:
            yield beam.pvalue.TaggedOutput(REJECTED, Rejection(
                self._source, *reasons.PARSE_MALFORMED_JSON, f"{type(exc).__name__}: {exc}",
                payload=bytes(data), input_format="jsonl"))
            return
        uri = f"{self._source}#{message_id}" if message_id else self._source
        yield RawRecord(input_uri=uri, input_format="jsonl", payload=fields, raw=bytes(data))


class ParseMessages(beam.PTransform):
    """Message bytes -> ``{"records", "rejected"}`` (tested with TestStream; fed by ReadFromPubSub)."""

    def __init__(self, source: str):
        super().__init__()
        self._source = source

    def expand(self, messages):
        parsed = messages | "ParseMessage" >> beam.ParDo(ParseMessageFn(self._source)).with_outputs(REJECTED, main="records")
        return {"records": parsed.records, "rejected": parsed[REJECTED]}


def read_pubsub(pipeline, topic: Optional[str], subscription: Optional[str]):
    """Messages from Pub/Sub (needs the ``gcp`` extra: ``pip install -e '.[gcp]'``)."""
    from apache_beam.io.gcp.pubsub import ReadFromPubSub

    return pipeline | "ReadFromPubSub" >> ReadFromPubSub(topic=topic, subscription=subscription, with_attributes=False)
