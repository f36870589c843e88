"""Live RSS/Atom/RDF feeds: the feed list -> fetched entries, dead letters and feed-health rows.

``ReadFeeds`` reads the feed list (OPML, or text with one URL per line and ``#`` comments) at
run time, loads each feed's last validators (ETag, Last-Modified) from the ``feeds`` dataset
already under ``--output`` (at run time too, never while the pipeline is built), spreads the
feeds over workers, and fetches each with :func:`pipeline.sources.http.fetch_feed` from a
``requests.Session`` made in ``setup()``.  Bytes are parsed by feedparser with the response
headers (so the charset is right); feedparser never expands entities and never resolves
external ones (its parser has external entities and DTD loading off), which the tests check.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from typing import Iterator, Optional

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from pipeline import metrics, reasons
from pipeline.errors import Rejection
from pipeline.records import RawRecord
from pipeline.sources.feed_state import feed_history, latest_validators
from pipeline.sources.feeds import parse_feed_bytes
from pipeline.sources.http import FetchConfig, FetchResult, fetch_feed, make_session
from schemas.models import FeedFetch

REJECTED = "rejected"
HEALTH = "health"
# Response headers feedparser should see: the charset, not the transfer details already undone.
_PARSER_HEADERS = ("content-type", "content-location", "content-language", "last-modified", "etag")


def parse_feed_list(data: bytes) -> list[str]:
    """Feed URLs from an OPML document or a text list (one per line, ``#`` comments), in order,
    without repeats."""
    text = data.decode("utf-8-sig", errors="replace")
    urls: list[str] = []
    if text.lstrip().startswith("<"):
        if "<!DOCTYPE" in text or "<!ENTITY" in text:
            raise ValueError("feed list: DTDs and entities are not allowed in OPML")
        root = ET.fromstring(text)
        for outline in root.iter("outline"):
            url = outline.get("xmlUrl") or outline.get("xmlurl") or outline.get("url")
            if url and url.strip():
                urls.append(url.strip())
    else:
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                urls.append(line.split()[0])  # "URL  # comment": the first word
    seen: set[str] = set()
    return [u for u in urls if not (u in seen or seen.add(u))]


def fetch_id(feed_url: str, fetched_at: datetime) -> str:
    return hashlib.blake2b(f"{feed_url}\x1f{fetched_at.isoformat()}".encode("utf-8"), digest_size=8).hexdigest()


def health_row(result: FetchResult, fetched_at: datetime, entries: int = 0, feed_title: Optional[str] = None,
               bozo: Optional[str] = None, error: Optional[str] = None, message: Optional[str] = None) -> dict:
    """A ``FeedFetch`` row; ``new_articles`` is filled in after deduplication."""
    outcome = result.outcome if error is None else "error"
    return FeedFetch.model_validate({
        "fetch_id": fetch_id(result.url, fetched_at),
        "feed_url": result.url,
        "final_url": result.final_url,
        "fetched_at": fetched_at,
        "outcome": outcome,
        "http_status": result.http_status,
        "elapsed_ms": result.elapsed_ms,
        "attempts": result.attempts,
        "bytes": result.bytes,
        "etag": result.etag,
        "last_modified": result.last_modified,
        "feed_title": feed_title,
        "entries": entries,
        "new_articles": 0,
        "bozo": bozo,
        "error": error or result.error,
        "message": message or result.message,
    }).model_dump()


def fetch_and_parse(session, url: str, config: FetchConfig, validators: Optional[tuple] = None,
                    now: Optional[datetime] = None) -> tuple[list, dict]:
    """One feed -> (records and rejections, its health row).  Plain function; never raises."""
    fetched_at = now or datetime.now(timezone.utc)
    etag, last_modified = validators or (None, None)
    result = fetch_feed(session, url, config, etag=etag, last_modified=last_modified)
    if result.outcome == "not_modified":
        return [], health_row(result, fetched_at)
    if result.outcome != "ok":
        rejection = Rejection(url, reasons.FETCH, result.error or reasons.FETCH_ERROR.reason, result.message or "fetch failed",
                              payload=result.body, input_format="feed")
        return [rejection], health_row(result, fetched_at)
    if not result.body or not result.body.strip():
        rejection = Rejection(url, *reasons.PARSE_EMPTY_BODY, "the response body is empty", payload=b"", input_format="feed")
        return [rejection], health_row(result, fetched_at, error=reasons.PARSE_EMPTY_BODY.reason, message="the response body is empty")
    headers = {k: v for k, v in result.headers.items() if k in _PARSER_HEADERS}
    headers.setdefault("content-location", result.final_url or url)
    items = list(parse_feed_bytes(url, result.body, headers))
    records = [i for i in items if isinstance(i, RawRecord)]
    if not records:
        rejection = items[0]
        return items, health_row(result, fetched_at, error=rejection.reason, message=rejection.message)
    context = records[0].context or {}
    return items, health_row(result, fetched_at, entries=len(records), feed_title=context.get("feed_title"),
                             bozo=context.get("bozo"))


class ReadFeedListFn(beam.DoFn):
    """The feed list file (any Beam file system) -> feed URLs; an unreadable list is a dead letter."""

    def setup(self) -> None:
        self._read = Metrics.counter(metrics.NAMESPACE, metrics.RECORDS_READ)

    def process(self, path: str):
        try:
            with FileSystems.open(path) as handle:
                urls = parse_feed_list(handle.read())
        except Exception as exc:  # noqa: BLE001 - any failure to read the list is a dead letter
            self._read.inc()
            yield beam.pvalue.TaggedOutput(REJECTED, Rejection(path, *reasons.MATCH_BAD_FEED_LIST, f"{type(exc).__name__}: {exc}"))
            return
        if not urls:
            self._read.inc()
            yield beam.pvalue.TaggedOutput(REJECTED, Rejection(path, *reasons.MATCH_NO_FEEDS, "the feed list names no feeds"))
            return
        yield from urls


class LoadFeedStateFn(beam.DoFn):
    """OUTPUT -> (feed_url, (etag, last_modified)) of each feed's latest successful fetch
    (``feed_state.py``: committed runs only)."""

    def process(self, output: str) -> Iterator[tuple[str, tuple]]:
        for url, history in feed_history(output).items():
            validators = latest_validators(history)
            if validators:
                yield url, validators


class FeedMetrics:
    """The counters of feed fetching, and the outputs of one fetch (made in a DoFn's ``setup()``)."""

    def __init__(self) -> None:
        self.read = Metrics.counter(metrics.NAMESPACE, metrics.RECORDS_READ)
        self.fetches = Metrics.counter(metrics.NAMESPACE, metrics.FEEDS_FETCHED)
        self.not_modified = Metrics.counter(metrics.NAMESPACE, metrics.FEEDS_NOT_MODIFIED)
        self.failed = Metrics.counter(metrics.NAMESPACE, metrics.FEEDS_FAILED)

    def outputs(self, items: list, health: dict):
        """Count one fetch; yield its records (main), dead letters and health row (tagged)."""
        self.fetches.inc()
        if health["outcome"] == "not_modified":
            self.not_modified.inc()
        elif health["outcome"] == "error":
            self.failed.inc()
        for item in items:
            self.read.inc()
            yield beam.pvalue.TaggedOutput(REJECTED, item) if isinstance(item, Rejection) else item
        yield beam.pvalue.TaggedOutput(HEALTH, health)


class FetchFeedsFn(beam.DoFn):
    """A batch of feed URLs -> entries (``RawRecord``), dead letters and one health row per feed.

    The feeds of a batch are fetched concurrently by a thread pool (network-bound work); the
    outputs come out in the batch's order, so results do not depend on timing."""

    def __init__(self, config: FetchConfig, concurrency: int = 16):
        self._config = config
        self._concurrency = max(1, concurrency)

    def setup(self) -> None:
        self._session = make_session(self._config, pool_size=self._concurrency)
        self._pool = ThreadPoolExecutor(max_workers=self._concurrency, thread_name_prefix="newsbeam-fetch")
        self._metrics = FeedMetrics()

    def process(self, feeds: list):
        """``feeds``: ``[(url, validators or None), ...]``."""
        futures = [self._pool.submit(fetch_and_parse, self._session, url, self._config, validators)
                   for url, validators in feeds]
        for future in futures:
            yield from self._metrics.outputs(*future.result())  # fetch_and_parse never raises

    def teardown(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        session = getattr(self, "_session", None)
        if session is not None:
            session.close()


class KeyFeedUrlFn(beam.DoFn):
    def process(self, url: str):
        yield url, None


class FeedWithStateFn(beam.DoFn):
    """``(url, {"listed": [...], "state": [...]})`` -> ``(url, validators or None)`` for a listed
    feed (state of a feed no longer listed is dropped)."""

    def process(self, joined):
        url, groups = joined
        if groups["listed"]:
            states = list(groups["state"])
            yield url, (states[0] if states else None)


class ReadFeeds(beam.PTransform):
    """Feed list -> ``{"records", "rejected", "health"}``."""

    def __init__(self, feed_list: str, output: str, config: FetchConfig = FetchConfig(), concurrency: int = 16):
        super().__init__()
        self._feed_list = feed_list
        self._output = output
        self._config = config
        self._concurrency = concurrency

    def expand(self, pbegin):
        listed = (
            pbegin
            | "FeedList" >> beam.Create([self._feed_list])
            | "ReadFeedList" >> beam.ParDo(ReadFeedListFn()).with_outputs(REJECTED, main="urls")
        )
        states = (
            pbegin
            | "FeedStateRoot" >> beam.Create([self._output])
            | "LoadFeedState" >> beam.ParDo(LoadFeedStateFn())
        )
        keyed = listed.urls | "KeyFeedUrls" >> beam.ParDo(KeyFeedUrlFn())
        fetched = (
            {"listed": keyed, "state": states}
            | "JoinFeedState" >> beam.CoGroupByKey()  # by feed URL: also makes each feed once and spreads them
            | "FeedsWithState" >> beam.ParDo(FeedWithStateFn())
            | "BatchFeeds" >> beam.BatchElements(min_batch_size=1, max_batch_size=4 * self._concurrency)
            | "FetchFeeds" >> beam.ParDo(FetchFeedsFn(self._config, self._concurrency))
            .with_outputs(REJECTED, HEALTH, main="records")
        )
        rejected = (listed[REJECTED], fetched[REJECTED]) | "CollectFeedRejects" >> beam.Flatten()
        return {"records": fetched.records, "rejected": rejected, "health": fetched[HEALTH]}


class CountNewArticlesFn(beam.DoFn):
    """(feed_url, {"health": [rows], "articles": [1, ...]}) -> health rows with ``new_articles``."""

    def process(self, joined):
        _url, groups = joined
        new = sum(groups["articles"])
        for row in groups["health"]:
            yield {**row, "new_articles": new if row["outcome"] == "ok" else 0}


class KeyArticleByFeedFn(beam.DoFn):
    def process(self, article: dict):
        if article.get("input_format") == "feed":
            yield article["input_uri"], 1


class KeyHealthByFeedFn(beam.DoFn):
    def process(self, row: dict):
        yield row["feed_url"], row


class AddNewArticleCounts(beam.PTransform):
    """Health rows + kept articles -> health rows with how many entries became new articles."""

    def expand(self, pcolls):
        health = pcolls["health"] | "KeyHealthByFeed" >> beam.ParDo(KeyHealthByFeedFn())
        counts = (
            pcolls["articles"]
            | "KeyArticleByFeed" >> beam.ParDo(KeyArticleByFeedFn())  # (feed URL, 1) pairs only, never articles
            | "CountArticlesPerFeed" >> beam.CombinePerKey(sum)
        )
        return (
            {"health": health, "articles": counts}
            | "JoinHealthAndCounts" >> beam.CoGroupByKey()
            | "CountNewArticles" >> beam.ParDo(CountNewArticlesFn())
        )
