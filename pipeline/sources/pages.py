"""Full article text: feed entries -> their linked pages, fetched once, politely, and extracted.

Batch (:class:`FetchArticlePages`), between normalisation and dedup:

1. ``RouteForPages`` splits the normalised articles: feed entries that need their page
   (``page_text.needs_page``) are candidates; everything else passes through unchanged.
2. What is new is decided BEFORE any fetch, BY KEY: every candidate is keyed by its ``u:``
   (canonical URL) and ``g:`` (guid) keys; the committed ``_index/`` is read at run time
   (``ListFilesFn`` / ``read_index_table``) into the same keys; a ``CoGroupByKey`` per key says
   "written before" (the entry is ``already_in_output``: not fetched), or names the one new entry
   that fetches the page (the others with that key are ``duplicate_in_run``).  A second
   ``CoGroupByKey`` by record uid brings the verdicts back to the article.
3. ``--max-pages``: the candidates with the smallest stable hashes are fetched (a global
   ``Top.Smallest`` of at most ``--max-pages`` integers gives one threshold: a fixed-size side
   input); the rest are ``cap_reached``.
4. The fetch step is keyed by host (``GroupByKey``): one DoFn call sees every page of a host,
   so ``--page-concurrency-per-host`` and ``--page-delay`` hold across all workers.  A DoFn runs
   several hosts at once in a thread pool (``--fetch-concurrency`` hosts per worker) and emits
   each article as its fetch ends; memory: the pages of the hosts in flight (each host's group is
   at most ``--max-pages`` articles).

Every candidate comes out exactly once, with ``page_status`` set; a page that fails keeps the
feed text.  Each fetch attempted is one row of the ``pages`` dataset.

Streaming (:class:`FetchArticlePagesStream`): the same decision; "seen" is keyed state per
``u:``/``g:`` key (seeded from the committed index by key, lazily per seed shard; cleared by a
timer at the dedup horizon), and
per-host pacing is keyed state in a step keyed by host (``PacePagesFn``).
"""

from __future__ import annotations

import hashlib
import queue
import typing
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Optional

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

from pipeline import metrics
from pipeline.dedup.exact import record_uid
from pipeline.dedup.index import ListFilesFn, index_pattern, read_index_table
from pipeline.normalize.text import TextRules
from pipeline.sources.http import PAGE_USER_AGENT, FetchConfig, make_session
from pipeline.sources.page_fetch import HostPacer, PagePolicy, RobotsCache, fetch_page, host_of, url_guard
from pipeline.sources.page_text import MIN_FEED_WORDS, entry_keys, needs_page, page_order, page_outcome

CANDIDATES, DONE, PAGES, CAPPED = "candidates", "done", "pages", "capped"
KEYED = typing.Tuple[str, typing.Any]


def stable_rank(uid: str) -> int:
    return int.from_bytes(hashlib.blake2b(uid.encode("utf-8"), digest_size=8).digest(), "big")


class RouteForPagesFn(beam.DoFn):
    """Article -> itself (main) or, when its page is to be fetched, a candidate (tagged)."""

    def __init__(self, mode: str, min_words: int):
        self._mode = mode
        self._min_words = min_words

    def process(self, article: dict):
        if needs_page(article, self._mode, self._min_words):
            yield beam.pvalue.TaggedOutput(CANDIDATES, article)
        else:
            yield article


class KeyByUidFn(beam.DoFn):
    def process(self, article: dict):
        yield record_uid(article), article


class KeyByEntryKeysFn(beam.DoFn):
    """Candidate -> (key, (order, uid)) for each of its ``u:``/``g:`` keys (small refs, not articles)."""

    def process(self, article: dict):
        ref = (page_order(article), record_uid(article))
        for key in entry_keys(article):
            yield key, ref


class ReadEntryKeysFn(beam.DoFn):
    """A committed index file -> (key, 1) for its ``u:``/``g:`` keys; skipped when this run has
    no candidate (``wanted``: the candidate count, a singleton)."""

    def process(self, file, wanted: int = 1):
        if not wanted:
            return
        table = read_index_table(file, ["keys"])
        for keys in table.column("keys").to_pylist():
            for key in keys or []:
                if key[:2] in ("u:", "g:"):
                    yield key, 1


class DecideByKeyFn(beam.DoFn):
    """(key, {"refs", "index"}) -> (uid, verdict): ``already_in_output`` for every candidate when
    the key was written before, else the first candidate (``page_order``) is ``won`` and the
    others ``duplicate_in_run``."""

    def process(self, joined):
        _key, groups = joined
        refs = sorted(groups["refs"])
        if not refs:
            return
        if any(True for _ in groups["index"]):
            for _order, uid in refs:
                yield uid, "already_in_output"
            return
        yield refs[0][1], "won"
        for _order, uid in refs[1:]:
            yield uid, "duplicate_in_run"


class DecideFetchFn(beam.DoFn):
    """(uid, {"article": [a], "verdicts": [...]}) -> the article to fetch (main) or, with its
    ``page_status``, not to fetch (``DONE``).  Every candidate comes out once per copy."""

    def setup(self) -> None:
        self._skipped = Metrics.counter(metrics.NAMESPACE, metrics.PAGES_SKIPPED)

    def process(self, joined):
        _uid, groups = joined
        articles = sorted(groups["article"], key=page_order)
        verdicts = set(groups["verdicts"])
        # no verdict at all: a link without a usable URL or guid key, fetched (nothing to match)
        status = ("already_in_output" if "already_in_output" in verdicts
                  else "duplicate_in_run" if "duplicate_in_run" in verdicts else None)
        for n, article in enumerate(articles):
            if status is None and n == 0:
                yield article
            else:
                self._skipped.inc()
                yield beam.pvalue.TaggedOutput(DONE, {**article, "page_status": status or "duplicate_in_run"})


class RankFn(beam.DoFn):
    def process(self, article: dict):
        yield stable_rank(record_uid(article))


def cap_threshold(smallest: list, max_pages: int) -> Optional[int]:
    """The largest rank still fetched, or ``None`` when the candidates fit under the cap."""
    ranks = sorted(smallest)
    return ranks[max_pages - 1] if max_pages > 0 and len(ranks) >= max_pages else (None if max_pages > 0 else -1)


class ApplyCapFn(beam.DoFn):
    """Article -> (host, article) to fetch, or the article with ``cap_reached`` (``CAPPED``)."""

    def setup(self) -> None:
        self._capped = Metrics.counter(metrics.NAMESPACE, metrics.PAGES_CAPPED)

    def process(self, article: dict, threshold):
        if threshold is not None and stable_rank(record_uid(article)) > threshold:
            self._capped.inc()
            yield beam.pvalue.TaggedOutput(CAPPED, {**article, "page_status": "cap_reached"})
            return
        yield host_of(article["url"]), article


class PageFetcher:
    """The per-DoFn fetch machinery (made in ``setup()``): session, guard, robots cache, pacer."""

    def __init__(self, config: FetchConfig, policy: PagePolicy, pool_size: int) -> None:
        self.config = config
        self.policy = policy
        self.session = make_session(config, pool_size=max(pool_size, policy.concurrency_per_host))
        self.guard = url_guard(policy.allow_private)
        self.robots = RobotsCache(config.user_agent) if policy.respect_robots else None
        self.pacer = HostPacer(policy.concurrency_per_host, policy.delay)
        self.rules = TextRules()

    def one(self, article: dict) -> tuple[dict, dict]:
        fetched_at = datetime.now(timezone.utc)
        result, robots = fetch_page(self.session, article["url"], self.config, self.guard, self.robots, self.pacer)
        return page_outcome(article, result, robots, host_of(article["url"]), fetched_at, self.rules)

    def close(self) -> None:
        self.session.close()


class FetchHostPagesFn(beam.DoFn):
    """(host, [articles]) -> articles with page text or a page_status (main) and ``pages`` rows
    (tagged).  Several hosts run at once (a pool of ``hosts_at_once`` host jobs, each with at
    most ``concurrency_per_host`` requests in flight); results are emitted as they complete,
    the rest at the end of the bundle."""

    def __init__(self, config: FetchConfig, policy: PagePolicy, hosts_at_once: int = 16):
        self._config = config
        self._policy = policy
        self._hosts = max(1, hosts_at_once)

    def setup(self) -> None:
        per_host = self._policy.concurrency_per_host
        self._fetcher = PageFetcher(self._config, self._policy, self._hosts * per_host)
        self._pool = ThreadPoolExecutor(max_workers=self._hosts * per_host, thread_name_prefix="newsbeam-page")
        self._host_pool = ThreadPoolExecutor(max_workers=self._hosts, thread_name_prefix="newsbeam-host")
        self._fetched = Metrics.counter(metrics.NAMESPACE, metrics.PAGES_FETCHED)
        self._used = Metrics.counter(metrics.NAMESPACE, metrics.PAGES_USED)

    def start_bundle(self) -> None:
        self._done: "queue.Queue" = queue.Queue()
        self._running = []

    def _host_job(self, articles: list) -> None:
        futures = [self._pool.submit(self._fetcher.one, a) for a in articles[: self._policy.concurrency_per_host]]
        rest = iter(articles[self._policy.concurrency_per_host:])
        while futures:  # at most concurrency_per_host of this host's pages queued or running
            future = futures.pop(0)
            self._done.put(future.result())
            nxt = next(rest, None)
            if nxt is not None:
                futures.append(self._pool.submit(self._fetcher.one, nxt))

    def _drain(self, block_until: int):
        """Yield finished results; return once at most ``block_until`` host jobs still run."""
        while True:
            still = []
            for future in self._running:
                if future.done():
                    future.result()  # a bug in a host job fails the bundle (retried), never a silent loss
                else:
                    still.append(future)
            self._running = still
            while True:
                try:
                    yield self._count(*self._done.get_nowait())
                except queue.Empty:
                    break
            if len(self._running) <= block_until:
                return
            try:
                yield self._count(*self._done.get(timeout=0.05))
            except queue.Empty:
                pass

    def _count(self, article: dict, row: dict) -> tuple[dict, dict]:
        """Counters in the bundle's thread (Beam's metrics container is per thread)."""
        self._fetched.inc()
        Metrics.counter(metrics.NAMESPACE, metrics.PAGES_BY_STATUS.format(status=row["status"])).inc()
        if row["status"] == "ok":
            self._used.inc()
        return article, row

    def process(self, element):
        _host, articles = element
        self._running.append(self._host_pool.submit(self._host_job, sorted(articles, key=page_order)))
        for article, row in self._drain(self._hosts - 1):
            yield article
            yield beam.pvalue.TaggedOutput(PAGES, row)

    def finish_bundle(self):
        for article, row in self._drain(0):
            yield WindowedValue(article, MIN_TIMESTAMP, [GlobalWindow()])
            yield beam.pvalue.TaggedOutput(PAGES, WindowedValue(row, MIN_TIMESTAMP, [GlobalWindow()]))

    def teardown(self) -> None:
        for pool in (getattr(self, "_host_pool", None), getattr(self, "_pool", None)):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        if getattr(self, "_fetcher", None) is not None:
            self._fetcher.close()


class FetchArticlePages(beam.PTransform):
    """Normalised articles -> ``{"articles", "pages"}``: feed entries completed from their pages."""

    def __init__(self, output: str, mode: str = "auto", policy: PagePolicy = PagePolicy(),
                 config: Optional[FetchConfig] = None, min_words: int = MIN_FEED_WORDS, hosts_at_once: int = 16):
        super().__init__()
        self._output = output
        self._mode = mode
        self._policy = policy
        self._config = config or FetchConfig(user_agent=PAGE_USER_AGENT)
        self._min_words = min_words
        self._hosts = hosts_at_once

    def expand(self, articles):
        routed = articles | "RouteForPages" >> beam.ParDo(RouteForPagesFn(self._mode, self._min_words)).with_outputs(
            CANDIDATES, main="kept")
        candidates = routed[CANDIDATES]
        wanted = candidates | "CountCandidates" >> beam.combiners.Count.Globally()
        written = (
            articles.pipeline
            | "PageIndexPattern" >> beam.Create([index_pattern(self._output)])
            | "ListPageIndexFiles" >> beam.ParDo(ListFilesFn())
            | "SpreadPageIndexFiles" >> beam.Reshuffle()
            | "ReadPageIndexKeys" >> beam.ParDo(ReadEntryKeysFn(), beam.pvalue.AsSingleton(wanted))
        )
        refs = candidates | "KeyCandidatesByEntryKey" >> beam.ParDo(KeyByEntryKeysFn())
        verdicts = (
            {"refs": refs, "index": written}
            | "JoinCandidatesAndIndex" >> beam.CoGroupByKey()
            | "DecideByEntryKey" >> beam.ParDo(DecideByKeyFn())
        )
        by_uid = candidates | "KeyCandidatesByUid" >> beam.ParDo(KeyByUidFn())
        decided = (
            {"article": by_uid, "verdicts": verdicts}
            | "JoinCandidatesAndVerdicts" >> beam.CoGroupByKey()
            | "DecideFetch" >> beam.ParDo(DecideFetchFn()).with_outputs(DONE, main="fetch")
        )
        smallest = (
            decided.fetch
            | "RankCandidates" >> beam.ParDo(RankFn())
            | "SmallestRanks" >> beam.combiners.Top.Smallest(max(1, self._policy.max_pages))
        )
        threshold = smallest | "CapThreshold" >> beam.Map(cap_threshold, self._policy.max_pages)
        capped = decided.fetch | "ApplyPageCap" >> beam.ParDo(ApplyCapFn(), beam.pvalue.AsSingleton(threshold)).with_outputs(
            CAPPED, main="fetch")
        fetched = (
            capped.fetch
            | "GroupPagesByHost" >> beam.GroupByKey()
            | "FetchHostPages" >> beam.ParDo(FetchHostPagesFn(self._config, self._policy, self._hosts)).with_outputs(
                PAGES, main="articles")
        )
        out = (routed.kept, decided[DONE], capped[CAPPED], fetched.articles) | "CollectPageArticles" >> beam.Flatten()
        return {"articles": out, "pages": fetched[PAGES]}


# --- streaming ------------------------------------------------------------------------------------



PASS = "~"  # key prefix of articles that only pass through a keyed step (spread by article id: no hot key)
SEED = "__seed__"  # (SEED, key): a key an earlier run wrote, on its way into the seen-key state of its kind
SEED_SHARDS = 16


def seed_shard(key: str) -> str:
    return str(stable_rank(key) % SEED_SHARDS)


@beam.typehints.with_output_types(KEYED)
class KeyBySeedShardFn(beam.DoFn):
    """Article -> (shard of its first entry key (or of its id), article)."""

    def process(self, article: dict):
        keys = entry_keys(article) if needs_page(article, "always") else []
        yield seed_shard(keys[0] if keys else article["article_id"]), article


class SeedShardFn(beam.DoFn):
    """Keyed by seed shard: the first article of a shard first emits ``(SEED, key)`` for every
    ``u:``/``g:`` key of the committed index that falls in the shard, then the article; later
    articles pass.  So the seen-key state is seeded BY KEY through the same keyed chain (a Flatten
    of the index keys into the stream would be held back by the local runner until the end of
    the run), lazily: each shard reads the index's key column once per job.  State: one flag per
    shard (``SEED_SHARDS``).  Known race: a seed and a later article of the same key are separate
    elements and the runner may deliver the article to the key's state first; the article that
    triggers a shard's seeding is checked directly, the others of that first moment may be
    fetched once more after a restart (dedup still writes them as already in output)."""

    SEEDED = ReadModifyWriteStateSpec("seeded", PickleCoder())

    def __init__(self, output: Optional[str], mode: str, min_words: int):
        self._output = output if mode != "never" else None
        self._mode = mode
        self._min_words = min_words

    def setup(self) -> None:
        self._seeds = Metrics.counter(metrics.NAMESPACE, metrics.PAGE_SEEDS)

    def process(self, element, seeded=beam.DoFn.StateParam(SEEDED)):
        shard, article = element
        if self._output and not seeded.read():
            seeded.write(True)
            own = set(entry_keys(article)) if needs_page(article, self._mode, self._min_words) else set()
            written = False
            for file in ListFilesFn().process(index_pattern(self._output)):
                for key, _ in ReadEntryKeysFn().process(file):
                    if seed_shard(key) == shard:
                        self._seeds.inc()
                        written = written or key in own
                        yield (SEED, key)
            if written:  # this article may overtake its seed on the way to the key's state
                article = {**article, "page_status": "already_in_output"}
        yield article


@beam.typehints.with_output_types(KEYED)
class KeyForPagesFn(beam.DoFn):
    """Article -> (key, article): a candidate by its ``u:``/``g:`` key (``kind``) or by its host
    (``kind = "host"``); every other article by ``~article_id`` (passes through untouched).  One
    chain carries every article: no Flatten, which the local runner holds back until the end of a
    streaming run."""

    def __init__(self, kind: str, mode: str, min_words: int):
        self._kind = kind
        self._mode = mode
        self._min_words = min_words

    def process(self, article):
        if isinstance(article, tuple):  # (SEED, key): into its kind's state, past the others
            if self._kind != "host":
                yield (article[1], SEED) if article[1].startswith(self._kind) else (PASS + article[1], article)
            return
        key = None
        if needs_page(article, self._mode, self._min_words):
            if self._kind == "host":
                key = host_of(article["url"])
            else:
                key = next((k for k in entry_keys(article) if k.startswith(self._kind)), None)
        yield key or PASS + article["article_id"], article


@beam.typehints.with_output_types(typing.Any)
class SeenPageKeyFn(beam.DoFn):
    """Keyed by one entry key: the first new entry with it fetches the page; later ones (and
    entries whose key an earlier run wrote) are not fetched.  State: one event time per key,
    cleared by an event-time timer one dedup horizon after it was set, and checked against the
    horizon on access (the local runner may fire timers late or early), so it is bounded by the
    keys of one horizon.  Seeds (``(SEED, key)`` from ``SeedShardFn``: the keys
    of the committed index) take the state of their key, so a restarted job does not fetch what an
    earlier run wrote."""

    SEEN = ReadModifyWriteStateSpec("seen", PickleCoder())  # (how, first-seen processing time)
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, horizon_s: float):
        self._horizon = horizon_s

    def setup(self) -> None:
        self._skipped = Metrics.counter(metrics.NAMESPACE, metrics.PAGES_SKIPPED)

    def process(self, element, timestamp=beam.DoFn.TimestampParam, seen=beam.DoFn.StateParam(SEEN),
                expiry=beam.DoFn.TimerParam(EXPIRY)):
        key, item = element
        now = float(timestamp)
        if key.startswith(PASS):
            yield item
            return
        stored = seen.read()
        if stored is not None and now - stored[1] > self._horizon:
            seen.clear()
            stored = None
        if item == SEED:
            if stored is None:
                seen.write(("index", now))
                expiry.set(timestamp + self._horizon)
            return
        if item.get("page_status") in ("already_in_output", "duplicate_in_run"):
            yield item  # decided by the other key
            return
        if stored is not None:
            self._skipped.inc()
            yield {**item, "page_status": "already_in_output" if stored[0] == "index" else "duplicate_in_run"}
            return
        seen.write(("run", now))
        expiry.set(timestamp + self._horizon)
        yield item

    @on_timer(EXPIRY)
    def expire(self, seen=beam.DoFn.StateParam(SEEN)):
        seen.clear()


class PacePagesFn(beam.DoFn):
    """Keyed by host: one page at a time, at least ``--page-delay`` (or the host's robots
    ``Crawl-delay``) after the previous request to the host, which is kept in keyed state (the
    host's key lives on one worker, so the delay holds across workers); at most one request per
    host is in flight.  State: one timestamp per host, cleared by an event-time timer one delay
    after the last fetch.  The wait is a sleep of at most the delay in this keyed step: the local
    runner cannot run processing-time timers with PeriodicImpulse (they force the legacy
    bundle-based runner), so the timer-driven queue is left for Dataflow (see the report).
    ``--max-pages`` counts per worker (a DoFn instance) in streaming."""

    NEXT_AT = ReadModifyWriteStateSpec("next_at", PickleCoder())  # wall time of the next allowed request
    FORGET = TimerSpec("forget", TimeDomain.WATERMARK)

    def __init__(self, config: FetchConfig, policy: PagePolicy):
        self._config = config
        self._policy = policy

    def setup(self) -> None:
        self._fetcher = PageFetcher(self._config, self._policy, 4)
        self._fetches = 0
        self._fetched = Metrics.counter(metrics.NAMESPACE, metrics.PAGES_FETCHED)
        self._used = Metrics.counter(metrics.NAMESPACE, metrics.PAGES_USED)
        self._capped = Metrics.counter(metrics.NAMESPACE, metrics.PAGES_CAPPED)

    def process(self, element, timestamp=beam.DoFn.TimestampParam, next_at=beam.DoFn.StateParam(NEXT_AT),
                forget=beam.DoFn.TimerParam(FORGET)):
        import time as _time

        host, article = element
        if host.startswith(PASS):
            yield article
            return
        if self._fetches >= self._policy.max_pages:
            self._capped.inc()
            yield {**article, "page_status": "cap_reached"}
            return
        sends = self._fetcher.guard(article["url"]) is None  # a refused URL costs the host nothing: no wait
        wait = (next_at.read() or 0.0) - _time.time()
        if sends and wait > 0:
            _time.sleep(min(wait, self._policy.delay))
        out, row = self._fetcher.one(article)
        self._fetches += 1
        if sends:
            next_at.write(_time.time() + self._policy.delay)
            forget.set(timestamp + max(1.0, self._policy.delay))
        self._fetched.inc()
        Metrics.counter(metrics.NAMESPACE, metrics.PAGES_BY_STATUS.format(status=row["status"])).inc()
        if row["status"] == "ok":
            self._used.inc()
        yield out
        yield beam.pvalue.TaggedOutput(PAGES, row)

    @on_timer(FORGET)
    def forget_host(self, next_at=beam.DoFn.StateParam(NEXT_AT)):
        import time as _time

        if (next_at.read() or 0.0) <= _time.time():
            next_at.clear()


class FetchArticlePagesStream(beam.PTransform):
    """Unbounded counterpart of :class:`FetchArticlePages` -> ``{"articles", "pages"}``."""

    def __init__(self, output: Optional[str], mode: str = "auto", policy: PagePolicy = PagePolicy(),
                 config: Optional[FetchConfig] = None, min_words: int = MIN_FEED_WORDS, horizon: str = "7d"):
        super().__init__()
        from pipeline.dedup.streaming import parse_horizon

        self._output = output
        self._mode = mode
        self._policy = policy
        self._config = config or FetchConfig(user_agent=PAGE_USER_AGENT)
        self._min_words = min_words
        self._horizon = parse_horizon(horizon)

    def expand(self, articles):
        stream = (
            articles
            | "GlobalPageWindow" >> beam.WindowInto(beam.window.GlobalWindows())
            | "KeyBySeedShard" >> beam.ParDo(KeyBySeedShardFn())
            | "SeedSeenKeys" >> beam.ParDo(SeedShardFn(self._output, self._mode, self._min_words))
        )
        for kind, name in (("u:", "Url"), ("g:", "Guid")):
            stream = (
                stream
                | f"KeyPageBy{name}" >> beam.ParDo(KeyForPagesFn(kind, self._mode, self._min_words))
                | f"SeenPage{name}" >> beam.ParDo(SeenPageKeyFn(self._horizon))
            )
        fetched = (
            stream
            | "KeyPagesByHost" >> beam.ParDo(KeyForPagesFn("host", self._mode, self._min_words))
            | "PacePages" >> beam.ParDo(PacePagesFn(self._config, self._policy)).with_outputs(PAGES, main="articles")
        )
        return {"articles": fetched.articles, "pages": fetched[PAGES]}
