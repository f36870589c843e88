"""The record contract of newsbeam.

These pydantic models are the single definition of every row newsbeam writes.
The Arrow schemas used for Parquet (``schemas.arrow``) and the exported JSON
Schemas (``schemas/json/*.schema.json``) are derived from them, never written
by hand.  Bump ``SCHEMA_VERSION`` whenever a field changes meaning or type.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipeline.reasons import MEANINGS, STAGES

SCHEMA_VERSION = "2"

DateSource = Literal["metadata", "dateline", "feed", "extracted", "none"]
DuplicateKind = Literal["exact", "near"]
InputFormat = Literal["text", "jsonl", "csv", "html", "feed"]
TextSource = Literal["feed", "page", "file", "headline"]


def _require_utc(value: Optional[datetime]) -> Optional[datetime]:
    if value is not None and (value.tzinfo is None or value.utcoffset().total_seconds() != 0):
        raise ValueError("timestamps must be timezone-aware UTC")
    return value


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


PlaceKind = Literal["country", "city"]


class Place(_Record):
    """A place an article names (one item of ``Article.places``)."""

    name: str = Field(description="English name from GeoNames.")
    kind: PlaceKind
    country_code: Optional[str] = Field(None, description="ISO 3166-1 alpha-2 code (of the city's country for cities).")
    geonames_id: Optional[int] = Field(None, description="GeoNames id of the country or city.")
    lat: Optional[float] = Field(None, description="Latitude of a city (null for countries).")
    lon: Optional[float] = Field(None, description="Longitude of a city (null for countries).")
    mentions: int = Field(ge=1, description="How many times the article names it (name, alias or demonym).")


class TopicScore(_Record):
    """An IPTC Media Topic of an article (one item of ``Article.topics``)."""

    code: str = Field(description="Taxonomy code, e.g. 'medtop:11000000'.")
    label: str = Field(description="Label, e.g. 'politics'.")
    score: float = Field(ge=0, le=1, description="Share of the article's topic evidence.")


class Article(_Record):
    """A normalised news article (one row of the ``articles`` dataset)."""

    schema_version: str = Field(SCHEMA_VERSION, description="Version of this record contract.")
    article_id: str = Field(description="Stable id: same input, same id, on every run and machine (16 hex chars).")
    title: str = Field(description="Headline; the first sentence of the lead when the input has no headline.")
    summary: Optional[str] = Field(None, description="Lead paragraph or feed/HTML description.")
    text: str = Field(description="Clean body text, paragraphs separated by a blank line.")
    authors: list[str] = Field(default_factory=list, description="Bylines, as given by the input.")
    source: Optional[str] = Field(None, description="Publisher (metadata, dateline, feed title or site name).")
    source_domain: Optional[str] = Field(None, description="Host of the article URL without 'www.'.")
    dateline: Optional[str] = Field(None, description="Place named by a dateline such as 'LONDON (Agency) -'.")
    url: Optional[str] = Field(None, description="URL as given by the input.")
    canonical_url: Optional[str] = Field(None, description="Lower-case host, no fragment, tracking parameters removed.")
    guid: Optional[str] = Field(None, description="Feed entry id or the input's own id field.")
    categories: list[str] = Field(default_factory=list, description="Categories given by the input (feed tags, JSON 'categories').")
    language: Optional[str] = Field(None, description="ISO 639-1 code.")
    language_score: Optional[float] = Field(None, description="Confidence of the language in [0, 1]; 1.0 when given by metadata.")
    places: list[Place] = Field(default_factory=list, description="Countries and cities named, most mentioned first.")
    topics: list[TopicScore] = Field(default_factory=list, description="IPTC Media Topics, best first.")
    persons: list[str] = Field(default_factory=list, description="People named (see entities_source).")
    organizations: list[str] = Field(default_factory=list, description="Organisations named (see entities_source).")
    entities_source: Optional[str] = Field(None, description="What found persons/organizations: 'spacy:MODEL' or 'rules'.")
    keywords: list[str] = Field(default_factory=list, description="Up to 10 key phrases, best first.")
    tags: list[str] = Field(
        default_factory=list,
        description="Flat tags for filtering: 'lang:en', 'place:AF', 'city:1138958', 'topic:medtop:11000000', 'person:Boris Johnson', 'org:…'.",
    )
    word_count: int = Field(ge=0, description="Words of the text; in scripts written without spaces (Chinese, Japanese, Thai...) each character counts as one.")
    text_source: TextSource = Field(
        "file",
        description="Where text came from: 'feed' (the entry's own content or summary), 'page' (the linked page, "
                    "fetched and extracted), 'file' (an input file), 'headline' (a feed entry with only a title and a link: text is the title).",
    )
    page_status: Optional[str] = Field(
        None,
        description="Feed entries: what happened to the linked page: 'ok' (its text is used), 'not_fetched', 'full_content' "
                    "(the feed carried the full text), 'already_in_output', 'duplicate_in_run', 'cap_reached', 'robots_disallowed', "
                    "'private_address', 'reserved_host', 'dns_error', 'http_404', 'timeout', 'too_large', 'no_text', "
                    "'paywall_or_consent', 'shorter_than_feed' ...; null for files.",
    )
    published_at: Optional[datetime] = Field(None, description="Publication time in UTC; null when the input states none.")
    date_source: DateSource = Field("none", description="Where published_at came from; never a guess.")
    ingested_at: datetime = Field(description="When newsbeam normalised the record (UTC).")
    input_uri: str = Field(description="File (or feed URL) the record was read from.")
    input_format: InputFormat
    position: Optional[int] = Field(None, description="1-based line/row/entry number inside the input, when it holds several records.")
    content_hash: str = Field(description="Hash of the case- and whitespace-insensitive text: the exact-duplicate key.")
    cluster_id: Optional[str] = Field(None, description="Duplicate cluster this article keeps (its own id when it has duplicates).")
    duplicate_count: int = Field(0, ge=0, description="How many records were found to duplicate this article.")

    _utc_published = field_validator("published_at")(_require_utc)
    _utc_ingested = field_validator("ingested_at")(_require_utc)


class DuplicateRecord(_Record):
    """A record recognised as a duplicate of a kept article (``duplicates`` dataset)."""

    schema_version: str = Field(SCHEMA_VERSION)
    article_id: str = Field(description="The duplicate's own article id.")
    duplicate_of: str = Field(description="article_id of the kept article.")
    kind: DuplicateKind
    matched_on: str = Field(
        description="Which key linked it: 'url', 'guid', 'text', 'id' (the same record read twice) for exact; for near, "
        "'minhash' (similar texts: similarity is the estimated Jaccard) or 'containment' (a partial copy: one text almost "
        "wholly contained in the other, e.g. cut to its first paragraphs or extended by an update; similarity is the "
        "estimated share of the shorter text's shingles found in the longer)."
    )
    similarity: Optional[float] = Field(None, description="Near duplicates: the estimated Jaccard ('minhash') or containment ('containment') of the link; 1.0 for exact.")
    cluster_id: Optional[str] = None
    title: str
    url: Optional[str] = None
    canonical_url: Optional[str] = None
    published_at: Optional[datetime] = None
    input_uri: str
    input_format: InputFormat
    position: Optional[int] = None
    detected_at: datetime

    _utc_published = field_validator("published_at")(_require_utc)
    _utc_detected = field_validator("detected_at")(_require_utc)


# The rejected dataset documents every code from the one list, pipeline/reasons.py.
_REASON_DOC = "Short stable reason code; with the stage, one of: " + "; ".join(
    f"{code.code} ({meaning})" for code, meaning in MEANINGS.items()) + "."


class RejectedRecord(_Record):
    """Input that could not become an article (``rejected`` dataset, the dead letters)."""

    schema_version: str = Field(SCHEMA_VERSION)
    rejected_id: str = Field(description="Stable id of this rejection (input, position, stage, reason).")
    input_uri: str
    input_format: Optional[str] = None
    position: Optional[int] = Field(None, description="1-based line/row/entry number when known.")
    stage: str = Field(description="Pipeline stage that rejected it: " + ", ".join(STAGES) + ".")
    reason: str = Field(description=_REASON_DOC)
    message: str = Field(description="Human-readable explanation.")
    payload: Optional[bytes] = Field(None, description="Raw input, capped at max_payload_bytes (default 64 KiB).")
    payload_size: Optional[int] = Field(None, description="Size of the full raw payload in bytes, when known.")
    payload_truncated: bool = False
    rejected_at: datetime

    _utc_rejected = field_validator("rejected_at")(_require_utc)


class IndexRecord(_Record):
    """One written record in the dedup index (``_index/records``): what later runs join against."""

    uid: str = Field(description="Record uid (article_id, input and position hashed).")
    root_uid: str = Field(description="Record uid of the kept article of its cluster.")
    root_article_id: str
    root_ts: Optional[float] = Field(None, description="published_at of the kept article, epoch seconds.")
    root_order: str = Field(description="Input order key of the kept article (its tie-break).")
    keys: list[str] = Field(description="Exact keys ('t:' content hash, 'u:' canonical URL, 'g:' guid) and MinHash band keys ('bNN…').")
    signature: Optional[bytes] = Field(None, description="b-bit MinHash sketch: the low byte of each of the num_perm minimums, then the number of distinct shingles (uint32 little-endian); null for texts too short for near dedup.")


FetchOutcome = Literal["ok", "not_modified", "error"]


class FeedFetch(_Record):
    """One fetch of one live feed (``feeds`` dataset: feed health, and the conditional-GET state)."""

    schema_version: str = Field(SCHEMA_VERSION)
    fetch_id: str = Field(description="Stable id of this fetch (feed URL and time).")
    feed_url: str = Field(description="The feed URL as listed in --feeds.")
    final_url: Optional[str] = Field(None, description="URL after redirects.")
    fetched_at: datetime = Field(description="When the fetch started (UTC).")
    outcome: FetchOutcome = Field(description="'ok' (a body was parsed), 'not_modified' (304) or 'error'.")
    http_status: Optional[int] = Field(None, description="Status of the last response; null when none came.")
    elapsed_ms: int = Field(ge=0, description="Wall time of the fetch, retries and waits included.")
    attempts: int = Field(ge=0, description="Requests made (1 + retries).")
    bytes: int = Field(0, ge=0, description="Body size after gzip/deflate decoding.")
    etag: Optional[str] = Field(None, description="ETag to send as If-None-Match next time.")
    last_modified: Optional[str] = Field(None, description="Last-Modified to send as If-Modified-Since next time.")
    feed_title: Optional[str] = None
    entries: int = Field(0, ge=0, description="Entries feedparser found.")
    new_articles: int = Field(0, ge=0, description="Entries that became new articles in this run (after dedup).")
    bozo: Optional[str] = Field(None, description="Why feedparser found the feed malformed, when it did (entries kept).")
    error: Optional[str] = Field(None, description="Stable reason code: http_404, timeout, too_large, not_a_feed, redirect_loop ...")
    message: Optional[str] = None

    _utc_fetched = field_validator("fetched_at")(_require_utc)


class PageFetch(_Record):
    """One fetch of one article page (``pages`` dataset: page-fetch health)."""

    schema_version: str = Field(SCHEMA_VERSION)
    page_id: str = Field(description="Stable id of this fetch (URL and time).")
    url: str = Field(description="The entry's link as fetched.")
    final_url: Optional[str] = Field(None, description="URL after redirects.")
    canonical_url: Optional[str] = Field(None, description="The page's own canonical link (rel=canonical / og:url), when it has one.")
    host: str = Field(description="Host (and non-default port) the request went to: the politeness key.")
    article_id: str = Field(description="The article the page was fetched for.")
    feed_url: Optional[str] = Field(None, description="Feed (or saved feed file) the entry came from.")
    fetched_at: datetime = Field(description="When the fetch started (UTC).")
    status: str = Field(description="'ok' or the page_status written to the article: robots_disallowed, http_404, timeout, too_large, no_text ...")
    http_status: Optional[int] = Field(None, description="Status of the last response; null when none came.")
    elapsed_ms: int = Field(ge=0, description="Wall time of the fetch, retries and waits included (robots.txt and pacing excluded).")
    attempts: int = Field(0, ge=0, description="Requests made (1 + retries; 0 when refused before any request).")
    bytes: int = Field(0, ge=0, description="Body size after gzip/deflate decoding.")
    robots: str = Field(description="robots.txt verdict: 'allowed', 'disallowed', 'no_robots' (4xx: all allowed), 'unreachable', 'not_checked'.")
    words: int = Field(0, ge=0, description="Words of main text extracted from the page.")
    message: Optional[str] = None

    _utc_fetched = field_validator("fetched_at")(_require_utc)


DATASETS: dict[str, type[_Record]] = {
    "articles": Article,
    "duplicates": DuplicateRecord,
    "rejected": RejectedRecord,
    "feeds": FeedFetch,
    "pages": PageFetch,
}
# Internal datasets under OUTPUT/_index/, read back by later runs.
INDEX_DATASETS: dict[str, type[_Record]] = {"index": IndexRecord}
