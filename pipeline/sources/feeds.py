"""Saved (and, later, fetched) RSS/Atom/RDF feeds to raw records, via feedparser.

feedparser disables external entities and strips unsafe ``<!ENTITY>``
declarations itself; entries are converted to plain JSON-able dicts so that
records pickle cheaply and dead letters keep a readable payload.
"""

from __future__ import annotations

import calendar
import json
from datetime import datetime, timezone
from typing import Any, Iterator, Mapping, Optional, Union

import feedparser

from pipeline import reasons
from pipeline.errors import Rejection
from pipeline.records import RawRecord

Item = Union[RawRecord, Rejection]


def _iso(struct: Any) -> Optional[str]:
    if not struct:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(struct), tz=timezone.utc).isoformat()
    except (TypeError, ValueError, OverflowError):
        return None


def _content(entry: Mapping[str, Any]) -> Optional[str]:
    """Full content (``content:encoded``/Atom content) before the summary."""
    for item in entry.get("content") or []:
        value = item.get("value")
        if value and value.strip():
            return value
    return None


def entry_fields(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The article-relevant fields of one feedparser entry, as plain data."""
    authors = [a.get("name") for a in entry.get("authors") or [] if a.get("name")]
    if not authors and entry.get("author"):
        authors = [entry["author"]]
    summary = entry.get("summary") or None
    content = _content(entry)
    return {
        "title": entry.get("title") or None,
        "text": content or summary,
        "summary": summary if content else None,
        "has_content": content is not None,  # content:encoded / Atom content, not just a summary
        "link": entry.get("link") or None,
        "guid": entry.get("id") or None,
        "published": _iso(entry.get("published_parsed")) or _iso(entry.get("updated_parsed")) or _iso(entry.get("created_parsed")),
        "authors": authors,
        "categories": [t.get("term") for t in entry.get("tags") or [] if t.get("term")],
        "language": (entry.get("content") or [{}])[0].get("language") if entry.get("content") else None,
    }


def _bozo_reason(parsed: Any) -> Optional[str]:
    if not parsed.get("bozo"):
        return None
    exc = parsed.get("bozo_exception")
    return f"{type(exc).__name__}: {exc}" if exc else "malformed feed"


def parse_feed_bytes(uri: str, data: bytes, response_headers: Optional[Mapping[str, str]] = None) -> Iterator[Item]:
    """One ``RawRecord`` per entry; a feed with no usable entry becomes one rejection."""
    try:
        parsed = feedparser.parse(data, response_headers=dict(response_headers or {}))
    except Exception as exc:  # noqa: BLE001 - feedparser itself can raise on hostile input (e.g. &#xD800;)
        code = reasons.PARSE_INVALID_UNICODE if isinstance(exc, (UnicodeError, ValueError)) else reasons.PARSE_FEED_PARSE_ERROR
        yield Rejection(uri, *code, f"the feed parser failed: {type(exc).__name__}: {str(exc)[:500]}",
                        payload=data, input_format="feed")
        return
    feed = parsed.get("feed") or {}
    bozo = _bozo_reason(parsed)
    context = {
        "feed_title": " ".join((feed.get("title") or "").split()) or None,
        "feed_link": feed.get("link") or None,
        "language": feed.get("language") or None,
        "feed_version": parsed.get("version") or None,
        "bozo": bozo,
    }
    entries = parsed.get("entries") or []
    if not entries:
        if not parsed.get("version"):
            code, message = reasons.PARSE_NOT_A_FEED, "no RSS/Atom/RDF feed found" + (f" ({bozo})" if bozo else "")
        elif bozo:
            code, message = reasons.PARSE_FEED_PARSE_ERROR, bozo
        else:
            code, message = reasons.PARSE_EMPTY_FEED, "the feed has no entries"
        yield Rejection(uri, *code, message, payload=data, input_format="feed")
        return
    for position, entry in enumerate(entries, start=1):
        fields = entry_fields(entry)
        raw = json.dumps(fields, ensure_ascii=False, sort_keys=True).encode("utf-8")
        yield RawRecord(input_uri=uri, input_format="feed", payload=fields, position=position, raw=raw, context=context)
