"""Plain-text article rules: Unicode repair, paragraphs, metadata header, dateline,
repeated lead, photo captions, embedded social posts and boilerplate lines.

Everything is compiled once in ``TextRules.__init__`` (so a DoFn builds it in
``setup()``); the methods are pure functions of their arguments.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Optional

import ftfy

from pipeline.normalize.dates import parse_date_text

# Typographic characters folded to their plain equivalents in the clean text.
_CHAR_MAP = {
    **{ord(c): "'" for c in "\u2018\u2019\u201a\u201b\u2032"},
    **{ord(c): '"' for c in "\u201c\u201d\u201e\u201f\u2033"},
    **{ord(c): " " for c in "\u00a0\u2007\u202f\u2009\u200a\u3000"},
    **{ord(c): None for c in "\u00ad\u200b\u200c\u200d\u2060\ufeff"},
}
TITLE_MAX_CHARS = 200
HEADLINE_MAX_WORDS = 20
SHORT_PARAGRAPH_WORDS = 40


@dataclass
class Dateline:
    place: str
    publishers: list[str] = field(default_factory=list)
    date_text: Optional[str] = None


@dataclass
class PlainText:
    """A plain-text article taken apart."""

    title: Optional[str]
    lead: Optional[str]
    paragraphs: list[str]
    metadata: dict[str, str] = field(default_factory=dict)
    dateline: Optional[Dateline] = None


class TextRules:
    """Compiled cleaning rules; build once per worker."""

    def __init__(self) -> None:
        # UTF-8 read as Windows-1252/Latin-1: a lead byte followed by a continuation byte.
        self.mojibake = re.compile(
            "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
            "\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
            "|[\u0080-\u009f]"
        )
        chars = "".join(chr(c) for c in _CHAR_MAP)
        self.foldable = re.compile(f"[{re.escape(chars)}]")
        self.fold = re.compile(f"[{re.escape(chars)}]+")
        self.blank_line = re.compile(r"\n[ \t\r\f\v]*\n")
        self.meta_date = re.compile(
            r"^\s*(?P<key>date|published|updated|pubdate)\s*[:=]?\s*"
            r"(?P<value>\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?)(?=\s|$)",
            re.I,
        )
        self.meta_line = re.compile(
            r"^\s*(?P<key>title|headline|source|publisher|author|authors|by|url|link|language|lang|date|published)"
            r"\s*:\s*(?P<value>[^\n]+?)\s*(?:\n|$)",
            re.I,
        )
        self.dateline = re.compile(
            r"^(?P<place>[A-Z][A-Z.'\u2019-]+(?:[ ,]+[A-Z][A-Z.'\u2019-]+){0,3})"
            r"(?:,\s*(?P<date>[A-Z][a-z]{2,8}\.?\s+\d{1,2}(?:,?\s+\d{4})?))?"
            r"\s*\((?P<inner>[^()]{2,120})\)\s*(?P<dash>[-\u2013\u2014:]\s*)?(?P<rest>\S.*)$",
            re.S,
        )
        self.inner_split = re.compile(r"\s+[-\u2013\u2014]\s+")
        self.caption_credit = re.compile(
            r"^(?P<caption>[^()]{1,200}?)\s*\((?P<credit>(?:[A-Z][\w.'&-]*\s*)+/\s*[A-Z][\w.&-]*(?:\s+[A-Z][\w.&-]*){0,3})\)$"
        )
        self.caption_prefix = re.compile(
            r"^(?:photo(?:graph)?|picture|pic|image|caption|credit|video)s?\s*(?::|by\b|credit\b|copyright\b)"
            r"|^image (?:copyright|caption)\b|^(?:getty images|afp via getty images|reuters|ap photo)\b.{0,40}$",
            re.I,
        )
        self.embed = re.compile(
            r"[\u2014\u2013-]\s*[^()\n]{1,80}\(@\w{1,15}\)\s+[A-Z][a-z]+\.?\s+\d{1,2},\s+\d{4}\s*$"
            r"|^A post shared by .{1,80}\(@[\w.]{1,30}\)"
            r"|^pic\.twitter\.com/\w+$"
        )
        self.boilerplate = re.compile(
            r"^(?:advertisement|advert|sponsored(?: content)?|read more\b.*|related\s*:.*|see also\s*:.*"
            r"|share this(?: article| story)?|click here\b.*|sign up\b.*newsletter.*|follow us on\b.*"
            r"|media playback is (?:not )?supported on this device|(?:\(c\)|\u00a9|copyright)\s.*all rights reserved\.?"
            r"|all rights reserved\.?|this article (?:was|has been) (?:amended|updated)\b.*)$",
            re.I,
        )
        self.space_before_punct = re.compile(r"(?<=\w)\s+([,;.])(?=\s|$)")
        self.stray_quote = re.compile(r'(?<=[.!?,])\s+"$')
        self.double_period = re.compile(r'([.!?]["\']?)\s+\.(?=\s|$)')
        self.sentence_end = re.compile(r"(?<=[.!?])[\"']?\s+(?=[\"'A-Z0-9])")
        self.norm_words = re.compile(r"\W+")

    # ---- Unicode -----------------------------------------------------------------
    def fix_unicode(self, text: str) -> str:
        """Repair mojibake (ftfy, only where a mojibake signature is present: ftfy costs
        ~0.7 ms per article), fold typographic quotes and odd spaces, NFC, ``\\n`` newlines."""
        if not text.isascii():
            if self.mojibake.search(text):
                text = ftfy.fix_text(text)
            if self.foldable.search(text):
                text = self.fold.sub(_fold_char, text)
            text = unicodedata.normalize("NFC", text)
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        return text

    # ---- structure -----------------------------------------------------------------
    def split_paragraphs(self, text: str) -> list[str]:
        """Blank-line separated paragraphs (single lines when there are no blank lines),
        whitespace collapsed, empties dropped."""
        blocks = self.blank_line.split(text.strip())
        if len(blocks) == 1:
            blocks = blocks[0].split("\n")
        return [p for p in (" ".join(b.split()) for b in blocks) if p]

    def parse_metadata_header(self, text: str) -> tuple[dict[str, str], str]:
        """Leading ``key: value`` lines and an inline ``date 2021-08-16`` prefix."""
        metadata: dict[str, str] = {}
        while True:
            match = self.meta_date.match(text) or self.meta_line.match(text)
            if not match:
                return metadata, text
            key = match.group("key").lower()
            metadata.setdefault(_META_ALIASES.get(key, key), match.group("value").strip())
            text = text[match.end():]

    def strip_dateline(self, paragraph: str) -> tuple[Optional[Dateline], str]:
        """``LONDON (UrduPoint News / Sputnik - 16th August, 2021) text`` -> Dateline + text.

        Accepted only with an all-capitals place and either a date or a dash after
        the parentheses, so ``UK (and US) troops`` stays text."""
        match = self.dateline.match(paragraph)
        if not match:
            return None, paragraph
        place = match.group("place").strip(" ,")
        letters = [c for c in place if c.isalpha()]
        if len(letters) < 2 or not all(c.isupper() for c in letters):
            return None, paragraph
        parts = [p.strip() for p in self.inner_split.split(match.group("inner")) if p.strip()]
        date_text = match.group("date") if match.group("date") and _is_date(match.group("date")) else None
        names: list[str] = []
        for part in parts:
            if date_text is None:
                name, found = _split_trailing_date(part)
                if found:
                    date_text, part = found, name
            names.extend(n.strip() for n in part.split("/") if n.strip())
        if date_text is None and not match.group("dash"):
            return None, paragraph
        return Dateline(place=place.title(), publishers=names, date_text=date_text), match.group("rest").strip()

    def headline_like(self, paragraph: str) -> bool:
        words = paragraph.split()
        if len(words) > HEADLINE_MAX_WORDS or len(paragraph) > 200:
            return False
        return not paragraph.endswith(".") or len(words) <= 12 and not self.sentence_end.search(paragraph)

    def title_from_lead(self, lead: str) -> str:
        sentence = self.sentence_end.split(lead, maxsplit=1)[0].strip()
        if len(sentence) <= TITLE_MAX_CHARS:
            return sentence.rstrip(".")
        cut = sentence[: TITLE_MAX_CHARS - 1].rsplit(" ", 1)[0].rstrip(" ,;:-")
        return cut + "\u2026"

    def same_text(self, a: str, b: str) -> bool:
        """``b`` merely repeats ``a`` (or the reverse), ignoring case and punctuation."""
        if min(len(a), len(b)) < 0.7 * max(len(a), len(b)):
            return False
        na = self.norm_words.sub(" ", a.lower()).strip()
        nb = self.norm_words.sub(" ", b.lower()).strip()
        if not na or not nb:
            return False
        short, long_ = sorted((na, nb), key=len)
        return long_.startswith(short) and len(short) >= 0.8 * len(long_)

    # ---- paragraph filters --------------------------------------------------------
    def is_caption(self, paragraph: str) -> bool:
        if len(paragraph) > 12 * SHORT_PARAGRAPH_WORDS or len(paragraph.split()) > SHORT_PARAGRAPH_WORDS:
            return False
        match = self.caption_credit.match(paragraph) if paragraph.endswith(")") else None
        if match and not match.group("caption").rstrip().endswith((".", "!", "?", ":")):
            return True
        return bool(self.caption_prefix.match(paragraph))

    def is_embed(self, paragraph: str) -> bool:
        if "(@" not in paragraph and "pic.twitter.com" not in paragraph:
            return False  # cheap guard: the regex below is the costly part of cleaning
        return bool(self.embed.search(paragraph))

    def is_boilerplate(self, paragraph: str) -> bool:
        return len(paragraph) <= 200 and len(paragraph.split()) <= 15 and bool(self.boilerplate.match(paragraph))

    def tidy(self, paragraph: str) -> str:
        """Spacing before punctuation, a stray quote or period left at the end."""
        if " ," in paragraph or " ." in paragraph or " ;" in paragraph:  # guards keep the common case cheap
            paragraph = self.space_before_punct.sub(r"\1", paragraph)
            paragraph = self.double_period.sub(r"\1", paragraph)
        if paragraph.endswith('"'):
            paragraph = self.stray_quote.sub('"', paragraph)
        return paragraph

    def clean_paragraphs(self, paragraphs: list[str]) -> list[str]:
        out = []
        for p in paragraphs:
            if self.is_caption(p) or self.is_embed(p) or self.is_boilerplate(p):
                continue
            p = self.tidy(p)
            if p:
                out.append(p)
        return out

    # ---- whole article ----------------------------------------------------------
    def parse_plain_text(self, text: str) -> PlainText:
        """Take a decoded plain-text article apart (one file = one article)."""
        text = self.fix_unicode(text)
        metadata, text = self.parse_metadata_header(text)
        paragraphs = self.split_paragraphs(text)
        title = metadata.pop("title", None)
        if title is None and len(paragraphs) > 1 and self.headline_like(paragraphs[0]):
            title = paragraphs.pop(0)
        dateline = None
        for i in range(min(2, len(paragraphs))):
            dateline, rest = self.strip_dateline(paragraphs[i])
            if dateline:
                paragraphs[i] = rest
                break
        if len(paragraphs) > 1 and self.same_text(paragraphs[0], paragraphs[1]):
            paragraphs.pop(0)  # a summary line that the next paragraph repeats
        paragraphs = self.clean_paragraphs(paragraphs)
        lead = paragraphs[0] if paragraphs else None
        if title is None and lead:
            title = self.title_from_lead(lead)
        return PlainText(title=title, lead=lead, paragraphs=paragraphs, metadata=metadata, dateline=dateline)


_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")


def _fold_char(match: "re.Match[str]") -> str:
    return match.group(0).translate(_CHAR_MAP)


def _is_date(text: str) -> bool:
    """A full date with a year (a dateline's ``Aug 16`` alone would need a guessed year)."""
    return bool(_YEAR.search(text)) and parse_date_text(text) is not None


def _split_trailing_date(part: str) -> tuple[str, Optional[str]]:
    """``"Reuters, Aug 16, 2021"`` -> ``("Reuters", "Aug 16, 2021")``; ``(part, None)`` without a date."""
    if _is_date(part):
        return "", part
    start = part.find(", ")
    while start != -1:
        if _is_date(part[start + 2:]):
            return part[:start], part[start + 2:]
        start = part.find(", ", start + 2)
    return part, None


_META_ALIASES = {
    "headline": "title",
    "publisher": "source",
    "authors": "author",
    "by": "author",
    "link": "url",
    "lang": "language",
    "published": "date",
    "pubdate": "date",
    "updated": "date",
}


def text_fingerprint(text: str) -> str:
    """The case- and whitespace-insensitive form of ``text`` that exact dedup hashes."""
    return " ".join(text.lower().split())
