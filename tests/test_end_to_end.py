"""The whole job on the DirectRunner, read back with DuckDB."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from conftest import EXAMPLES, SEEDS
from pipeline.cli import main
from pipeline.job import run_job
from schemas import dataset_schema
from schemas.models import SCHEMA_VERSION


def _inputs(root: Path) -> Path:
    """Seeds, examples and one bad input of each kind."""
    src = root / "in"
    shutil.copytree(SEEDS, src)
    bad = src / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_bytes(b"")
    (bad / "junk.txt").write_bytes(bytes((i * 37 + 11) % 256 for i in range(100_000)))  # > 64 KiB payload cap
    whole = gzip.compress(b"Headline\n\n" + b" ".join(b"w%d" % (j * 7919 % 10007) for j in range(3000)))
    (bad / "cut.txt.gz").write_bytes(whole[: len(whole) // 2])  # truncated gzip
    (bad / "nohead.csv").write_bytes(b"Some headline,Some body,http://x.example/a\n")
    (bad / "nav.html").write_bytes(b"<html><body><nav><a href='/'>Home</a></nav></body></html>")
    (bad / "page.rss").write_bytes(b"<html><body><p>not a feed</p></body></html>")
    # An exact copy of seed 000 under a name that sorts after it: a duplicate, not a second article.
    (src / "zz-copy-of-000.txt").write_bytes(next(SEEDS.glob("000_*.txt")).read_bytes())
    return src


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    src = _inputs(root)
    out = root / "out"
    summary = run_job(["--input", f"{src}/**", "--input", f"{root}/nothing-here/*.txt", "--output", str(out)])
    return src, out, summary


def _con(out: Path):
    con = duckdb.connect()
    for ds in ("articles", "duplicates", "rejected"):
        con.execute(f"CREATE VIEW {ds} AS SELECT * FROM read_parquet('{out}/{ds}/**/*.parquet', hive_partitioning = true)")
    return con


def test_every_record_ends_in_exactly_one_place(run):
    _, out, summary = run
    con = _con(out)
    counts = {ds: con.execute(f"SELECT count(*) FROM {ds}").fetchone()[0] for ds in ("articles", "duplicates", "rejected")}
    assert summary.balanced
    assert summary.written("articles") == counts["articles"] == 13
    assert summary.written("duplicates") == counts["duplicates"] == 3
    assert summary.written("rejected") == counts["rejected"]
    assert summary.records_read == sum(counts.values())


def test_rejections_have_reasons_positions_and_capped_payloads(run):
    _, out, summary = run
    con = _con(out)
    rows = con.execute("SELECT stage, reason, input_uri, position, payload_size, octet_length(payload), payload_truncated FROM rejected").fetchall()
    reasons = {(r[0], r[1]) for r in rows}
    assert reasons >= {
        ("match", "no_files_matched"), ("read", "empty_file"), ("decode", "binary"), ("read", "corrupt_compression"),
        ("parse", "csv_no_header"), ("normalize", "no_text"), ("parse", "not_a_feed"), ("parse", "malformed_json"),
        ("normalize", "missing_field"),
    }
    junk = next(r for r in rows if r[2].endswith("junk.txt"))
    assert junk[4] == 100_000 and junk[5] == 65536 and junk[6] is True
    assert next(r for r in rows if r[1] == "malformed_json")[3] == 3
    assert summary.by_prefix("rejected/")["decode/binary"] == 1


def test_seed_001_is_dated_and_partitioned(run):
    _, out, _ = run
    con = _con(out)
    row = con.execute("SELECT published_date, source, date_source FROM articles WHERE input_uri LIKE '%001_65721658cb35620f.txt'").fetchone()
    assert str(row[0]) == "2021-08-16" and "Sputnik" in row[1] and row[2] == "metadata"
    assert (out / "articles" / "published_date=2021-08-16").is_dir()
    undated = con.execute("SELECT count(*) FROM articles WHERE published_date IS NULL").fetchone()[0]
    assert undated == con.execute("SELECT count(*) FROM articles WHERE published_at IS NULL").fetchone()[0] == 2


def test_duplicates_point_at_kept_articles(run):
    _, out, _ = run
    con = _con(out)
    rows = con.execute("SELECT d.input_uri, d.kind, d.matched_on, a.input_uri FROM duplicates d JOIN articles a ON a.article_id = d.duplicate_of").fetchall()
    assert len(rows) == 3
    copy = next(r for r in rows if r[0].endswith("zz-copy-of-000.txt"))
    assert copy[1:3] == ("exact", "text") and copy[3].endswith("000_d1e59c92c5326c01.txt")
    kept = con.execute("SELECT duplicate_count, cluster_id = article_id FROM articles WHERE input_uri LIKE '%/000_d1e59c92c5326c01.txt'").fetchone()
    assert kept == (1, True)


def test_tag_columns_read_back_with_duckdb(run):
    _, out, _ = run
    con = _con(out)
    seeds = "input_uri SIMILAR TO '.*/[0-9]{3}_[0-9a-f]+\\.txt'"
    assert con.execute(f"SELECT count(*) FROM articles WHERE {seeds}").fetchone()[0] == 3
    assert con.execute(f"SELECT count(*) FROM articles WHERE {seeds} AND language = 'en' "
                       "AND list_contains(tags, 'lang:en') AND list_contains(tags, 'topic:medtop:11000000')").fetchone()[0] == 3
    kabul = con.execute(
        "SELECT p.geonames_id, p.country_code, round(p.lat), round(p.lon) "
        "FROM (SELECT unnest(places) AS p FROM articles) WHERE p.name = 'Kabul' LIMIT 1").fetchone()
    assert kabul == (1138958, "AF", 35.0, 69.0)
    afghan = con.execute("SELECT count(*) FROM articles WHERE list_contains(tags, 'place:AF')").fetchone()[0]
    assert afghan >= 3
    people = con.execute("SELECT persons, entities_source, len(keywords) FROM articles "
                         "WHERE input_uri LIKE '%/000_d1e59c92c5326c01.txt'").fetchone()
    assert {"Boris Johnson", "Joe Biden"} <= set(people[0]) and people[1] == "rules" and 1 <= people[2] <= 10
    topics = con.execute("SELECT t.code, t.label, t.score FROM (SELECT unnest(topics) AS t FROM articles) LIMIT 1").fetchone()
    assert topics[0].startswith("medtop:") and topics[1] and 0 < topics[2] <= 1


def test_files_are_complete_zstd_and_match_the_contract(run):
    _, out, _ = run
    files = list(out.rglob("*.parquet"))
    assert files and not list(out.rglob("*.inprogress"))
    folders = {"articles": "articles", "duplicates": "duplicates", "rejected": "rejected", "records": "index",
               "pages": "pages"}  # saved feeds in the seeds: their links are tried (and refused: reserved names)
    for f in files:
        parts = f.relative_to(out).parts
        dataset = folders[parts[1] if parts[0] == "_index" else parts[0]]
        meta = pq.ParquetFile(f)
        assert meta.schema_arrow.remove_metadata() == dataset_schema(dataset).remove_metadata()
        assert meta.schema_arrow.metadata[b"newsbeam.schema_version"] == SCHEMA_VERSION.encode()
        assert meta.metadata.row_group(0).column(0).compression == "ZSTD"


def test_manifest_written(run):
    _, out, summary = run
    manifest = Path(summary.manifest)
    assert manifest.parent == out / "_manifests" and manifest.exists()
    text = manifest.read_text()
    assert '"records_read"' in text and '"apache-beam"' in text


def test_rerun_adds_no_rows_and_reports_everything_as_already_written(run, tmp_path):
    src, out, first = run
    before = sorted(p.relative_to(out) for p in out.rglob("*.parquet") if p.parts[len(out.parts)] != "rejected")
    again = run_job(["--input", f"{src}/**", "--output", str(out)])
    after = sorted(p.relative_to(out) for p in out.rglob("*.parquet") if p.parts[len(out.parts)] != "rejected")
    con = _con(out)
    assert con.execute("SELECT count(*), count(DISTINCT article_id) FROM articles").fetchone() == (13, 13)
    assert con.execute("SELECT count(*) FROM duplicates").fetchone()[0] == 3
    assert again.written("articles") == again.written("duplicates") == 0
    assert again.already_written == first.written("articles") + first.written("duplicates")
    assert again.balanced
    assert after == before  # no new article, duplicate or index file


def test_cli_query(run, capsys):
    _, out, _ = run
    assert main(["query", "--output", str(out), "--format", "csv", "SELECT count(*) AS n FROM articles"]) == 0
    assert capsys.readouterr().out.strip().splitlines() == ["n", "13"]
    assert main(["query", "--output", str(out), "SELECT nope FROM articles"]) == 1


def test_cli_run_prints_summary(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", "--input", str(EXAMPLES / "*.rss"), "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "records read" in printed and "articles written           2" in printed and "[ok]" in printed
    assert main(["run", "--output", str(out)]) == 2


def test_small_files_every_row_readable(tmp_path):
    """--rows-per-file splits partitions into several files; each row is readable exactly once."""
    out = tmp_path / "out"
    summary = run_job(["--input", str(EXAMPLES / "*"), "--output", str(out), "--rows-per-file", "1"])
    files = list((out / "articles").rglob("*.parquet"))
    con = _con(out)
    assert len(files) == summary.written("articles") == summary.counters["files_written/articles"]
    assert con.execute("SELECT count(DISTINCT article_id), count(*) FROM articles").fetchone() == (len(files), len(files))
    assert not (out / "_temporary").exists()
