"""HTML to article fields (trafilatura) and HTML fragments to text (lxml)."""

from __future__ import annotations

import re
from typing import Any, Optional

import lxml.etree
import lxml.html
import trafilatura

_BLOCK_TAGS = frozenset(
    "p div section article header footer aside blockquote li ul ol dl dt dd table tr h1 h2 h3 h4 h5 h6 pre figure figcaption hr".split()
)
_DROP_TAGS = ("script", "style", "noscript", "iframe", "object", "embed", "svg", "form", "template")
# Main text shorter than this is navigation or an error page, not an article.
MIN_PAGE_WORDS = 10
_DATE_PARAMS = {"extensive_search": True, "original_date": True, "outputformat": "%Y-%m-%dT%H:%M:%S%z"}


_HTML_TAG = re.compile(r"<(?:/|p[\s>]|br\b|div\b|html\b|a\s+href|span\b|strong\b|em\b|img\b)", re.I)


def looks_like_html(text: str) -> bool:
    return "<" in text and bool(_HTML_TAG.search(text, 0, 2000))


def html_fragment_to_text(fragment: str) -> str:
    """Text of an HTML fragment (feed content, JSON body): blocks become paragraphs."""
    if not fragment or not fragment.strip():
        return ""
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return fragment
    for bad in root.iter(*_DROP_TAGS):
        bad.drop_tree()
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        tag = element.tag.lower()
        if tag == "br":
            element.tail = "\n" + (element.tail or "")
        elif tag in _BLOCK_TAGS:
            element.text = "\n\n" + (element.text or "")
            element.tail = "\n\n" + (element.tail or "")
    return root.text_content()


def extract_html_page(html: str, url: Optional[str] = None) -> Optional[dict[str, Any]]:
    """Main text and metadata of a whole HTML page, or ``None`` when there is no main text
    (fewer than ``MIN_PAGE_WORDS`` words)."""
    document = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        favor_precision=True,
        date_extraction_params=_DATE_PARAMS,
    )
    if document is None:
        return None
    data = document.as_dict() if hasattr(document, "as_dict") else dict(document)
    if len((data.get("text") or "").split()) < MIN_PAGE_WORDS:
        return None
    return data
