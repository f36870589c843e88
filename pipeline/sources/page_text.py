"""Full article text from a feed entry's linked page: which entries need it, and how a fetched
page is merged into the article.  Plain functions; the Beam steps are in ``pages.py``.

``--full-text auto`` (the default) fetches the page of a feed entry that has a link and whose
own text is a summary (RSS ``description``/Atom ``summary``: ``page_status = 'not_fetched'``
after normalisation), only a headline, or fewer than ``MIN_FEED_WORDS`` words.  An entry that
carried ``content:encoded``/Atom content of at least that length is not fetched
(``page_status = 'full_content'``); neither are files of HTML pages, text, JSONL or CSV.
``always`` fetches the page of every feed entry with a link; ``never`` fetches nothing.

A page is used only when trafilatura finds main text that does not look like a consent, cookie
or paywall page and is at least as long as the feed's own text; otherwise the entry keeps its
feed text and ``page_status`` says why.  ``article_id`` and ``canonical_url`` stay those of the
feed entry (the identity the next run recognises BEFORE it fetches anything); the page's own
canonical link is kept in the ``pages`` dataset.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any, Optional

from pipeline.normalize.article import content_hash
from pipeline.normalize.dates import to_utc
from pipeline.normalize.decode import decode_bytes
from pipeline.normalize.fields import as_list
from pipeline.normalize.html import extract_html_page
from pipeline.normalize.text import TextRules
from pipeline.sources.http import FetchResult
from schemas.models import SCHEMA_VERSION

FULL_TEXT_MODES = ("auto", "always", "never")
MIN_FEED_WORDS = 150  # auto: feed texts shorter than this are completed from the page
FETCHABLE_STATUSES = ("not_fetched", "full_content")

_WALL = re.compile(
    r"\b(accept (all )?cookies|cookie (policy|settings|preferences)|we use cookies|manage (your )?(privacy|consent)|"
    r"consent to|privacy (settings|preferences)|your privacy choices|subscribe to (continue|read)|"
    r"(already a |become a )?subscriber\?|sign in to (continue|read)|log in to (continue|read)|"
    r"this (article|content) is (only )?(available|reserved) (to|for) (subscribers|members)|paywall|"
    r"create a free account|to continue reading)\b",
    re.I,
)


_HTML_LANG = re.compile(r"<html[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)*)", re.I)


def needs_page(article: dict, mode: str, min_words: int = MIN_FEED_WORDS) -> bool:
    """Whether the step should fetch this article's linked page (before the seen-join)."""
    if mode == "never" or article.get("input_format") != "feed" or not article.get("url"):
        return False
    if article.get("page_status") not in FETCHABLE_STATUSES:
        return False
    if mode == "always":
        return True
    return (article.get("text_source") == "headline" or article.get("page_status") == "not_fetched"
            or (article.get("word_count") or 0) < min_words)


def entry_keys(article: dict) -> list[str]:
    """The keys that say an entry was written before: canonical URL and guid (the ``u:``/``g:``
    keys of the dedup index, as ``pipeline.dedup.exact.exact_keys`` makes them; an entry has no
    content hash yet when this is asked, before its page is fetched)."""
    keys = []
    if article.get("canonical_url"):
        keys.append(f"u:{article['canonical_url']}")
    if article.get("guid"):
        keys.append(f"g:{article['guid']}")
    return keys


def page_order(article: dict) -> tuple:
    """Which of several new entries with the same key fetches the page (the others are
    duplicates of it): earliest input order, then id: independent of timing and workers."""
    return (article.get("input_uri") or "", article.get("position") or 0, article["article_id"])


def looks_like_wall(text: str, title: Optional[str] = None) -> bool:
    """A consent, cookie or paywall page rather than the article: wall phrases in a short text,
    or several of them in any text."""
    probe = f"{title or ''}\n{text}"
    hits = len(_WALL.findall(probe))
    words = len(text.split())
    return hits >= 3 or (hits >= 1 and words < 250)


def extract_page(result: FetchResult) -> Optional[dict[str, Any]]:
    """Main text and metadata of a fetched page (``None``: no main text)."""
    content_type = (result.headers.get("content-type") or "").lower()
    charset = None
    if "charset=" in content_type:
        charset = content_type.split("charset=", 1)[1].split(";")[0].strip().strip('"') or None
    html, _ = decode_bytes(result.body or b"", charset)
    page = extract_html_page(html, url=result.final_url or result.url)
    if page is not None and not page.get("language"):
        declared = _HTML_LANG.search(html, 0, 4096) or None
        page["language"] = declared.group(1) if declared else result.headers.get("content-language")
    return page


def is_html(result: FetchResult) -> bool:
    content_type = (result.headers.get("content-type") or "").lower()
    return not content_type or "html" in content_type or "xml" in content_type


def merge_page(article: dict, page: dict, rules: TextRules, now: datetime) -> tuple[dict, str, int]:
    """``(article, page_status, page words)``: the article with the page's text and metadata
    (feed fields as the fallback, the feed text as ``summary``), or unchanged with the reason
    the page was not used."""
    text = rules.fix_unicode(page["text"])
    paragraphs = [" ".join(line.split()) for line in text.split("\n") if line.strip()]
    title = " ".join(rules.fix_unicode(page.get("title") or "").split()) or None
    if title and paragraphs and rules.same_text(paragraphs[0], title):
        paragraphs.pop(0)
    paragraphs = rules.clean_paragraphs(paragraphs)
    body = "\n\n".join(paragraphs)
    words = len(body.split())
    if not body.strip():
        return article, "no_text", 0
    if looks_like_wall(body, title):
        return article, "paywall_or_consent", words
    feed_words = 0 if article.get("text_source") == "headline" else len(article["text"].split())
    if words < feed_words:
        return article, "shorter_than_feed", words
    published = to_utc(page.get("date"), now=now) if page.get("date") else None
    merged = dict(article)
    merged.update({
        "title": title or article["title"],
        "summary": None if article.get("text_source") == "headline" else " ".join(article["text"].split()),
        "text": body,
        "word_count": words,
        "content_hash": content_hash(body),
        "authors": as_list(page.get("author")) or article.get("authors") or [],
        "source": " ".join((page.get("sitename") or "").split()) or article.get("source"),
        "language": _language(page.get("language")) or article.get("language"),
        "text_source": "page",
    })
    if article.get("published_at") is None and published is not None:
        merged["published_at"], merged["date_source"] = published, "extracted"
    return merged, "ok", words


def _language(value: Any) -> Optional[str]:
    if not value or not isinstance(value, str):
        return None
    code = value.strip().replace("_", "-").split("-")[0].lower()
    return code if len(code) == 2 and code.isalpha() else None


def page_id(url: str, fetched_at: datetime) -> str:
    return hashlib.blake2b(f"{url}\x1f{fetched_at.isoformat()}".encode("utf-8"), digest_size=8).hexdigest()


def page_row(article: dict, result: FetchResult, status: str, robots: str, host: str, fetched_at: datetime,
             words: int = 0, canonical: Optional[str] = None) -> dict:
    """A ``PageFetch`` row (the ``pages`` dataset: one per page fetch attempted)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "page_id": page_id(result.url, fetched_at),
        "url": result.url,
        "final_url": result.final_url,
        "canonical_url": canonical,
        "host": host,
        "article_id": article["article_id"],
        "feed_url": article.get("input_uri"),
        "fetched_at": fetched_at,
        "status": status,
        "http_status": result.http_status,
        "elapsed_ms": max(0, result.elapsed_ms),
        "attempts": result.attempts,
        "bytes": result.bytes,
        "robots": robots,
        "words": words,
        "message": (result.message or None) and result.message[:500],
    }


def page_outcome(article: dict, result: FetchResult, robots: str, host: str, fetched_at: datetime,
                 rules: TextRules) -> tuple[dict, dict]:
    """One fetch -> (the article to write, its ``pages`` row).  Never raises for a bad page:
    every failure is a ``page_status`` and the feed text is kept."""
    if result.outcome != "ok":
        status = result.error or "fetch_error"
        return {**article, "page_status": status}, page_row(article, result, status, robots, host, fetched_at)
    if not is_html(result):
        status = "not_html"
        return {**article, "page_status": status}, page_row(article, result, status, robots, host, fetched_at)
    page = extract_page(result)
    if page is None:
        return {**article, "page_status": "no_text"}, page_row(article, result, "no_text", robots, host, fetched_at)
    merged, status, words = merge_page(article, page, rules, fetched_at)
    return ({**merged, "page_status": status},
            page_row(article, result, status, robots, host, fetched_at, words, page.get("url")))
