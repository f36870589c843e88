"""Mapping of the common field names of JSONL/CSV/feed records onto article fields."""

from __future__ import annotations

from typing import Any, Mapping, Optional

# Target field -> source names tried in order (case-insensitive).  A source name
# used for one target is not used for a later one ("description" is the text
# only when there is no body field, otherwise it is the summary).
DEFAULT_ALIASES: dict[str, tuple[str, ...]] = {
    "text": ("text", "body", "content", "article", "article_text", "full_text", "maintext", "content_encoded", "description"),
    "title": ("title", "headline", "heading", "name"),
    "summary": ("summary", "description", "abstract", "lead", "excerpt", "standfirst", "dek", "subtitle"),
    "url": ("url", "link", "href", "permalink", "web_url", "canonical_url"),
    "published": (
        "published", "published_at", "publishedat", "date", "pubdate", "pub_date", "publish_date",
        "datepublished", "date_published", "publication_date", "created_at", "created", "timestamp", "time", "updated",
    ),
    "authors": ("authors", "author", "byline", "creator", "creators", "writer", "writers"),
    "source": ("source", "publisher", "site_name", "sitename", "site", "outlet", "source_name", "provider"),
    "guid": ("guid", "id", "uuid", "uid", "article_id", "entry_id"),
    "language": ("language", "lang", "locale", "inlanguage"),
    "categories": ("categories", "category", "tags", "section", "sections", "topics"),
}
TARGETS = tuple(DEFAULT_ALIASES)


def parse_field_map(spec: Optional[str]) -> dict[str, tuple[str, ...]]:
    """``"text=body_html,title=hed|headline"`` -> overrides of ``DEFAULT_ALIASES``."""
    overrides: dict[str, tuple[str, ...]] = {}
    if not spec:
        return overrides
    for item in spec.split(","):
        if not item.strip():
            continue
        target, sep, names = item.partition("=")
        target = target.strip().lower()
        if not sep or target not in DEFAULT_ALIASES:
            raise ValueError(f"--field-map: expected TARGET=NAME[|NAME…] with TARGET in {', '.join(TARGETS)}; got {item!r}")
        overrides[target] = tuple(n.strip().lower() for n in names.split("|") if n.strip())
    return overrides


def map_fields(record: Mapping[str, Any], overrides: Optional[Mapping[str, tuple[str, ...]]] = None) -> dict[str, Any]:
    """Article field -> raw value (only fields found with a non-empty value)."""
    lowered: dict[str, Any] = {}
    for key, value in record.items():
        if key is None:
            continue
        lowered.setdefault(str(key).strip().lower(), value)
    used: set[str] = set()
    out: dict[str, Any] = {}
    for target, defaults in DEFAULT_ALIASES.items():
        names = (overrides or {}).get(target, defaults)
        for name in names:
            if name in used or name not in lowered:
                continue
            value = lowered[name]
            if value is None or value == "" or value == [] or value == {}:
                continue
            out[target] = value
            used.add(name)
            break
    return out


def as_text(value: Any) -> Optional[str]:
    """A scalar field as text; dicts give their name/title/value, lists are joined."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("name", "title", "value", "text", "href", "url", "#text"):
            if isinstance(value.get(key), str):
                return value[key]
        return None
    if isinstance(value, (list, tuple)):
        parts = [as_text(v) for v in value]
        return "\n\n".join(p for p in parts if p) or None
    return str(value)


def as_list(value: Any) -> list[str]:
    """Authors/categories: a list, or a string split on ``;`` and ``|``."""
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else [value]
    out: list[str] = []
    for item in items:
        text = as_text(item)
        if not text:
            continue
        for part in text.replace("|", ";").split(";") if isinstance(item, str) else [text]:
            part = " ".join(part.split())
            if part and part not in out:
                out.append(part)
    return out
