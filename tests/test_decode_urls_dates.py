from __future__ import annotations

import codecs
from datetime import datetime, timezone

import pytest

from pipeline.errors import RejectError
from pipeline.normalize.dates import to_utc
from pipeline.normalize.decode import decode_bytes
from pipeline.normalize.urls import canonical_url, domain_of

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_latin1_byte_becomes_pound_sign():
    # The shape of ../shared/corpora/bbc/sport/199.txt: UTF-8-compatible text with one raw 0xA3.
    text, encoding = decode_bytes(b"Chelsea sack Mutu\n\nA transfer fee for Mutu, a \xa315.8m signing from Parma.")
    assert "\u00a315.8m" in text and encoding == "cp1252"


def test_boms_and_declared_charsets():
    assert decode_bytes(codecs.BOM_UTF8 + "caf\u00e9".encode())[0] == "caf\u00e9"
    assert decode_bytes(codecs.BOM_UTF16_LE + "caf\u00e9".encode("utf-16-le"))[0] == "caf\u00e9"
    cyrillic = "\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440".encode("cp1251")
    assert decode_bytes(cyrillic, declared="windows-1251")[0] == "\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440"
    html = '<html><head><meta charset="iso-8859-15"></head><body>\u20ac5</body></html>'.encode("iso-8859-15")
    assert "\u20ac5" in decode_bytes(html)[0]


def test_wrong_declared_charset_falls_back_to_utf8():
    assert decode_bytes("na\u00efve caf\u00e9".encode("utf-8"), declared="us-ascii")[0] == "na\u00efve caf\u00e9"


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty_file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
        (bytes([0x81, 0x8D, 0x8F, 0x90, 0x9D, 0x01, 0x02, 0x03, 0x04, 0x05]) * 30, "undecodable"),
    ],
)
def test_rejections(data, reason):
    with pytest.raises(RejectError) as info:
        decode_bytes(data)
    assert info.value.reason == reason


@pytest.mark.parametrize(
    "url, expected",
    [
        ("HTTPS://WWW.Example.COM:443/a/b/?utm_source=x&b=2&a=1&fbclid=zz&gclid=1#frag", "https://www.example.com/a/b?b=2&a=1"),
        ("http://example.com", "http://example.com/"),
        ("http://example.com:8080/x?utm_medium=feed", "http://example.com:8080/x"),
        ("ftp://example.com/file", None),
        ("not a url", None),
        (None, None),
    ],
)
def test_canonical_url(url, expected):
    assert canonical_url(url) == expected


def test_domain_of():
    assert domain_of("https://www.BBC.co.uk/news") == "bbc.co.uk"
    assert domain_of(None) is None


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2021-08-16", datetime(2021, 8, 16, tzinfo=timezone.utc)),
        ("2021-08-30T20:30:00-04:00", datetime(2021, 8, 31, 0, 30, tzinfo=timezone.utc)),
        ("Sun, 22 Aug 2021 18:05:00 GMT", datetime(2021, 8, 22, 18, 5, tzinfo=timezone.utc)),
        ("16th August, 2021", datetime(2021, 8, 16, tzinfo=timezone.utc)),
        (1630051200, datetime(2021, 8, 27, 8, 0, tzinfo=timezone.utc)),
        (1630051200000, datetime(2021, 8, 27, 8, 0, tzinfo=timezone.utc)),
        ("yesterday-ish", None),
        ("2099-01-01", None),  # implausible future: not presented as fact
        ("1066-10-14", None),
        ("", None),
    ],
)
def test_to_utc(value, expected):
    assert to_utc(value, now=NOW) == expected
