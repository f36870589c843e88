"""``normalize_article(raw) -> Article``: one input record to one normalised article."""

from __future__ import annotations

import hashlib
import posixpath
from datetime import datetime, timezone
from typing import Any, Mapping, Optional

from pydantic import ValidationError

from pipeline import reasons
from pipeline.errors import RejectError
from pipeline.normalize.dates import to_utc
from pipeline.normalize.decode import decode_bytes
from pipeline.normalize.fields import as_list, as_text, map_fields
from pipeline.normalize.html import extract_html_page, html_fragment_to_text, looks_like_html
from pipeline.normalize.text import Dateline, TextRules, text_fingerprint
from pipeline.normalize.words import count_words
from pipeline.normalize.urls import canonical_url, domain_of
from pipeline.records import RawRecord
from schemas.models import SCHEMA_VERSION, Article


def content_hash(text: str) -> str:
    """Hash of the case- and whitespace-insensitive text (the exact-duplicate key)."""
    return hashlib.blake2b(text_fingerprint(text).encode("utf-8"), digest_size=16).hexdigest()


def input_name(input_uri: str) -> str:
    """The last two path segments of an input: stable across machines and mount points."""
    path = input_uri.rstrip("/")
    parent, name = posixpath.split(path.replace("\\", "/"))
    return f"{posixpath.basename(parent)}/{name}" if parent else name


def article_id_for(*, guid: Optional[str], canonical: Optional[str], input_uri: str, position: Optional[int], chash: str) -> str:
    """Stable id: the record's identity (feed guid, canonical URL, or input name and
    position) together with its content hash: same input, same id, everywhere."""
    identity = guid or canonical or f"{input_name(input_uri)}#{position or 0}"
    return hashlib.blake2b(f"{identity}\x1f{chash}".encode("utf-8"), digest_size=8).hexdigest()


def _headline_candidate(fields: Mapping[str, Any]) -> Optional[str]:
    """The title of a feed entry that has a title and a link but no text (else ``None``)."""
    title, link = as_text(fields.get("title")), as_text(fields.get("url"))
    if title and title.strip() and link and link.strip():
        return " ".join(title.split())
    return None


def _language_code(value: Any) -> Optional[str]:
    text = as_text(value)
    if not text:
        return None
    code = text.strip().replace("_", "-").split("-")[0].lower()
    return code if len(code) == 2 and code.isalpha() else None


class Normalizer:
    """Holds the compiled rules; ``normalize`` is pure given ``now``.

    Build one per worker (``DoFn.setup``); ``normalize_article`` builds a
    throw-away one for ad-hoc use.
    """

    def __init__(self, field_map: Optional[Mapping[str, tuple[str, ...]]] = None) -> None:
        self.rules = TextRules()
        self.field_map = dict(field_map or {})

    # ---- per format -------------------------------------------------------------
    def normalize(self, raw: RawRecord, now: Optional[datetime] = None) -> dict:
        """A validated ``Article`` as a dict, or ``RejectError``."""
        now = now or datetime.now(timezone.utc)
        handler = {
            "text": self._from_text,
            "html": self._from_html,
            "jsonl": self._from_fields,
            "csv": self._from_fields,
            "feed": self._from_fields,
        }.get(raw.input_format)
        if handler is None:
            raise RejectError(*reasons.NORMALIZE_UNKNOWN_FORMAT, f"no normaliser for format {raw.input_format!r}")
        return handler(raw, now)

    def _from_text(self, raw: RawRecord, now: datetime) -> dict:
        text, _ = decode_bytes(raw.payload, (raw.context or {}).get("charset"))
        parsed = self.rules.parse_plain_text(text)
        meta = parsed.metadata
        return self._assemble(
            raw,
            now,
            title=parsed.title,
            summary=parsed.lead,
            paragraphs=parsed.paragraphs,
            dateline=parsed.dateline,
            url=meta.get("url"),
            authors=as_list(meta.get("author")),
            source=meta.get("source"),
            published=meta.get("date"),
            published_source="metadata",
            language=meta.get("language"),
            empty_reason=reasons.NORMALIZE_NO_TEXT.reason,
        )

    def _from_html(self, raw: RawRecord, now: datetime) -> dict:
        html, _ = decode_bytes(raw.payload, (raw.context or {}).get("charset"))
        page = extract_html_page(html, url=(raw.context or {}).get("url"))
        if page is None:
            raise RejectError(*reasons.NORMALIZE_NO_TEXT, "the HTML page has no extractable main text")
        text = self.rules.fix_unicode(page["text"])
        paragraphs = [" ".join(line.split()) for line in text.split("\n") if line.strip()]
        title = self.rules.fix_unicode(page.get("title") or "") or None
        if title and paragraphs and self.rules.same_text(paragraphs[0], title):
            paragraphs.pop(0)
        return self._assemble(
            raw,
            now,
            title=title,
            summary=page.get("description"),
            paragraphs=paragraphs,
            url=page.get("url"),
            authors=as_list(page.get("author")),
            source=page.get("sitename"),
            published=page.get("date"),
            published_source="extracted",
            language=page.get("language"),
            categories=as_list(page.get("categories")) + as_list(page.get("tags")),
            empty_reason=reasons.NORMALIZE_NO_TEXT.reason,
        )

    def _from_fields(self, raw: RawRecord, now: datetime) -> dict:
        fields = map_fields(raw.payload, self.field_map)
        context = raw.context or {}
        body = as_text(fields.get("text"))
        is_feed = raw.input_format == "feed"
        headline = None
        if (not body or not body.strip()) and is_feed:
            headline = _headline_candidate(fields)
            body = headline
        if not body or not body.strip():
            raise RejectError(
                *reasons.NORMALIZE_MISSING_FIELD,
                "the record has no text field (tried: " + ", ".join(self.field_map.get("text", ("text", "body", "content", "description"))) + ")",
            )
        if looks_like_html(body):
            body = html_fragment_to_text(body)
        summary = as_text(fields.get("summary"))
        if summary and looks_like_html(summary):
            summary = html_fragment_to_text(summary)
        body = self.rules.fix_unicode(body)
        paragraphs = self.rules.split_paragraphs(body)
        title = as_text(fields.get("title"))
        title = " ".join(self.rules.fix_unicode(title).split()) if title else None
        if title and paragraphs and len(paragraphs) > 1 and self.rules.same_text(paragraphs[0], title):
            paragraphs.pop(0)
        dateline = None
        if paragraphs and headline is None:
            dateline, paragraphs[0] = self.rules.strip_dateline(paragraphs[0])
        if is_feed:
            # A headline-only entry is a candidate (its page may be fetched), not a rejection.
            text_source = "headline" if headline is not None else "feed"
            has_content = bool(raw.payload.get("has_content")) if isinstance(raw.payload, dict) else False
            page_status = "full_content" if has_content else "not_fetched"
        else:
            text_source, page_status = "file", None
        return self._assemble(
            raw,
            now,
            text_source=text_source,
            page_status=page_status,
            title=title,
            summary=" ".join(self.rules.fix_unicode(summary).split()) if summary else None,
            paragraphs=paragraphs,
            dateline=dateline,
            url=as_text(fields.get("url")),
            guid=as_text(fields.get("guid")),
            authors=as_list(fields.get("authors")),
            source=as_text(fields.get("source")) or context.get("feed_title"),
            published=fields.get("published"),
            published_source="feed" if is_feed else "metadata",
            language=fields.get("language") or context.get("language"),
            categories=as_list(fields.get("categories")),
            empty_reason=reasons.NORMALIZE_NO_TEXT.reason,
        )

    # ---- common ---------------------------------------------------------------------
    def _assemble(
        self,
        raw: RawRecord,
        now: datetime,
        *,
        title: Optional[str],
        summary: Optional[str],
        paragraphs: list[str],
        url: Optional[str],
        authors: list[str],
        source: Optional[str],
        published: Any,
        published_source: str,
        language: Any,
        empty_reason: str,
        dateline: Optional[Dateline] = None,
        guid: Optional[str] = None,
        categories: Optional[list[str]] = None,
        text_source: str = "file",
        page_status: Optional[str] = None,
    ) -> dict:
        paragraphs = self.rules.clean_paragraphs(paragraphs)
        text = "\n\n".join(paragraphs)
        if not text.strip():
            raise RejectError(reasons.NORMALIZE, empty_reason, "no article text is left after cleaning")
        if not title:
            title = self.rules.title_from_lead(paragraphs[0])
        summary = summary or paragraphs[0]

        published_at = to_utc(published, now=now)
        date_source = published_source if published_at else "none"
        if published_at is None and dateline and dateline.date_text:
            published_at = to_utc(dateline.date_text, now=now)
            date_source = "dateline" if published_at else "none"

        canonical = canonical_url(url)
        domain = domain_of(canonical)
        if not source and dateline and dateline.publishers:
            source = " / ".join(dateline.publishers)
        source = " ".join(source.split()) if source else None
        source = source or domain

        chash = content_hash(text)
        guid = guid.strip() if guid and guid.strip() else None
        fields = {
            "schema_version": SCHEMA_VERSION,
            "article_id": article_id_for(guid=guid, canonical=canonical, input_uri=raw.input_uri, position=raw.position, chash=chash),
            "title": title,
            "summary": summary,
            "text": text,
            "authors": authors,
            "source": source,
            "source_domain": domain,
            "dateline": dateline.place if dateline else None,
            "url": url.strip() if url else None,
            "canonical_url": canonical,
            "guid": guid,
            "categories": categories or [],
            "language": _language_code(language),
            "language_score": None,
            "word_count": count_words(text),
            "text_source": text_source,
            "page_status": page_status,
            "published_at": published_at,
            "date_source": date_source,
            "ingested_at": now,
            "input_uri": raw.input_uri,
            "input_format": raw.input_format,
            "position": raw.position,
            "content_hash": chash,
            "cluster_id": None,
            "duplicate_count": 0,
        }
        try:
            return Article.model_validate(fields).model_dump()
        except ValidationError as exc:
            raise RejectError(*reasons.NORMALIZE_INVALID_RECORD, str(exc).replace("\n", " ")[:500]) from exc


def normalize_article(raw: RawRecord, *, now: Optional[datetime] = None, normalizer: Optional[Normalizer] = None) -> Article:
    """Normalise one record (convenience wrapper; pipelines reuse one ``Normalizer``)."""
    return Article.model_validate((normalizer or Normalizer()).normalize(raw, now))
