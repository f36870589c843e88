"""Hostile input files never stop a run: each problem is one ``rejected`` row with a listed code.

Every reader (text, JSONL, JSON, CSV, HTML, feed, gzip) gets pathological input (deep nesting,
a 100,000-digit number, a lone surrogate, a CSV field over the csv module's limit, NUL bytes,
truncated gzip, a gzip bomb, byte-order marks); then the job runs over good and hostile files.
The reason-code registry (pipeline/reasons.py) is checked against the code base, the README and
the rejected schema.
"""

from __future__ import annotations

import ast
import codecs
import csv
import gzip
import io
import json
import random
import re
from pathlib import Path

import duckdb
import pytest

from conftest import NOW, ROOT
from pipeline import reasons
from pipeline.errors import Rejection
from pipeline.normalize import NormalizeArticleFn
from pipeline.records import RawRecord
from pipeline.sources import files
from pipeline.sources.files import open_decompressed, read_file_records

DEEP = 100_000
HUGE_INT = b"1" * 100_000  # over Python's 4,300-digit int-from-str limit


def _read(name: str, data: bytes, **kwargs) -> list:
    return list(read_file_records(name, lambda _: io.BytesIO(data), **kwargs))


def _codes(items) -> list[str]:
    return [f"{i.stage}/{i.reason}" for i in items if isinstance(i, Rejection)]


def _records(items) -> list[RawRecord]:
    return [i for i in items if isinstance(i, RawRecord)]


def _words(seed: int, n: int = 60) -> str:
    rng = random.Random(seed)
    return " ".join(f"w{rng.randrange(100_000)}" for _ in range(n))


def _line(obj) -> bytes:
    return json.dumps(obj).encode() + b"\n"


GOOD = _line({"title": "Good one", "text": _words(1)})
GOOD2 = _line({"title": "Good two", "text": _words(2)})
SURROGATE = b'{"title": "bad", "text": "half an emoji \\ud800 here"}\n'
FEED_HEAD = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
FEED_TAIL = b"</channel></rss>"


def _item(title: bytes, text: bytes) -> bytes:
    return b"<item><title>" + title + b"</title><description>" + text + b"</description></item>"


# (file name, bytes, codes of the rejections in order, records kept)
CASES = {
    # text and HTML: one record per file
    "text-nul": ("a.txt", b"Headline\n\nBody\x00with a NUL", ["decode/binary"], 0),
    "text-huge-number": ("a.txt", HUGE_INT, [], 1),
    "html-nul": ("a.html", b"<html><body><p>x\x00y</p></body></html>", ["decode/binary"], 0),
    "html-deep": ("a.html", b"<html><body>" + b"<div>" * DEEP + b"<p>text</p>" + b"</div>" * DEEP + b"</body></html>", [], 1),
    # JSONL: one row per bad line, the good lines kept
    "jsonl-deep": ("a.jsonl", GOOD + b"[" * DEEP + b"\n" + GOOD2, ["parse/too_deep"], 2),
    "jsonl-deep-parses": ("a.jsonl", GOOD + b'{"a":' * 200 + b"1" + b"}" * 200 + b"\n" + GOOD2, ["parse/too_deep"], 2),
    "jsonl-huge-number": ("a.jsonl", GOOD + b'{"text": ' + HUGE_INT + b"}\n" + GOOD2, ["parse/malformed_json"], 2),
    "jsonl-surrogate": ("a.jsonl", GOOD + SURROGATE + GOOD2, ["parse/invalid_unicode"], 2),
    "jsonl-surrogate-key": ("a.jsonl", b'{"\\udfff": 1, "text": "x"}\n' + GOOD, ["parse/invalid_unicode"], 1),
    "jsonl-nul": ("a.jsonl", GOOD + b'{"text": "a\x00b"}\n' + GOOD2, ["parse/malformed_json"], 2),
    # JSON: the whole document, or one row per bad record
    "json-deep": ("a.json", b"[" * DEEP, ["parse/too_deep"], 0),
    "json-deep-record": ("a.json", b"[" + GOOD + b"," + b"[" * 100 + b"]" * 100 + b"," + GOOD2 + b"]", ["parse/not_an_object"], 2),
    "json-deep-object": ("a.json", b"[" + GOOD + b"," + b'{"a":' * 100 + b"1" + b"}" * 100 + b"]", ["parse/too_deep"], 1),
    "json-huge-number": ("a.json", b'[{"text": ' + HUGE_INT + b"}]", ["parse/malformed_json"], 0),
    "json-surrogate": ("a.json", b"[" + GOOD + b"," + SURROGATE + b"," + GOOD2 + b"]", ["parse/invalid_unicode"], 2),
    "json-nul": ("a.json", b'[{"text": "a\x00b"}]', ["parse/malformed_json"], 0),
    # CSV
    "csv-field-over-limit": ("a.csv", b'title,text\nok,fine\nbig,"' + b"x" * (csv.field_size_limit() + 10) + b'\nmore",z\nnext,row\n',
                             ["parse/csv_error"], 1),
    "csv-nul": ("a.csv", b"title,text\nx,a\x00b\n", ["decode/binary"], 0),
    "csv-huge-number": ("a.csv", b"title,text\nx," + HUGE_INT + b"\n", [], 1),
    "csv-header-only": ("a.csv", b"title,text\n", ["read/empty_file"], 0),
    # saved feeds
    "feed-surrogate-charref": ("a.rss", FEED_HEAD + _item(b"ok", b"fine") + _item(b"a &#xD800; b", b"x") + FEED_TAIL,
                               ["parse/invalid_unicode"], 0),
    "feed-deep": ("a.rss", FEED_HEAD + _item(b"ok", b"<x>" * 20_000 + b"fine") + FEED_TAIL, [], 1),
    "feed-nul": ("a.rss", b"\x00" * 64, ["parse/not_a_feed"], 0),
    "feed-huge-number": ("a.rss", FEED_HEAD + _item(HUGE_INT, b"fine") + FEED_TAIL, [], 1),
    # gzip
    "gzip-truncated": ("a.jsonl.gz", gzip.compress(GOOD + GOOD2 + _line({"text": _words(3, 5000)}))[:-3000],
                       ["read/corrupt_compression"], 2),
    "gzip-truncated-whole": ("a.json.gz", gzip.compress(b"[" + GOOD + b"," + _line({"text": _words(4, 5000)}) + b"]")[:-500],
                             ["read/corrupt_compression"], 0),
    "gzip-not-gzip": ("a.txt.gz", b"plain text, not gzip", ["read/corrupt_compression"], 0),
    "gzip-deep": ("a.json.gz", gzip.compress(b"[" * DEEP), ["parse/too_deep"], 0),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_reader_turns_hostile_input_into_rejections(case):
    name, data, codes, kept = CASES[case]
    items = _read(name, data)
    assert _codes(items) == codes
    assert len(_records(items)) == kept
    for item in items:
        if isinstance(item, Rejection):
            assert reasons.is_known(item.stage, item.reason)
            assert item.message
            assert item.input_format


@pytest.mark.parametrize("case", sorted(CASES))
def test_kept_records_normalise_or_are_rejected_without_raising(case):
    """What the readers keep goes through the normaliser's Beam step without an exception
    escaping, and nothing kept holds a character that UTF-8 (Parquet) cannot store."""
    name, data, _, _ = CASES[case]
    fn = NormalizeArticleFn()
    fn.setup()
    for record in _records(_read(name, data)):
        for out in fn.process(record):
            if hasattr(out, "tag"):
                assert reasons.is_known(out.value.stage, out.value.reason)
            else:
                for value in out.values():
                    if isinstance(value, str):
                        value.encode("utf-8")


def test_jsonl_records_before_a_crash_are_kept_and_the_crash_is_one_row(monkeypatch):
    """An exception no reader foresaw: the records before it stand, the rest is one row."""

    def explode(path, fmt, line, position):
        if position == 2:
            raise MemoryError("boom")
        return RawRecord(path, fmt, {"text": "x"}, position, line)

    monkeypatch.setattr(files, "_parse_json_record", explode)
    items = _read("a.jsonl", GOOD + GOOD2 + GOOD)
    assert [type(i).__name__ for i in items] == ["RawRecord", "Rejection"]
    assert (items[1].stage, items[1].reason, items[1].position) == ("read", "internal_error", 2)
    assert "MemoryError: boom" in items[1].message


def test_one_oversized_jsonl_line_is_one_row(monkeypatch):
    monkeypatch.setattr(files, "MAX_LINE_BYTES", 100)
    assert _codes(_read("a.jsonl", b"x" * 1000 + b"\n")) == ["parse/line_too_long"]
    items = _read("a.jsonl", _line({"text": "short"}) + b'{"text": "' + b"y" * 500 + b'"}\n' + _line({"text": "short too"}))
    assert _codes(items) == ["parse/line_too_long"]
    assert [r.position for r in _records(items)] == [1, 3]


@pytest.mark.parametrize("truncate_at", [5, 20, 40])
def test_gzip_damaged_before_the_first_line_is_one_row(truncate_at):
    assert _codes(_read("a.jsonl.gz", gzip.compress(_line({"text": _words(9, 500)}))[:truncate_at])) == [
        "read/corrupt_compression"]


# ---- gzip bomb -------------------------------------------------------------------------------


def _bomb_lines(line_bytes: int, n: int) -> tuple[bytes, int]:
    """A JSONL text of ``n`` identical lines of exactly ``line_bytes`` bytes (compresses ~500:1)."""
    line = _line({"text": ("news " * line_bytes)[: line_bytes - len(_line({"text": "x"}))] + "x"})
    assert len(line) == line_bytes
    return line * n, len(line)


@pytest.mark.parametrize("cap", [1_000_000, 1_048_576, 777_777, 20_000 * 50])
def test_gzip_bomb_is_cut_at_the_cap_and_lines_before_it_kept(cap):
    data, line_len = _bomb_lines(20_000, 200)  # 4 MB inflated
    packed = gzip.compress(data)
    assert len(data) > 100 * len(packed)
    items = _read("bomb.jsonl.gz", packed, max_decompressed_bytes=cap)
    records = _records(items)
    assert len(records) == cap // line_len  # every line that ends within the cap
    assert [r.position for r in records] == list(range(1, len(records) + 1))
    assert _codes(items) == ["read/too_large"]
    assert items[-1].position == len(records) + 1
    assert "--max-decompressed-bytes" in items[-1].message


def test_gzip_exactly_at_the_cap_is_read_whole():
    data, line_len = _bomb_lines(1_000, 10)
    items = _read("a.jsonl.gz", gzip.compress(data), max_decompressed_bytes=len(data))
    assert _codes(items) == [] and len(_records(items)) == 10
    assert _codes(_read("a.jsonl.gz", gzip.compress(data), max_decompressed_bytes=len(data) - 1)) == ["read/too_large"]


def test_gzip_bomb_in_a_whole_file_format_is_one_row():
    data, _ = _bomb_lines(20_000, 200)
    items = _read("bomb.txt.gz", gzip.compress(data), max_decompressed_bytes=1_000_000)
    assert _codes(items) == ["read/too_large"]
    assert items[0].payload == data[: files.PAYLOAD_HEAD_BYTES]


def test_gzip_ratio_limit_stops_a_bomb_under_the_byte_cap():
    data, _ = _bomb_lines(20_000, 200)
    stream = open_decompressed(io.BytesIO(gzip.compress(data)), "bomb.jsonl.gz", max_decompressed_bytes=len(data) * 2,
                               max_ratio=100, ratio_floor=256 * 1024)
    with pytest.raises(files.DecompressedTooLarge, match="100:1"):
        while stream.read(64 * 1024):
            pass
    # an ordinary compressible file (under 100:1) is read whole under the same limits
    text = _words(5, 200_000).encode()
    stream = open_decompressed(io.BytesIO(gzip.compress(text)), "a.txt.gz", max_ratio=100, ratio_floor=256 * 1024)
    assert stream.read() == text


def test_max_decompressed_bytes_is_an_option():
    from pipeline.options import NewsbeamOptions

    assert NewsbeamOptions([]).max_decompressed_bytes == 1024 ** 3
    assert NewsbeamOptions(["--max-decompressed-bytes", "5"]).max_decompressed_bytes == 5
    assert "--max-decompressed-bytes" in (ROOT / "README.md").read_text(encoding="utf-8")


# ---- byte-order marks ----------------------------------------------------------------------

BOMS = {
    "utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE,
    "utf-32-le": codecs.BOM_UTF32_LE, "utf-32-be": codecs.BOM_UTF32_BE, "utf-8": codecs.BOM_UTF8,
}
BODY = "Prices rise in London\n\nThe pound fell to £1.05 as prices rose again in the capital, officials said on Monday."


@pytest.mark.parametrize("encoding", sorted(BOMS))
@pytest.mark.parametrize("ext", [".txt", ".html"])
def test_text_with_a_byte_order_mark_is_read_and_decoded(encoding, ext, normalizer):
    body = BODY if ext == ".txt" else "<html><head><title>Prices rise in London</title></head><body><article><p>" + BODY.split("\n\n")[1] + "</p></article></body></html>"
    items = _read("a" + ext, BOMS[encoding] + body.encode(encoding))
    assert _codes(items) == []
    article = normalizer.normalize(_records(items)[0], NOW)
    assert article["title"] == "Prices rise in London"
    assert "£1.05" in article["text"]


@pytest.mark.parametrize("encoding", sorted(BOMS))
@pytest.mark.parametrize("name", ["a.jsonl", "a.json", "a.csv", "no-extension"])
def test_record_formats_with_a_byte_order_mark(encoding, name, normalizer):
    rows = [{"title": "Pound falls", "text": "The pound fell to £1.05."}, {"title": "Two", "text": "Second record text."}]
    if name == "a.csv":
        text = "title,text\r\n" + "".join(f"{r['title']},{r['text']}\r\n" for r in rows)
    elif name == "a.json":
        text = json.dumps(rows, ensure_ascii=False)
    else:
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    items = _read(name, BOMS[encoding] + text.encode(encoding))
    assert _codes(items) == []
    assert [r.payload["text"] for r in _records(items)] == [r["text"] for r in rows]
    assert "£1.05" in normalizer.normalize(_records(items)[0], NOW)["text"]


def test_nul_bytes_without_a_bom_are_still_binary():
    assert _codes(_read("a.txt", "Headline\n\nBody".encode("utf-16-le"))) == ["decode/binary"]


# ---- the job over good and hostile files -------------------------------------------------------


def test_job_over_good_and_hostile_files_writes_every_good_record(tmp_path):
    from pipeline.job import run_job

    src = tmp_path / "in"
    src.mkdir()
    good = {
        "good-1.txt": (f"Good text one\n\n{_words(11)}").encode(),
        "good-2.jsonl": GOOD + GOOD2,
        "good-3.csv": ("title,text\nGood csv," + _words(12) + "\n").encode(),
        "good-4.txt": codecs.BOM_UTF16_LE + f"Good UTF-16 text\n\n{_words(13)}".encode("utf-16-le"),
    }
    hostile_jsonl = _line({"title": "mixed good", "text": _words(14)}) + b"[" * DEEP + b"\n" + SURROGATE
    data, line_len = _bomb_lines(20_000, 200)
    hostile = {
        "deep.json": (b"[" * DEEP, ["parse/too_deep"]),
        "mixed.jsonl": (hostile_jsonl, ["parse/too_deep", "parse/invalid_unicode"]),
        "number.json": (b'[{"text": ' + HUGE_INT + b"}]", ["parse/malformed_json"]),
        "field.csv": (b'title,text\nbig,"' + b"x" * 200_000 + b'"\n', ["parse/csv_error"]),
        "nul.txt": (b"Headline\n\nBody\x00", ["decode/binary"]),
        "cut.jsonl.gz": (gzip.compress(_line({"text": _words(15, 5000)}))[:-2000], ["read/corrupt_compression"]),
        "bomb.jsonl.gz": (gzip.compress(data), ["read/too_large"]),
        "charref.rss": (FEED_HEAD + _item(b"a &#xD800; b", b"x") + FEED_TAIL, ["parse/invalid_unicode"]),
    }
    for name, content in good.items():
        (src / name).write_bytes(content)
    for name, (content, _) in hostile.items():
        (src / name).write_bytes(content)
    out = tmp_path / "out"
    cap = 1_000_000
    summary = run_job(["--input", f"{src}/*", "--output", str(out), "--no-tagging", "--no-near-dedup",
                       "--max-decompressed-bytes", str(cap)])
    assert summary.balanced
    con = duckdb.connect()
    rejected = sorted(con.execute(
        f"SELECT regexp_extract(input_uri, '[^/]+$'), stage || '/' || reason FROM read_parquet('{out}/rejected/**/*.parquet')"
    ).fetchall())
    expected = sorted((name, code) for name, (_, codes) in hostile.items() for code in codes)
    assert rejected == expected
    articles = con.execute(
        f"SELECT regexp_extract(input_uri, '[^/]+$') AS f, count(*) FROM read_parquet('{out}/articles/**/*.parquet') GROUP BY f"
    ).fetchall()
    bomb_lines = cap // line_len  # the bomb's lines before the cap are articles (one text: the rest are duplicates)
    assert dict(articles) == {"good-1.txt": 1, "good-2.jsonl": 2, "good-3.csv": 1, "good-4.txt": 1, "mixed.jsonl": 1,
                              "bomb.jsonl.gz": 1}
    duplicates = con.execute(f"SELECT count(*) FROM read_parquet('{out}/duplicates/**/*.parquet')").fetchone()[0]
    assert duplicates == bomb_lines - 1


# ---- the reason codes: one list ----------------------------------------------------------------

PIPELINE = ROOT / "pipeline"


def _calls_with_literal_codes(tree: ast.AST) -> list[str]:
    """Rejections raised with a literal stage or reason, and literal codes stored as errors."""
    found = []

    def literal(node) -> bool:
        return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            positions = {"Rejection": (1, 2), "RejectError": (0, 1)}.get(name, ())
            args, index = [], 0
            for arg in node.args:  # a starred argument is a Reason: two positions
                if isinstance(arg, ast.Starred):
                    index += 2
                    continue
                if index in positions:
                    args.append(arg)
                index += 1
            args += [k.value for k in node.keywords if k.arg in ("stage", "reason", "error", "empty_reason")]
            if any(literal(a) for a in args):
                found.append(f"line {node.lineno}: {ast.unparse(node)[:80]}")
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names, values = ([target], [node.value])
                if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    names, values = target.elts, node.value.elts
                for t, v in zip(names, values):
                    code_slot = (isinstance(t, ast.Attribute) and t.attr in ("error", "reason")) or (
                        isinstance(t, ast.Name) and t.id in ("reason", "code"))
                    if code_slot and literal(v):
                        found.append(f"line {node.lineno}: {ast.unparse(node)[:80]}")
    return found


def test_rejections_are_raised_with_the_registry_constants_only():
    offenders = {}
    for path in sorted(PIPELINE.rglob("*.py")):
        if path.name == "reasons.py":
            continue
        found = _calls_with_literal_codes(ast.parse(path.read_text(encoding="utf-8")))
        if found:
            offenders[str(path.relative_to(ROOT))] = found
    assert offenders == {}, "use the constants of pipeline/reasons.py"


def test_the_literal_check_catches_literals():
    tree = ast.parse('Rejection(u, "read", "x", m)\nRejectError("a", reason, m)\nr.error, r.message = "t", m\n'
                     'Rejection(u, *reasons.READ_TOO_LARGE, m)\nf(empty_reason="no_text")')
    assert len(_calls_with_literal_codes(tree)) == 4


def test_every_referenced_code_is_registered():
    """Every ``reasons.X`` the code base names is a listed code (or a stage / the helper)."""
    names = set()
    for path in PIPELINE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and getattr(node.value, "id", None) == "reasons":
                names.add(node.attr)
    helpers = {"Reason", "http_status", "is_known", "MEANINGS", "CODES", "STAGES", *map(str.upper, reasons.STAGES)}
    for name in names - helpers:
        assert getattr(reasons, name) in reasons.MEANINGS, name


def test_registry_is_complete_and_consistent():
    constants = {v for k, v in vars(reasons).items() if isinstance(v, reasons.Reason) and k.isupper()}
    assert constants == set(reasons.MEANINGS)
    assert len(set(reasons.CODES)) == len(reasons.CODES)
    for code, meaning in reasons.MEANINGS.items():
        assert code.stage in reasons.STAGES and re.fullmatch(r"[a-z0-9_<>]+", code.reason), code
        assert meaning and "\n" not in meaning
    assert reasons.is_known("fetch", "http_404") and not reasons.is_known("read", "http_404")
    # codes users query stay as they were
    assert {"match/no_files_matched", "read/empty_file", "read/corrupt_compression", "read/too_large", "decode/binary",
            "parse/malformed_json", "parse/line_too_long", "normalize/missing_field", "normalize/no_text",
            "fetch/timeout", "parse/empty_body"} <= set(reasons.CODES)


def _readme_codes() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("| stage / reason | when |", 1)[1].split("\n\n", 1)[0]
    return {code for cell in (line.split("|")[1] for line in table.splitlines()[2:]) for code in re.findall(r"`([^`]+)`", cell)}


def test_readme_table_lists_exactly_the_registered_codes():
    assert _readme_codes() == set(reasons.CODES)


def test_rejected_schema_documents_every_code():
    from schemas.models import RejectedRecord

    exported = json.loads((ROOT / "schemas" / "json" / "rejected.schema.json").read_text(encoding="utf-8"))
    for doc in (RejectedRecord.model_fields["reason"].description, exported["properties"]["reason"]["description"]):
        for code in reasons.CODES:
            assert code in doc
    for stage in reasons.STAGES:
        assert stage in exported["properties"]["stage"]["description"]


def _random_json(rng: random.Random, depth: int) -> str:
    kind = rng.choice(["str", "num", "list", "dict"] if depth < 80 else ["str", "num"])
    if kind == "str":
        return '"' + "".join(rng.choice(["a", "\\u00e9", "\\ud800", "\\ud83d\\ude00", "\\uDFFF", "£", "\\\\u"])
                             for _ in range(rng.randrange(4))) + '"'
    if kind == "num":
        return str(rng.randrange(10 ** 6))
    children = [_random_json(rng, depth + 1) for _ in range(rng.randrange(3) if rng.random() < 0.6 else 1)]
    if kind == "list":
        return "[" + ",".join(children) + "]"
    return "{" + ",".join(f'"k{i}":{c}' for i, c in enumerate(children)) + "}"


@pytest.mark.parametrize("seed", range(200))
def test_the_cheap_precheck_never_misses_a_problem(seed):
    """``_may_be_hostile`` lets records skip the full walk: it must be true whenever the walk finds
    a problem (property over random nested JSON with surrogate escapes)."""
    rng = random.Random(seed)
    wrap = rng.choice([0, 10, 60, 61, 62, 63, 64])  # around the 64-level limit
    value = "[" * wrap + _random_json(rng, 1) + "]" * wrap
    raw = ("{" + f'"v":{value}' + "}").encode("utf-8")
    problem = files._json_problem(json.loads(raw))
    if problem:
        assert files._may_be_hostile(raw)
    item = _parse(raw)
    assert isinstance(item, Rejection) == (problem is not None)


def _parse(raw: bytes):
    return files._parse_json_record("a.jsonl", "jsonl", raw, 1)


def test_the_feed_parser_raising_is_a_rejection_not_a_crash():
    """feedparser raises on a character reference to a lone surrogate; live fetches and saved feeds
    share parse_feed_bytes, so neither stops the run."""
    from pipeline.sources.feeds import parse_feed_bytes

    data = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
            b"<item><title>ok</title><link>https://x.example/1</link><description>fine</description></item>"
            b"<item><title>bad &#xD800;</title><link>https://x.example/2</link></item></channel></rss>")
    items = list(parse_feed_bytes("https://x.example/feed", data))
    assert all(isinstance(item, (Rejection, RawRecord)) for item in items) and items


def test_a_huge_number_as_a_date_is_no_date():
    from pipeline.normalize.dates import to_utc

    assert to_utc(int("9" * 4000)) is None
