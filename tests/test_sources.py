"""Readers of every input kind, and every read/parse rejection reason."""

from __future__ import annotations

import gzip
import json

import pytest

from conftest import EXAMPLES, NOW
from pipeline.errors import RejectError, Rejection
from pipeline.normalize.article import Normalizer
from pipeline.records import RawRecord
from pipeline.sources.files import format_from_extension, read_file_records, sniff_format


def _read(path):
    return list(read_file_records(str(path), lambda p: open(p, "rb")))


def _reasons(items):
    return [(i.stage, i.reason) for i in items if isinstance(i, Rejection)]


def _records(items):
    return [i for i in items if isinstance(i, RawRecord)]


@pytest.mark.parametrize(
    "name, fmt",
    [("a.txt", "text"), ("a.JSONL", "jsonl"), ("a.ndjson.gz", "jsonl"), ("a.csv", "csv"), ("a.htm", "html"),
     ("a.rss", "feed"), ("a.atom", "feed"), ("a.rdf", "feed"), ("a.xml.gz", "feed"), ("dir.v2/noext", None)],
)
def test_format_from_extension(name, fmt):
    assert format_from_extension(name) == fmt


def test_sniff_format():
    assert sniff_format(b'<?xml version="1.0"?><rss version="2.0">') == "feed"
    assert sniff_format(b"<!DOCTYPE html><html>") == "html"
    assert sniff_format(b'{"title": 1}') == "jsonl"
    assert sniff_format(b"Headline\n\nBody") == "text"


def test_examples_every_kind_reads():
    kinds = {}
    for path in sorted(EXAMPLES.iterdir()):
        items = _read(path)
        kinds[path.name] = (len(_records(items)), _reasons(items))
    assert kinds["wire.jsonl"] == (3, [("parse", "malformed_json")])
    assert kinds["briefs.csv"] == (3, [])
    assert kinds["kabul-airlift.html"] == (1, [])
    assert kinds["world-news.rss"] == (2, [])
    assert kinds["updates.atom"] == (1, [])
    assert kinds["archive.jsonl.gz"] == (2, [])


def test_jsonl_positions_and_raw_kept(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"title": "a", "text": "one"}\n\n[1, 2]\n{bad json\n{"title": "b", "text": "two"}\n')
    items = _read(path)
    assert [(r.position, r.payload["title"]) for r in _records(items)] == [(1, "a"), (5, "b")]
    rejections = [i for i in items if isinstance(i, Rejection)]
    assert [(r.reason, r.position, r.payload) for r in rejections] == [
        ("not_an_object", 3, b"[1, 2]\n"),
        ("malformed_json", 4, b"{bad json\n"),
    ]


def test_truncated_gzip_keeps_complete_lines_and_rejects_the_rest(tmp_path):
    lines = b"".join(json.dumps({"title": f"t{i}", "text": "x " * 200}).encode() + b"\n" for i in range(50))
    whole = gzip.compress(lines)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    items = _read(path)
    records = _records(items)
    assert 0 < len(records) < 50
    assert ("read", "corrupt_compression") in _reasons(items)


def test_truncated_gzip_whole_file_format(tmp_path):
    path = tmp_path / "cut.txt.gz"
    body = " ".join(f"word{i * 7919 % 10007}" for i in range(3000)).encode()
    whole = gzip.compress(b"Headline\n\n" + body)
    path.write_bytes(whole[: len(whole) // 2])
    assert _reasons(_read(path)) == [("read", "corrupt_compression")]


def test_not_gzip_at_all(tmp_path):
    path = tmp_path / "fake.txt.gz"
    path.write_bytes(b"plain text pretending")
    assert _reasons(_read(path)) == [("read", "corrupt_compression")]


@pytest.mark.parametrize("content", [b"", b"  \n\t\n"])
def test_empty_files(tmp_path, content):
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    assert _reasons(_read(path)) == [("read", "empty_file")]


def test_empty_jsonl(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"\n\n")
    assert _reasons(_read(path)) == [("read", "empty_file")]


def test_binary_junk(tmp_path):
    path = tmp_path / "junk.txt"
    path.write_bytes(bytes((i * 37 + 11) % 256 for i in range(4096)))
    items = _read(path)
    assert _reasons(items) == [("decode", "binary")]
    assert items[0].payload.startswith(bytes([11]))


def test_csv_header_required(tmp_path):
    path = tmp_path / "nohead.csv"
    path.write_bytes(b"Some headline,Some body text,http://x.example/a\nOther,Other body,http://x.example/b\n")
    assert _reasons(_read(path)) == [("parse", "csv_no_header")]


def test_csv_bad_row_and_semicolons(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_bytes(b"title;text;url\nA;Body a;http://x.example/a\nB;only two\nC;Body c;http://x.example/c\n")
    items = _read(path)
    assert [r.payload["title"] for r in _records(items)] == ["A", "C"]
    assert [(i.reason, i.position) for i in items if isinstance(i, Rejection)] == [("csv_bad_row", 3)]


def test_json_array(tmp_path):
    path = tmp_path / "a.json"
    path.write_bytes(json.dumps({"articles": [{"title": "a", "text": "b"}, {"title": "c", "text": "d"}]}).encode())
    assert [r.position for r in _records(_read(path))] == [1, 2]


def test_html_page_instead_of_feed(tmp_path):
    path = tmp_path / "page.xml"
    path.write_bytes(b"<html><body><p>Not a feed</p></body></html>")
    assert _reasons(_read(path)) == [("parse", "not_a_feed")]


def test_feed_with_no_entries(tmp_path):
    path = tmp_path / "empty.rss"
    path.write_bytes(b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>')
    assert _reasons(_read(path)) == [("parse", "empty_feed")]


def test_feed_entry_fields():
    records = _records(_read(EXAMPLES / "world-news.rss"))
    first = records[0]
    assert first.payload["guid"] == "world-example-88213"
    assert first.payload["published"] == "2021-08-30T06:00:00+00:00"
    assert first.payload["authors"] == ["Maria Lopez"]
    assert first.payload["categories"] == ["World", "United Nations"]
    assert "<p>" in first.payload["text"]  # content:encoded preferred over description
    assert first.context["feed_title"] == "Example World News"


# ---- normalisation of the non-text kinds ---------------------------------------------------

def test_html_page_normalised(normalizer):
    data = (EXAMPLES / "kabul-airlift.html").read_bytes()
    a = normalizer.normalize(RawRecord("/x/kabul-airlift.html", "html", data, raw=data), NOW)
    assert a["title"] == "Final British evacuation flight leaves Kabul"
    assert a["source"] == "Example Gazette"
    assert a["authors"] == ["Tom Harris"]
    assert a["published_at"].isoformat() == "2021-08-28T20:45:00+00:00" and a["date_source"] == "extracted"
    assert "two-week evacuation mission" in a["text"]
    assert "Most read" not in a["text"] and "Privacy" not in a["text"] and "Home |" not in a["text"]
    assert a["canonical_url"] == "https://gazette.example.com/world/final-british-evacuation-flight-kabul"


def test_html_without_text_rejected(normalizer):
    data = b"<html><head><title>x</title></head><body><nav><a href='/'>Home</a></nav></body></html>"
    with pytest.raises(RejectError) as info:
        normalizer.normalize(RawRecord("/x/empty.html", "html", data), NOW)
    assert info.value.reason == "no_text"


def test_feed_entry_normalised(normalizer):
    record = _records(_read(EXAMPLES / "world-news.rss"))[0]
    a = normalizer.normalize(record, NOW)
    assert a["source"] == "Example World News" and a["date_source"] == "feed"
    assert a["guid"] == "world-example-88213"
    assert a["canonical_url"] == "https://world.example.org/2021/08/30/un-security-council-afghanistan"
    assert a["text"].count("\n\n") == 1 and "<p>" not in a["text"]
    assert '"safe zone"' in a["text"]
    assert a["language"] == "en"


def test_jsonl_field_mapping_and_html_body(normalizer):
    records = _records(_read(EXAMPLES / "wire.jsonl"))
    wire, partner, g7 = (normalizer.normalize(r, NOW) for r in records)
    assert wire["title"].startswith("US completes withdrawal") and wire["guid"] == "wire-20210830-0142"
    assert wire["dateline"] == "Washington" and wire["text"].startswith("The United States completed")
    assert wire["categories"] == ["World", "Afghanistan"] and wire["authors"] == ["Jane Doe"]
    assert partner["source"] == "Partner Daily"
    assert g7["authors"] == ["Sam Reporter", "Alex Writer"] and g7["language"] == "en"
    assert "Photo: G7 leaders" not in g7["text"]
    assert g7["source"] == "news.example.net"  # no publisher field: the domain


def test_field_map_override():
    record = RawRecord("/x/a.jsonl", "jsonl", {"hed": "Custom", "copy": "Body words here.", "text": "ignored"}, position=1)
    from pipeline.normalize.fields import parse_field_map

    a = Normalizer(parse_field_map("title=hed,text=copy")).normalize(record, NOW)
    assert (a["title"], a["text"]) == ("Custom", "Body words here.")
    with pytest.raises(ValueError):
        parse_field_map("bogus=x")


def test_missing_text_field_rejected(normalizer):
    with pytest.raises(RejectError) as info:
        normalizer.normalize(RawRecord("/x/a.csv", "csv", {"title": "Only a title", "body": ""}, position=2), NOW)
    assert (info.value.stage, info.value.reason) == ("normalize", "missing_field")
