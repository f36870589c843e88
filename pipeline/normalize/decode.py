"""Bytes to clean Unicode: BOM, declared charset, UTF-8, then a documented fallback."""

from __future__ import annotations

import codecs
import re
import unicodedata
from typing import Optional

import charset_normalizer

from pipeline import reasons
from pipeline.errors import RejectError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Share of non-ASCII bytes above which a statistical detector is worth its cost.
_DETECT_MIN_NON_ASCII = 0.02
# Text whose share of control / replacement characters exceeds this is junk.
MAX_JUNK_RATIO = 0.02
_JUNK = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufffd\ufffe\uffff]")
_CHARSET_IN_XML = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)""")
_CHARSET_IN_META = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9._-]+)""", re.I)


def sniff_declared_charset(data: bytes) -> Optional[str]:
    """The charset an XML declaration or HTML ``<meta>`` in the first 2 KiB declares."""
    head = data[:2048]
    match = _CHARSET_IN_XML.match(head) or _CHARSET_IN_META.search(head)
    return match.group(1).decode("ascii").lower() if match else None


def _valid_codec(name: Optional[str]) -> Optional[str]:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def junk_ratio(text: str) -> float:
    if not text or not _JUNK.search(text):
        return 0.0
    return len(_JUNK.findall(text)) / len(text)


def decode_bytes(data: bytes, declared: Optional[str] = None) -> tuple[str, str]:
    """Decode ``data`` robustly; returns ``(text, encoding used)``.

    Order: byte-order mark, the declared charset (HTTP header, XML or HTML
    declaration) when it decodes cleanly, strict UTF-8, then a fallback: a
    statistical guess (charset-normalizer) when the bytes are substantially
    non-ASCII, otherwise Windows-1252, the usual legacy encoding of Western
    news text (so a stray Latin-1 ``0xA3`` becomes ``£``).  Raises
    ``RejectError`` for binary data or text that stays mostly junk.
    """
    if not data:
        raise RejectError(*reasons.DECODE_EMPTY_FILE, "the input has no bytes")
    encoding = bom_encoding(data)
    if encoding:
        return data.decode(encoding, "replace"), encoding
    if b"\x00" in data[:4096]:
        raise RejectError(*reasons.DECODE_BINARY, "NUL bytes: this is binary data, not text")
    candidates = [_valid_codec(declared), _valid_codec(sniff_declared_charset(data)), "utf-8"]
    for encoding in dict.fromkeys(c for c in candidates if c):
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        if junk_ratio(text) <= MAX_JUNK_RATIO:
            return text, encoding
    non_ascii = sum(1 for b in data if b > 0x7F) / len(data)
    encoding = "cp1252"
    if non_ascii > _DETECT_MIN_NON_ASCII:
        best = charset_normalizer.from_bytes(data).best()
        if best is None:
            raise RejectError(*reasons.DECODE_UNDECODABLE, "no text encoding fits these bytes")
        encoding = best.encoding
    text = data.decode(encoding, "replace")
    if junk_ratio(text) > MAX_JUNK_RATIO:
        raise RejectError(
            *reasons.DECODE_UNDECODABLE, f"{junk_ratio(text):.0%} of the characters are control or undecodable bytes"
        )
    return text, encoding


def bom_encoding(data: bytes) -> Optional[str]:
    """The codec a leading byte-order mark names (``utf-8-sig``, ``utf-16``, ``utf-32``), or None."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    return None


def looks_binary(data: bytes) -> bool:
    """NUL bytes in the first 4 KiB, unless a UTF-16/UTF-32 byte-order mark says they are text."""
    if bom_encoding(data) in ("utf-16", "utf-32"):
        return False
    return b"\x00" in data[:4096]


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)
