"""The one options class.  Unknown flags pass through to Beam's own option classes,
so ``--runner DataflowRunner --project …`` just works."""

from __future__ import annotations

from dataclasses import replace

from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.dedup.minhash import MinHashConfig
from pipeline.errors import DEFAULT_MAX_PAYLOAD_BYTES
from pipeline.sinks import DEFAULT_ROWS_PER_FILE
from pipeline.sources.ranges import DEFAULT_SPLIT_BYTES
from pipeline.dedup.streaming import DEFAULT_HORIZON
from pipeline.sources.http import PAGE_USER_AGENT, FetchConfig
from pipeline.sources.page_fetch import PagePolicy
from pipeline.sources.page_text import FULL_TEXT_MODES, MIN_FEED_WORDS
from pipeline.sources.streaming import DEFAULT_MAX_BACKOFF
from pipeline.sources.files import DEFAULT_MAX_DECOMPRESSED_BYTES, FORMATS


def _flag(value: str) -> bool:
    """A switch that also takes a value (``--no-tagging`` or ``--no_tagging=true``: Flex
    Templates pass every parameter as ``--name=value``)."""
    lowered = str(value).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {value!r}")


class NewsbeamOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        parser.add_argument(
            "--input", dest="input", action="append", default=None,
            help="Glob of article files over Beam's file systems (local, gs://…); repeat for several.",
        )
        parser.add_argument(
            "--feeds", dest="feeds", default=None,
            help="Live feeds to fetch: an OPML file or a text file with one URL per line (# comments).",
        )
        fetch = FetchConfig()
        parser.add_argument("--fetch-timeout", "--fetch_timeout", dest="fetch_timeout", type=float, default=fetch.read_timeout,
                            help=f"Seconds to wait for a feed server's next bytes (default {fetch.read_timeout:g}; connect: {fetch.connect_timeout:g}).")
        parser.add_argument("--fetch-deadline", "--fetch_deadline", dest="fetch_deadline", type=float, default=fetch.deadline,
                            help=f"Seconds one request may take in all, body included (default {fetch.deadline:g}).")
        parser.add_argument("--fetch-max-bytes", "--fetch_max_bytes", dest="fetch_max_bytes", type=int, default=fetch.max_bytes,
                            help=f"Largest feed body accepted, after decompression (default {fetch.max_bytes:,}).")
        parser.add_argument("--fetch-retries", "--fetch_retries", dest="fetch_retries", type=int, default=fetch.retries,
                            help=f"Retries on connection errors, timeouts, 429 and 5xx (default {fetch.retries}).")
        parser.add_argument("--fetch-max-redirects", "--fetch_max_redirects", dest="fetch_max_redirects", type=int,
                            default=fetch.max_redirects, help=f"Redirects followed (default {fetch.max_redirects}).")
        parser.add_argument("--fetch-concurrency", "--fetch_concurrency", dest="fetch_concurrency", type=int, default=16,
                            help="Feeds fetched at once by each worker (default 16).")
        pages = PagePolicy()
        parser.add_argument("--full-text", "--full_text", dest="full_text", default="auto", choices=FULL_TEXT_MODES,
                            help=f"Fetch feed entries' linked pages for the full text: auto (entries whose text is a summary, "
                                 f"a headline or under --full-text-min-words words), always, never (default auto).")
        parser.add_argument("--full-text-min-words", "--full_text_min_words", dest="full_text_min_words", type=int,
                            default=MIN_FEED_WORDS, help=f"auto: feed content shorter than this is completed from the page (default {MIN_FEED_WORDS}).")
        parser.add_argument("--page-concurrency-per-host", "--page_concurrency_per_host", dest="page_concurrency_per_host",
                            type=int, default=pages.concurrency_per_host,
                            help=f"Page requests in flight per host, across all workers (default {pages.concurrency_per_host}).")
        parser.add_argument("--page-delay", "--page_delay", dest="page_delay", type=float, default=pages.delay,
                            help=f"Seconds between two page requests to one host, across all workers (default {pages.delay:g}; "
                                 "a larger robots.txt Crawl-delay wins, up to 30 s).")
        parser.add_argument("--max-pages", "--max_pages", dest="max_pages", type=int, default=pages.max_pages,
                            help=f"Pages fetched per run at most (default {pages.max_pages:,}; streaming: per worker); the rest are 'cap_reached'.")
        parser.add_argument("--allow-private-hosts", "--allow_private_hosts", dest="allow_private_hosts", type=_flag, nargs="?",
                            const=True, default=False,
                            help="Also fetch pages on private, loopback and link-local addresses (tests; never on a shared network).")
        parser.add_argument("--poll-interval", "--poll_interval", dest="poll_interval", type=float, default=60.0,
                            help="Streaming: seconds between polls of every feed (default 60).")
        parser.add_argument("--duration", dest="duration", type=float, default=None,
                            help="Streaming: stop after this many seconds (default: run until stopped).")
        parser.add_argument("--max-backoff", "--max_backoff", dest="max_backoff", type=float, default=DEFAULT_MAX_BACKOFF,
                            help="Streaming: longest wait before retrying a failing feed, seconds (default 3600).")
        parser.add_argument("--dedup-horizon", "--dedup_horizon", dest="dedup_horizon", default=DEFAULT_HORIZON,
                            help="Streaming: how long dedup remembers a record (e.g. 7d, 12h; default 7d).")
        parser.add_argument("--input-topic", "--input_topic", dest="input_topic", default=None,
                            help="Streaming: Pub/Sub topic of article JSON messages (projects/P/topics/T).")
        parser.add_argument("--input-subscription", "--input_subscription", dest="input_subscription", default=None,
                            help="Streaming: Pub/Sub subscription of article JSON messages (projects/P/subscriptions/S).")
        parser.add_argument("--output", dest="output", default=None, help="Output root: articles/, duplicates/, rejected/ datasets.")
        parser.add_argument(
            "--input-format", "--input_format", dest="input_format", default=None, choices=FORMATS,
            help="Read every input as this format instead of detecting it from the extension.",
        )
        parser.add_argument(
            "--max-decompressed-bytes", "--max_decompressed_bytes", dest="max_decompressed_bytes", type=int,
            default=DEFAULT_MAX_DECOMPRESSED_BYTES,
            help="Bytes one gzip input may inflate to (default 1 GiB); the rest of the file is rejected as read/too_large.",
        )
        parser.add_argument(
            "--split-bytes", "--split_bytes", dest="split_bytes", type=int, default=DEFAULT_SPLIT_BYTES,
            help="An uncompressed JSONL file larger than this is read in ranges of this size by several workers "
                 "(default 16 MiB).",
        )
        parser.add_argument(
            "--field-map", "--field_map", dest="field_map", default=None,
            help="Field names of JSONL/CSV records, e.g. 'text=body_html,title=hed|headline' (defaults cover the common names).",
        )
        parser.add_argument(
            "--rows-per-file", "--rows_per_file", dest="rows_per_file", type=int, default=DEFAULT_ROWS_PER_FILE,
            help="Target maximum rows per Parquet file (files are split by a stable hash of the row id).",
        )
        parser.add_argument(
            "--max-payload-bytes", "--max_payload_bytes", dest="max_payload_bytes", type=int, default=DEFAULT_MAX_PAYLOAD_BYTES,
            help="Raw payload kept per rejected record (default 64 KiB).",
        )
        defaults = MinHashConfig()
        parser.add_argument(
            "--no-near-dedup", "--no_near_dedup", dest="no_near_dedup", type=_flag, nargs="?", const=True, default=False,
            help="Exact deduplication only (no MinHash).",
        )
        parser.add_argument("--shingle-size", "--shingle_size", dest="shingle_size", type=int, default=defaults.shingle,
                            help=f"Words per shingle (default {defaults.shingle}).")
        parser.add_argument("--minhash-bands", "--minhash_bands", dest="minhash_bands", type=int, default=defaults.bands,
                            help=f"LSH bands (default {defaults.bands}).")
        parser.add_argument("--minhash-rows", "--minhash_rows", dest="minhash_rows", type=int, default=defaults.rows,
                            help=f"Rows per band; permutations = bands x rows (default {defaults.rows}).")
        parser.add_argument("--near-threshold", "--near_threshold", dest="near_threshold", type=float, default=defaults.threshold,
                            help=f"Estimated Jaccard at which a candidate is a near duplicate (default {defaults.threshold}).")
        parser.add_argument("--near-min-words", "--near_min_words", dest="near_min_words", type=int, default=defaults.min_words,
                            help=f"Shorter texts are only exact-deduplicated (default {defaults.min_words}).")
        parser.add_argument("--near-max-bucket", "--near_max_bucket", dest="near_max_bucket", type=int, default=defaults.max_bucket,
                            help=f"Band buckets with more records are skipped as boilerplate (default {defaults.max_bucket}).")
        parser.add_argument(
            "--no-wait", "--no_wait", dest="no_wait", type=_flag, nargs="?", const=True, default=False,
            help="Return as soon as a remote runner (Dataflow, Flink, Spark) has accepted the job: the summary says "
                 "SUBMITTED with the job id, and counts nothing (local runners run the job in this process and always wait).",
        )
        parser.add_argument(
            "--quiet", dest="quiet", type=_flag, nargs="?", const=True, default=False,
            help="No live progress while a local run works (the summary is still printed).",
        )
        parser.add_argument(
            "--no-tagging", "--no_tagging", dest="no_tagging", type=_flag, nargs="?", const=True, default=False,
            help="Skip tagging (language, places, topics, entities, keywords).",
        )
        parser.add_argument(
            "--topics", dest="topics", default=None, choices=["model", "taxonomy"],
            help="Topic tagger: 'model' (default: the shipped learned classifier) or 'taxonomy' "
                 "(the editable keyword taxonomy; implied by --taxonomy FILE).",
        )
        parser.add_argument(
            "--taxonomy", dest="taxonomy", default=None,
            help="Topic taxonomy JSON replacing the shipped IPTC Media Topics file (same format); "
                 "selects the taxonomy topic tagger.",
        )
        parser.add_argument(
            "--ner-model", "--ner_model", dest="ner_model", default=None,
            help="Installed spaCy pipeline for persons/organisations (e.g. en_core_web_sm); "
                 "without it a rule-based fallback runs (entities_source = 'rules').",
        )

    def fetch_config(self) -> FetchConfig:
        return replace(
            FetchConfig(),
            read_timeout=self.fetch_timeout,
            deadline=self.fetch_deadline,
            max_bytes=self.fetch_max_bytes,
            retries=self.fetch_retries,
            max_redirects=self.fetch_max_redirects,
        )

    def page_config(self) -> FetchConfig:
        """The feed fetcher's limits with the article fetcher's User-Agent."""
        return replace(self.fetch_config(), user_agent=PAGE_USER_AGENT)

    def page_policy(self) -> PagePolicy:
        return PagePolicy(concurrency_per_host=max(1, self.page_concurrency_per_host), delay=max(0.0, self.page_delay),
                          max_pages=max(0, self.max_pages), allow_private=bool(self.allow_private_hosts))

    def minhash_config(self) -> MinHashConfig:
        return MinHashConfig(
            shingle=self.shingle_size,
            bands=self.minhash_bands,
            rows=self.minhash_rows,
            threshold=self.near_threshold,
            min_words=self.near_min_words,
            max_bucket=self.near_max_bucket,
        )
